"""The exercises of every chapter follow the course's design.

For each ``{exercise}`` block of a notebook in ``book/``:

* its label is registered in :mod:`conv1x1.exercises`, in the module named
  after the notebook, and every registered exercise appears in exactly one
  notebook, its own;
* the code cell right after it is exactly ``show("<label>")``, tagged
  ``remove-input``, so no expected value, reference or hint is in sight (a
  ``function`` exercise may first have a stub cell that defines the function
  and checks nothing);
* a ``{solution-start} <label>`` ... ``{solution-end}`` block follows, folded
  in the HTML book, with a code cell that runs ``check("<label>", ...)``.
  In JupyterLab it stays folded after Run All: its code cells have
  jupyter.source_hidden and jupyter.outputs_hidden and print nothing
  (JupyterLab shows a cell's output once it runs, whatever outputs_hidden
  says); its markdown cells are each one folded block, an admonition with
  ``:class: dropdown`` (JupyterLab opens a markdown cell with source_hidden
  when it runs it); and no first line, which JupyterLab shows on a collapsed
  cell, gives an answer away;
* no code cell outside a solution calls a checker or builds a widget by hand;
* a chapter has three exercises or more, at most half of them arithmetic;
* Run All is safe: no solution code binds a name the chapter's own cells bind
  or an exercise's function name, nor passes the learner's names to check()
  or asserts on them (cells parsed with ``ast``); reference answers are
  ``solution_<name>``, buggy copies ``buggy_<name>``, and every solution code
  cell starts with ``# Worked solution (expand to read).``;
* a find-the-bug exercise has its buggy code in a code cell above its widget;
* no line of a formula starts with ``+`` or ``-`` (Markdown would read a
  list item);
* the chapter is stored as ``scripts/normalize_notebooks.py`` writes it: the
  metadata JupyterLab sets when the kernel starts (else the chapter opens
  as modified), and each solution folded under one collapsed heading.
"""

import ast
import copy
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conv1x1.exercises import all_exercises

from conftest import load_file

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))

#: Chapters allowed fewer than three exercises, with the reason. Every name
#: must be a notebook in book/ (checked below).
FEWER_EXERCISES: dict[str, str] = {}

EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}[^\n]*\n(?:[ \t]*\n)*((?::[\w-]+:[^\n]*\n)*)",
                      re.M)
LABEL = re.compile(r"^:label:\s*(\S+)\s*$", re.M)
SOLUTION_START = re.compile(r"\{solution-start\}[ \t]+(\S+)")
SOLUTION_END = re.compile(r"\{solution-end\}")
CHECK_CALL = re.compile(r"(?<![\w.])check\s*\(")
#: The checkers and widget builders a chapter must not call in sight: they need
#: the expected answer as an argument.
BY_HAND = re.compile(r"\b(check_number|check_shape|check_choice|check_array|check_function|"
                     r"answer_widget|choice_widget|function_widget|exercise_widget)\b")


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


@dataclass
class Found:
    """One exercise as it appears in a notebook."""

    label: str
    index: int                       # the cell of the {exercise} block
    following: list = field(default_factory=list)   # (index, cell) up to the show cell
    solution: list = field(default_factory=list)    # code cells inside its solution
    solution_start: int | None = None
    solution_markdown: str = ""


def read(path):
    return json.loads(path.read_text())["cells"]


def exercises_in(path):
    """The exercises of a notebook and the problems found while reading it."""
    cells = read(path)
    found, problems = {}, []
    inside = None          # the label whose solution block we are in
    for index, cell in enumerate(cells):
        text = source(cell)
        if cell["cell_type"] == "markdown":
            for match in EXERCISE.finditer(text):
                labels = LABEL.findall(match.group(2))
                if len(labels) != 1:
                    problems.append(f"cell {index}: an exercise block without one :label:")
                    continue
                label = labels[0]
                if label in found:
                    problems.append(f"cell {index}: exercise {label} appears twice")
                found[label] = Found(label, index)
            starts = SOLUTION_START.findall(text)
            ends = SOLUTION_END.findall(text)
            for label in starts:
                if inside is not None:
                    problems.append(f"cell {index}: solution of {label} starts inside the "
                                    f"solution of {inside}")
                if label not in found:
                    problems.append(f"cell {index}: solution of {label} comes before (or "
                                    "without) its exercise")
                    inside = label
                    continue
                if found[label].solution_start is not None:
                    problems.append(f"cell {index}: a second solution of {label}")
                found[label].solution_start = index
                found[label].solution_markdown = text
                inside = label
            if ends:
                if inside is None:
                    problems.append(f"cell {index}: solution-end without a solution-start")
                inside = None
            elif not starts and inside is not None and inside in found:
                found[inside].solution.append((index, cell))
        elif inside is not None and inside in found:
            found[inside].solution.append((index, cell))
        elif cell["cell_type"] == "code":
            if CHECK_CALL.search(text):
                problems.append(f"cell {index}: check(...) outside a solution shows the "
                                "answer: move it into the solution block")
            if BY_HAND.search(text):
                problems.append(f"cell {index}: a checker or widget built in the notebook "
                                f"({BY_HAND.search(text).group(1)}) puts the answer in "
                                "sight: register the exercise in conv1x1.exercises and "
                                "use show(label)")
    if inside is not None:
        problems.append(f"the solution of {inside} has no solution-end")
    for item in found.values():
        item.following = [(i, cells[i]) for i in range(item.index + 1,
                                                        min(item.index + 3, len(cells)))]
    return found, problems


CHAPTERS = {path.stem: exercises_in(path) for path in NOTEBOOKS}
REGISTERED = all_exercises()


def chapter_labels(stem):
    module = importlib.import_module(f"conv1x1.exercises.{stem}")
    return [exercise.label for exercise in getattr(module, "EXERCISES", ())]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_exercise_markup_is_well_formed(path):
    _, problems = CHAPTERS[path.stem]
    assert problems == [], f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_is_registered_in_its_chapters_module(path):
    found, _ = CHAPTERS[path.stem]
    prefix = path.stem.replace("_", "-") + "-ex-"
    for label in found:
        assert label.startswith(prefix), f"{path.name}: {label} should start with {prefix}"
        assert label in REGISTERED, f"{path.name}: {label} is not in conv1x1.exercises"
    assert (ROOT / "src" / "conv1x1" / "exercises" / f"{path.stem}.py").exists(), (
        f"{path.name} has no module src/conv1x1/exercises/{path.stem}.py")
    assert sorted(found) == sorted(chapter_labels(path.stem)), (
        f"{path.name}: the notebook's exercises and conv1x1.exercises.{path.stem}'s differ")


def test_every_registered_exercise_appears_in_exactly_one_notebook():
    where = {}
    for stem, (found, _) in CHAPTERS.items():
        for label in found:
            where.setdefault(label, []).append(stem)
    for label in REGISTERED:
        assert len(where.get(label, [])) == 1, f"{label} appears in {where.get(label, [])}"


def show_cell_problems(name, found, registered):
    """What is wrong with the cells right under each exercise."""
    problems = []
    for label, item in found.items():
        exercise = registered.get(label)
        cells = list(item.following)
        if not cells:
            problems.append(f"{name}: nothing after exercise {label}")
            continue
        index, cell = cells[0]
        if (exercise is not None and exercise.widget == "function"
                and cell["cell_type"] == "code"
                and source(cell).strip() != f'show("{label}")'):
            stub = source(cell)
            if not re.search(rf"^def {exercise.function_name}\(", stub, re.M):
                problems.append(f"{name} cell {index}: the stub under {label} should "
                                f"define {exercise.function_name}")
            if CHECK_CALL.search(stub) or "show(" in stub:
                problems.append(f"{name} cell {index}: the stub under {label} must not "
                                "check anything")
            if len(cells) < 2:
                problems.append(f"{name}: no show cell after the stub of {label}")
                continue
            index, cell = cells[1]
        if cell["cell_type"] != "code" or source(cell).strip() != f'show("{label}")':
            problems.append(f"{name} cell {index}: the cell under exercise {label} must be "
                            f'the one line show("{label}"); it is:\n{source(cell)[:300]}')
        elif "remove-input" not in cell.get("metadata", {}).get("tags", []):
            problems.append(f"{name} cell {index}: the show cell of {label} needs the tag "
                            "remove-input")
    return problems


def output_problems(text):
    """Why a code cell would show output when run, or [] if it shows none.

    JupyterLab shows the output of a cell as soon as it runs, whatever its
    jupyter.outputs_hidden (running a cell sets it back to visible), so a
    solution's code must print nothing: it asserts.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        return [f"its code does not parse ({err.msg}, line {err.lineno})"]
    problems = []
    called = {getattr(node.func, "id", getattr(node.func, "attr", ""))
              for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for name in sorted(called & {"print", "display", "show", "imshow", "plot", "subplots"}):
        problems.append(f"it calls {name}(), which shows output")
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not text.rstrip().endswith(";"):
        problems.append("its last line is an expression, whose value is shown")
    return problems


def leaks(text, label, exercise):
    """Whether ``text`` gives away the answer to ``exercise``: the checker accepts
    the text, a bracketed part of it or a number of three digits or more in it, or
    the right option is in it."""
    if exercise is None:
        return False
    if exercise.widget == "choice":
        right = [o for o in exercise.options if exercise.check(o).correct]
        return any(len(o) > 3 and o in text for o in right)
    if exercise.widget != "text":
        return False
    numbers = re.findall(r"(?<![\w.])[-+]?\d+(?:[,_]\d{3})*(?:\.\d+)?"
                         r"(?:[eE][-+]?\d+)?(?!\w)", text)
    # Small numbers such as 2 or 0.5 occur everywhere; only distinctive ones count.
    candidates = {text.strip(), *re.findall(r"[(\[][^()\[\]]*[)\]]", text),
                  *(n for n in numbers if sum(c.isdigit() for c in n) >= 3)}
    return any(exercise.check(c).correct for c in candidates if c)


FOLD_OPEN = re.compile(r"\A(`{3,}|:{3,})\{(\w[\w-]*)\}[^\n]*\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)")


def folded(text):
    """Whether a markdown cell is one block that JupyterLab and the book show folded.

    Accepted: a directive with ``:class: dropdown`` (any admonition), a
    ``{dropdown}`` directive, or a ``<details>`` element, holding the whole cell.
    jupyterlab-myst renders each of them closed, and they stay closed after
    Run All (checked in JupyterLab 4.6), unlike jupyter.source_hidden, which
    JupyterLab drops when it runs a markdown cell.
    """
    text = text.strip()
    if text.startswith("<details") and text.endswith("</details>"):
        return text.count("<details") == 1
    opened = FOLD_OPEN.match(text + "\n")
    if not opened:
        return False
    fence, directive, options = opened.groups()
    if directive != "dropdown" and not re.search(r":class:[^\n]*\bdropdown\b", options):
        return False
    return text.endswith(fence) and text.count(fence) == 2


def solution_problems(name, found, registered=None):
    """What is wrong with each exercise's worked solution, by aspect.

    Returns a dict with three lists of problems: ``"runs"`` (no solution, not
    a dropdown, never runs its checker), ``"collapsed"`` (a cell that opens
    expanded in JupyterLab, or whose first line, which JupyterLab shows on the
    collapsed cell, gives an answer away) and ``"silent"`` (code that shows
    output when run).
    """
    registered = REGISTERED if registered is None else registered
    problems = {"runs": [], "collapsed": [], "silent": []}
    for label, item in found.items():
        if item.solution_start is None:
            problems["runs"].append(f"{name}: {label} has no solution block")
            continue
        if ":class: dropdown" not in item.solution_markdown:
            problems["runs"].append(f"{name}: the solution of {label} should be a dropdown "
                                    "(:class: dropdown) in the HTML book")
        runs = rf"(?<![\w.])check\(\s*[\"']{re.escape(label)}[\"']"
        if not any(cell["cell_type"] == "code" and re.search(runs, source(cell))
                   for _, cell in item.solution):
            problems["runs"].append(f'{name}: the solution of {label} never runs '
                                    f'check("{label}", ...)')
        for index, cell in item.solution:
            where = f"{name} cell {index} (solution of {label})"
            jupyter = cell.get("metadata", {}).get("jupyter", {})
            if cell["cell_type"] == "code":
                for key in ("source_hidden", "outputs_hidden"):
                    if jupyter.get(key) is not True:
                        problems["collapsed"].append(f"{where}: set metadata jupyter.{key} "
                                                     "to true")
            elif not folded(source(cell)):
                problems["collapsed"].append(
                    f"{where}: JupyterLab opens a markdown cell when it runs, whatever "
                    "jupyter.source_hidden says, so put the explanation in a folded block: "
                    "an admonition with :class: dropdown (e.g. :::{admonition} "
                    "Explanation / :class: dropdown / ... / :::)")
            lines = [line for line in source(cell).splitlines() if line.strip()]
            first = lines[0] if lines else ""
            for other in found:
                if leaks(first, other, registered.get(other)):
                    problems["collapsed"].append(
                        f"{where}: its first line, which JupyterLab shows on the "
                        f"collapsed cell, gives away {other}: {first!r}")
            if cell["cell_type"] == "code":
                for why in output_problems(source(cell)):
                    problems["silent"].append(
                        f"{where}: {why}; JupyterLab shows the output of a cell once it "
                        "runs, even with jupyter.outputs_hidden, so after Run All it "
                        "would appear under the exercise. Assert instead.")
    return problems


def all_solution_problems(name, found, registered=None):
    return [p for group in solution_problems(name, found, registered).values() for p in group]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_cell_under_an_exercise_only_shows_its_widget(path):
    found, _ = CHAPTERS[path.stem]
    assert found, f"{path.name} has no exercises"
    problems = show_cell_problems(path.name, found, REGISTERED)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_dropdown_solution_that_runs_its_checker(path):
    problems = solution_problems(path.name, CHAPTERS[path.stem][0])["runs"]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_solution_cell_opens_collapsed_in_jupyterlab(path):
    """Markdown and code, source and output; and its visible first line gives nothing away."""
    problems = solution_problems(path.name, CHAPTERS[path.stem][0])["collapsed"]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_code_shows_no_output(path):
    """JupyterLab unhides a cell's output when it runs: a solution asserts, it does not print."""
    problems = solution_problems(path.name, CHAPTERS[path.stem][0])["silent"]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_has_three_exercises_at_most_half_arithmetic(path):
    found, _ = CHAPTERS[path.stem]
    kinds = [REGISTERED[label].kind for label in found if label in REGISTERED]
    if path.stem not in FEWER_EXERCISES:
        assert len(found) >= 3, f"{path.name} has {len(found)} exercises"
    assert 2 * kinds.count("arithmetic") <= len(kinds), (
        f"{path.name}: {kinds.count('arithmetic')} of {len(kinds)} exercises are arithmetic")


def test_exemptions_name_chapters_that_exist():
    stems = {path.stem for path in NOTEBOOKS}
    assert set(FEWER_EXERCISES) <= stems, sorted(set(FEWER_EXERCISES) - stems)


def _markdown(text, **metadata):
    return {"cell_type": "markdown", "metadata": metadata, "source": text}


def _code(text, **metadata):
    return {"cell_type": "code", "metadata": metadata, "source": text, "outputs": [],
            "execution_count": None}


HIDDEN = {"source_hidden": True, "outputs_hidden": True}


def _demo(tmp_path, cells):
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    return exercises_in(path)


def _fake_registry():
    from conv1x1.exercises import Exercise, Result, check_number

    def never(answer):
        return Result(False, "")

    return {"demo-ex-a": Exercise("demo-ex-a", "arithmetic",
                                  lambda answer: check_number(answer, 3)),
            "demo-ex-f": Exercise("demo-ex-f", "design", never, widget="function",
                                  function_name="my_block")}


@pytest.mark.parametrize("text, expected", [
    (":::{admonition} Explanation\n:class: dropdown\n\nThe answer.\n:::", True),
    ("````{note}\n:class: tip dropdown\nThe answer.\n````", True),
    ("```{dropdown} Explanation\nThe answer.\n```", True),
    ("<details><summary>Why</summary>\n\nThe answer.\n\n</details>", True),
    (":::{admonition} Explanation\n\nThe answer.\n:::", False),
    (":::{admonition} Explanation\n:class: dropdown\nThe answer.\n:::\n\nMore answer.", False),
    ("The answer is 3.", False),
    ("Intro.\n\n:::{dropdown} Why\nThe answer.\n:::", False),
])
def test_folded_recognises_blocks_that_stay_closed(text, expected):
    assert folded(text) is expected


def test_a_chapter_that_follows_the_design_passes(tmp_path):
    found, problems = _demo(tmp_path, [
        _markdown("```{exercise}\n:label: demo-ex-a\n\nHow many?\n```"),
        _code('show("demo-ex-a")', tags=["remove-input"]),
        _markdown("````{solution-start} demo-ex-a\n:class: dropdown\n````"),
        _markdown(":::{admonition} Explanation\n:class: dropdown\n\nIt has the number 3.00.\n:::"),
        _code('answer = 1 + 2\nresult = check("demo-ex-a", answer)\nassert result.correct',
              jupyter=HIDDEN),
        _markdown("````{solution-end}\n````"),
        _markdown(":::{exercise}\n:label: demo-ex-f\n:nonumber:\n\nWrite my_block.\n:::"),
        _code("def my_block(x):\n    # your code here\n    raise NotImplementedError"),
        _code('show("demo-ex-f")', tags=["remove-input"]),
        _markdown("````{solution-start} demo-ex-f\n:class: dropdown\n````"),
        _code("def my_block(x):\n    return x", jupyter=HIDDEN),
        _code('assert check("demo-ex-f", my_block).correct', jupyter=HIDDEN),
        _markdown("````{solution-end}\n````"),
    ])
    assert problems == []
    assert sorted(found) == ["demo-ex-a", "demo-ex-f"]
    assert [i for i, _ in found["demo-ex-f"].solution] == [10, 11]
    assert show_cell_problems("demo", found, _fake_registry()) == []
    assert all_solution_problems("demo", found, _fake_registry()) == []


def test_the_checks_catch_an_answer_in_sight_and_open_solutions(tmp_path):
    found, problems = _demo(tmp_path, [
        _markdown("```{exercise}\n:label: demo-ex-a\n\nHow many?\n```"),
        _code('show("demo-ex-a")'),                                     # no remove-input
        _markdown("````{solution-start} demo-ex-a\n````"),              # no dropdown
        _code('print(check("demo-ex-a", 3).message)',
              jupyter={"source_hidden": True}),                          # output open
        _code("answer = 3.00\nanswer"),                                # source open
        _markdown("The answer is 3.00, since ..."),                      # open, leaks
        _markdown("````{solution-end}\n````"),
        _code("check_a = partial(exercises.check_number, expected=3)"),  # by hand
        _markdown("```{exercise}\n:label: demo-ex-f\n\nWrite my_block.\n```"),
        _code("def my_block(x):\n    return check('demo-ex-f', x)"),    # stub checks
        _code('show("demo-ex-f")\nhint = "use 3"', tags=["remove-input"]),
        _code('print(check("demo-ex-f", my_block))'),                    # check in sight
        _markdown("````{solution-start} demo-ex-f\n:class: dropdown\n````"),
        _code("print(1)", jupyter=HIDDEN),                               # never checks
    ])
    assert any("check_number" in p for p in problems)
    assert any("cell 11: check(...) outside a solution" in p for p in problems)
    assert any("demo-ex-f has no solution-end" in p for p in problems)
    shown = "\n".join(show_cell_problems("demo", found, _fake_registry()))
    assert "show cell of demo-ex-a needs the tag remove-input" in shown
    assert "stub under demo-ex-f must not check" in shown
    assert 'cell 10: the cell under exercise demo-ex-f must be the one line' in shown
    solved = "\n".join(all_solution_problems("demo", found, _fake_registry()))
    assert "solution of demo-ex-a should be a dropdown" in solved
    assert "cell 3 (solution of demo-ex-a): set metadata jupyter.outputs_hidden" in solved
    assert "cell 4 (solution of demo-ex-a): set metadata jupyter.source_hidden" in solved
    assert "cell 5 (solution of demo-ex-a): JupyterLab opens a markdown cell" in solved
    assert "cell 3 (solution of demo-ex-a): it calls print()" in solved
    assert "cell 4 (solution of demo-ex-a): its last line is an expression" in solved
    assert "cell 4 (solution of demo-ex-a): its first line, which JupyterLab shows" in solved
    assert "cell 5 (solution of demo-ex-a): its first line" in solved
    assert 'solution of demo-ex-f never runs check("demo-ex-f", ...)' in solved
    assert "cell 3 (solution of demo-ex-a): set metadata jupyter.source_hidden" not in solved


def test_the_checks_catch_an_expected_value_under_the_exercise(tmp_path):
    found, _ = _demo(tmp_path, [
        _markdown("```{exercise}\n:label: demo-ex-a\n\nHow many?\n```"),
        _code('show("demo-ex-a")  # 16,448', tags=["remove-input"]),
    ])
    shown = show_cell_problems("demo", found, _fake_registry())
    assert len(shown) == 1 and "must be the one line" in shown[0]
    found, _ = _demo(tmp_path, [
        _markdown("```{exercise}\n:label: demo-ex-a\n\nHow many?\n```"),
        _code("def my_block(x):\n    pass"),          # a stub, but not a function exercise
        _code('show("demo-ex-a")', tags=["remove-input"]),
    ])
    assert "must be the one line" in show_cell_problems("demo", found, _fake_registry())[0]


def answered_before(cells, found, registered):
    """Exercises whose answer the chapter states before the learner is asked.

    For each text exercise, every number of three digits or more and every
    bracketed group in the cells above it (and in its own question) is put to
    its checker; one that passes gives the answer away. LaTeX thousands
    separators ({,}) are read as commas. Outputs are not stored, so what
    cells print is not seen here.
    """
    problems = []
    for label, item in found.items():
        exercise = registered.get(label)
        if exercise is None or exercise.widget != "text":
            continue
        for index in range(item.index + 1):
            text = source(cells[index]).replace("{,}", ",")
            for line in text.splitlines():
                if leaks(line, label, exercise):
                    problems.append(f"cell {index} states the answer to {label} before it "
                                    f"is asked: {line.strip()[:120]!r}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_exercise_is_answered_before_it_is_asked(path):
    problems = answered_before(read(path), CHAPTERS[path.stem][0], REGISTERED)
    assert problems == [], f"{path.name}:\n" + "\n".join(problems)


def test_an_answer_stated_above_the_exercise_is_found(tmp_path):
    cells = [
        _markdown("The layer has $16{,}448$ parameters."),
        _code("print(conv.count_params())"),
        _markdown("```{exercise}\n:label: demo-ex-a\n\nHow many parameters?\n```"),
        _code('show("demo-ex-a")', tags=["remove-input"]),
    ]
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    found, _ = exercises_in(path)
    from conv1x1.exercises import Exercise, check_number

    registry = {"demo-ex-a": Exercise("demo-ex-a", "arithmetic",
                                      lambda answer: check_number(answer, 16448))}
    problems = answered_before(cells, found, registry)
    assert len(problems) == 1 and problems[0].startswith("cell 0 states the answer to demo-ex-a")
    cells[0] = _markdown("The layer has $16{,}384$ weights.")
    assert answered_before(cells, found, registry) == []


def _closing_fence_is_the_last_line(text: str) -> bool:
    """Whether the ``{exercise}`` fence opened in ``text`` closes at its end.

    A fenced directive ends at the first line of as many backticks or more and
    nothing else, so a code block inside needs a longer outer fence: with
    three backticks outside, the inner block's closing line ends the exercise
    and the rest of the question falls out of it.
    """
    lines = text.splitlines()
    opening = next(i for i, line in enumerate(lines)
                   if re.match(r"^`{3,}\{exercise\}", line))
    width = len(re.match(r"^(`+)", lines[opening]).group(1))
    closing = next((i for i in range(opening + 1, len(lines))
                    if re.fullmatch(r" {0,3}`{%d,}\s*" % width, lines[i])), None)
    return closing is not None and not "".join(lines[closing + 1:]).strip()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_code_block_inside_a_question_does_not_end_it(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    broken = [source(c).splitlines()[1] for c in cells
              if c["cell_type"] == "markdown"
              and re.match(r"^`{3,}\{exercise\}", source(c))
              and not _closing_fence_is_the_last_line(source(c))]
    assert not broken, (f"{notebook.name}: these exercises end early; open "
                        f"them with a longer fence (````) than any code block "
                        f"inside: {broken}")


def test_the_fence_check_catches_an_inner_code_block():
    short = "```{exercise}\n:label: x\n\nText\n\n```python\ncode\n```\n\nMore\n```"
    long = "````{exercise}\n:label: x\n\nText\n\n```python\ncode\n```\n\nMore\n````"
    assert not _closing_fence_is_the_last_line(short)
    assert _closing_fence_is_the_last_line(long)


# --------------------------------------------------------------------------
# Run All is safe: a worked solution never touches the learner's names.
#
# Run All executes the folded solutions after the learner's own cells. A
# solution that binds the learner's function (or anything else the chapter's
# own cells bind) replaces the learner's version, so Check grades the
# reference; one that asserts on the learner's function fails as soon as the
# learner fixes it. Reference answers are named ``solution_<name>`` and buggy
# copies ``buggy_<name>``.

WORKED = "# Worked solution (expand to read)."


def _targets(node):
    """The names a binding target binds (``a``, ``a, (b, *c)``), in order."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [name for element in node.elts for name in _targets(element)]
    return []      # an attribute or a subscript binds no name


def _function_globals(function):
    """Names a function body declares ``global`` (assigning them binds the module's)."""
    return {name for node in ast.walk(function) if isinstance(node, ast.Global)
            for name in node.names}


def module_bindings(code):
    """The names a cell binds in the kernel's namespace, with their line numbers.

    Counted: assignment (plain, augmented, annotated, walrus, also inside a
    comprehension), ``def``, ``class``, imports (their ``as`` name or first
    component), ``for`` and ``with ... as`` targets, ``except ... as``,
    ``match`` captures, ``del``, and names a function declares ``global``.
    Not counted: what a function or class body binds for itself, the
    variables of a comprehension. Returns ``{name: line}`` (the first line).
    Raises SyntaxError for code that does not parse.
    """
    found = {}

    def bind(name, node):
        found.setdefault(name, node.lineno)

    def visit(node, in_comprehension=False):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name, node)
            for decorator in node.decorator_list:
                visit(decorator)
            declared = _function_globals(node)
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                    for target in targets:
                        for name in _targets(target):
                            if name in declared:
                                bind(name, inner)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for child in ast.iter_child_nodes(node):
                visit(child, in_comprehension=True)
            return
        if isinstance(node, ast.NamedExpr):
            bind(node.target.id, node)
        elif in_comprehension:
            pass           # a comprehension's own variables stay inside it
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in _targets(target):
                    bind(name, node)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            for name in _targets(node.target):
                bind(name, node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            for name in _targets(node.target):
                bind(name, node)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    for name in _targets(item.optional_vars):
                        bind(name, node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    bind(alias.asname or alias.name.split(".")[0], node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name, node)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                for name in _targets(target):
                    bind(name, node)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bind(node.name, node)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bind(node.rest, node)
        for child in ast.iter_child_nodes(node):
            visit(child, in_comprehension)

    visit(ast.parse(code))
    return found


def _names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def uses_on(code, names):
    """How a cell hands one of ``names`` to a check: ``[(name, how, line)]``.

    Found: a name inside the arguments of a ``check(...)`` call (after the
    label), and a name inside an ``assert`` statement's test. Either runs the
    learner's object, and makes the solution's verdict depend on it.
    """
    found = []
    for node in sorted(ast.walk(ast.parse(code)), key=lambda n: getattr(n, "lineno", 0)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "check"):
            arguments = [*node.args[1:], *(k.value for k in node.keywords)]
            for name in sorted(set().union(*map(_names_in, arguments)) & set(names)):
                found.append((name, "passes it to check()", node.lineno))
        elif isinstance(node, ast.Assert):
            for name in sorted(_names_in(node.test) & set(names)):
                found.append((name, "asserts on it", node.lineno))
    return found


def run_all_problems(name, cells, found, registered):
    """Why Run All would undo or break a learner's work in a chapter, or [].

    ``cells`` are the notebook's cells, ``found`` its exercises (from
    :func:`exercises_in`). The chapter's names are those its code cells outside
    the solutions bind, and every function exercise's ``function_name``; the
    learner's names, which no solution may pass to check() or assert on, are
    the function names and what the code cells between a question and its
    solution bind (stubs, buggy code to fix). Every problem names the chapter,
    the exercise and the name.
    """
    problems = []
    in_solution = {index for item in found.values() for index, _ in item.solution}
    owners = {index: label for label, item in found.items() for index, _ in item.solution}
    chapter, learner = {}, {}
    for label, item in found.items():
        exercise = registered.get(label)
        if exercise is not None and exercise.function_name:
            chapter.setdefault(exercise.function_name, f"is the function {label} asks for")
            learner.setdefault(exercise.function_name, f"the function {label} asks for")
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code" or index in in_solution:
            continue
        try:
            bound = module_bindings(source(cell))
        except SyntaxError:
            continue       # a learner's half-written cell; nbval reports real errors
        for bound_name in bound:
            chapter.setdefault(bound_name, f"cell {index} binds too")
        for label, item in found.items():
            if item.index < index < (item.solution_start or len(cells)):
                for bound_name in bound:
                    learner.setdefault(bound_name, f"the learner's cell {index} under {label}")
    for index in sorted(in_solution):
        cell = cells[index]
        if cell["cell_type"] != "code":
            continue
        label = owners[index]
        where = f"{name} cell {index} (solution of {label})"
        text = source(cell)
        if text.split("\n", 1)[0] != WORKED:
            problems.append(f"{where}: its first line must be exactly {WORKED!r} "
                            "(JupyterLab shows it on the folded cell)")
        try:
            bound = module_bindings(text)
        except SyntaxError as err:
            problems.append(f"{where}: does not parse ({err.msg}, line {err.lineno})")
            continue
        for bound_name, line in bound.items():
            # "_" is a throwaway, and IPython rebinds it after every output.
            if bound_name in chapter and bound_name != "_":
                problems.append(
                    f"{where}, line {line}: binds {bound_name!r}, which "
                    f"{chapter[bound_name]}; Run All would replace the learner's "
                    f"{bound_name}. Name it solution_{bound_name} (a reference) or "
                    f"buggy_{bound_name} (a private copy of the bug)")
        for used, how, line in uses_on(text, learner):
            problems.append(f"{where}, line {line}: {how}: {used!r} is the learner's "
                            f"({learner[used]}); after Run All the solution would judge "
                            "the learner's version. Use solution_/buggy_ copies")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_leaves_the_learners_names_alone(path):
    problems = run_all_problems(path.name, read(path), CHAPTERS[path.stem][0], REGISTERED)
    assert problems == [], "\n".join(problems)


def debug_code_problems(name, cells, found, registered):
    """A find-the-bug exercise keeps its buggy code in a code cell above its widget.

    The learner edits that cell; code only in the question's text opens as raw
    Markdown in JupyterLab. Returns one problem per debug exercise of
    ``found`` whose ``function_name`` no code cell between the question and
    its ``show`` cell defines.
    """
    problems = []
    for label, item in found.items():
        exercise = registered.get(label)
        if exercise is None or exercise.kind != "debug" or not exercise.function_name:
            continue
        end = next((i for i in range(item.index + 1, len(cells))
                    if source(cells[i]).strip() == f'show("{label}")'), len(cells))
        defined = []
        for index in range(item.index + 1, end):
            if cells[index]["cell_type"] == "code":
                try:
                    tree = ast.parse(source(cells[index]))
                except SyntaxError:
                    continue
                defined += [node for node in tree.body if isinstance(node, ast.FunctionDef)
                            and node.name == exercise.function_name]
        if not defined:
            problems.append(f"{name}: the buggy {exercise.function_name} of {label} must be "
                            "in a code cell between the question and its widget")
        elif all(_is_stub(function) for function in defined):
            problems.append(f"{name}: {exercise.function_name} above the widget of {label} "
                            "is a stub; a find-the-bug exercise puts the buggy code there")
    return problems


def _is_stub(function):
    """Whether a function only raises, passes or has a docstring: nothing to debug."""
    return all(isinstance(statement, (ast.Raise, ast.Pass))
               or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
               for statement in function.body)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_find_the_bug_exercise_has_its_code_in_a_cell(path):
    problems = debug_code_problems(path.name, read(path), CHAPTERS[path.stem][0], REGISTERED)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("code, names", [
    ("x = 1", {"x"}),
    ("a, (b, *c) = 1, (2, 3, 4)", {"a", "b", "c"}),
    ("a = b = 2\nd += 1\ne: int = 3\nf: int", {"a", "b", "d", "e", "f"}),
    ("o.attr = 1\nitems[0] = 2", set()),
    ("def my_block(x):\n    y = x\n    return y", {"my_block"}),
    ("async def f():\n    pass\nclass Head:\n    size = 3", {"f", "Head"}),
    ("import numpy as np, os.path\nfrom math import pi as PI, tau", {"np", "os", "PI", "tau"}),
    ("for i, (j, k) in pairs:\n    z = i", {"i", "j", "k", "z"}),
    ("with open(p) as fh, lock as (a, b):\n    pass", {"fh", "a", "b"}),
    ("if (n := 10) > 5:\n    pass", {"n"}),
    ("[y := v for v in range(3)]\n[w for w in range(3)]", {"y"}),
    ("try:\n    pass\nexcept ValueError as err:\n    pass", {"err"}),
    ("del old", {"old"}),
    ("def set_it():\n    global shared\n    shared = 1", {"set_it", "shared"}),
    ("f = lambda q: q\n{k: v for k, v in d.items()}", {"f"}),
    ("match p:\n    case [first, *rest]:\n        pass\n    case {'a': 1, **more}:\n"
     "        pass\n    case Point(x=px) as whole:\n        pass",
     {"first", "rest", "more", "px", "whole"}),
    ("@decorate(size := 3)\ndef g():\n    pass", {"g", "size"}),
])
def test_module_bindings_finds_every_way_to_bind_a_name(code, names):
    assert set(module_bindings(code)) == names


def test_module_bindings_reports_lines_and_rejects_broken_code():
    assert module_bindings("a = 1\n\nb = 2\na = 3") == {"a": 1, "b": 3}
    with pytest.raises(SyntaxError):
        module_bindings("def broken(:\n")


def test_uses_on_finds_a_check_or_assert_on_the_learners_name():
    code = ('result = check("x-ex-a", my_fn)\n'
            'assert not check("x-ex-a", partial(my_fn, d=3)).correct\n'
            'assert my_fn(2) == 4\n'
            'assert check("x-ex-a", solution_my_fn).correct\n'
            'check("my_fn", answer=my_fn)\n')
    assert sorted(uses_on(code, {"my_fn"}), key=lambda use: use[2]) == [
        ("my_fn", "passes it to check()", 1), ("my_fn", "asserts on it", 2),
        ("my_fn", "passes it to check()", 2), ("my_fn", "asserts on it", 3),
        ("my_fn", "passes it to check()", 5)]
    assert uses_on(code.replace("my_fn", "solution_my_fn"), {"my_fn"}) == []


def _run_all_demo(tmp_path, stub, solution, learner_cell="def my_block(x):\n    return x"):
    cells = [
        _code("from conv1x1.exercises import check, show\nlayer = 3"),
        _markdown("```{exercise}\n:label: demo-ex-f\n\nWrite my_block.\n```"),
        _code(learner_cell),
        _code('show("demo-ex-f")', tags=["remove-input"]),
        _markdown("````{solution-start} demo-ex-f\n:class: dropdown\n````"),
        _code(solution, jupyter=HIDDEN),
        _markdown("````{solution-end}\n````"),
    ]
    found, _ = _demo(tmp_path, cells)
    return run_all_problems("demo.ipynb", cells, found, _fake_registry())


@pytest.mark.parametrize("solution, expected", [
    # The cases: a solution redefines the learner's function ...
    ("def my_block(x):\n    return x", "binds 'my_block', which is the function demo-ex-f"),
    ("my_block = make_block(64)", "binds 'my_block'"),
    ("for my_block in (a, b):\n    pass", "binds 'my_block'"),
    ("from conv1x1.squeezenet import fire_module as my_block", "binds 'my_block'"),
    ("if (my_block := make()):\n    pass", "binds 'my_block'"),
    # ... or asserts that the learner's function is still wrong.
    ('assert not check("demo-ex-f", my_block).correct', "asserts on it: 'my_block'"),
    ('result = check("demo-ex-f", my_block)', "passes it to check(): 'my_block'"),
    # ... or binds a name the chapter's own cells bind.
    ("layer = 4", "binds 'layer', which cell 0 binds too"),
    ("def helper():\n    global layer\n    layer = 5", "binds 'layer'"),
])
def test_run_all_problems_catches_a_solution_on_the_learners_names(tmp_path, solution,
                                                                   expected):
    problems = _run_all_demo(tmp_path, None, f"{WORKED}\n{solution}")
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("demo.ipynb cell 5 (solution of demo-ex-f), line ")
               for p in problems), problems


def test_run_all_problems_accepts_solution_names_and_checks_the_first_line(tmp_path):
    good = (f"{WORKED}\ndef solution_my_block(x):\n    return x\n\n\n"
            "def buggy_my_block(x):\n    return 2 * x\n\n\n"
            'assert check("demo-ex-f", solution_my_block).correct\n'
            'assert not check("demo-ex-f", buggy_my_block).correct\n')
    assert _run_all_demo(tmp_path, None, good) == []
    problems = _run_all_demo(tmp_path, None, good.replace(WORKED + "\n", ""))
    assert len(problems) == 1 and "its first line must be exactly" in problems[0]
    # What the learner's own cell binds is the learner's, not only the function.
    problems = _run_all_demo(tmp_path, None, f"{WORKED}\nassert width > 3",
                             learner_cell="width = 2\ndef my_block(x):\n    return x")
    assert len(problems) == 1 and "asserts on it: 'width' is the learner's" in problems[0]


def test_debug_code_problems_wants_the_bug_in_a_code_cell(tmp_path):
    from conv1x1.exercises import Exercise, Result

    registry = {"demo-ex-f": Exercise("demo-ex-f", "debug", lambda a: Result(False, ""),
                                      widget="function", function_name="my_block")}
    with_cell = [_markdown("```{exercise}\n:label: demo-ex-f\n\nFix it.\n```"),
                 _code("def my_block(x):\n    return x"),
                 _code('show("demo-ex-f")', tags=["remove-input"])]
    found, _ = _demo(tmp_path, with_cell)
    assert debug_code_problems("demo", with_cell, found, registry) == []
    in_text = [_markdown("````{exercise}\n:label: demo-ex-f\n\nFix it:\n\n```python\n"
                         "def my_block(x):\n    return x\n```\n````"),
               _code('show("demo-ex-f")', tags=["remove-input"])]
    found, _ = _demo(tmp_path, in_text)
    assert debug_code_problems("demo", in_text, found, registry) == [
        "demo: the buggy my_block of demo-ex-f must be in a code cell between the "
        "question and its widget"]
    with_stub = [with_cell[0], _code("def my_block(x):\n    # fix me\n    raise NotImplementedError"),
                 with_cell[2]]
    found, _ = _demo(tmp_path, with_stub)
    assert debug_code_problems("demo", with_stub, found, registry) == [
        "demo: my_block above the widget of demo-ex-f is a stub; a find-the-bug exercise "
        "puts the buggy code there"]


def math_line_problems(name, cells):
    """Markdown lines inside math that start with ``+`` or ``-``.

    Such a line is read as a list item (in JupyterLab, and in the book for
    inline math), which breaks the formula. Math is what lies between ``$$``
    lines, and between single ``$`` of a paragraph outside code spans.
    """
    problems = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        display, inline, fence = False, False, None
        for number, line in enumerate(source(cell).splitlines(), 1):
            stripped = line.strip()
            opened = re.match(r"(`{3,}|~{3,})", stripped)
            if fence:
                if stripped.startswith(fence):
                    fence = None
                continue
            if opened and "{math}" not in stripped:
                fence = opened.group(1)
                continue
            if (display or inline) and re.match(r"[+-](\s|$)", stripped):
                problems.append(f"{name} cell {index}, line {number}: a line of a formula "
                                f"starts with {stripped[0]!r}, which Markdown reads as a "
                                f"list item; end the line above with it instead: {stripped!r}")
            if not stripped:
                inline = False          # a paragraph ends; inline math cannot span it
            text = re.sub(r"`[^`]*`", "", line.replace("\\$", ""))
            if stripped.startswith("$$"):
                display = not display if stripped.count("$$") == 1 else display
                continue
            if not display and text.count("$") % 2:
                inline = not inline
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_line_of_a_formula_starts_with_plus_or_minus(path):
    problems = math_line_problems(path.name, read(path))
    assert problems == [], "\n".join(problems)


def test_math_line_problems_finds_a_formula_line_read_as_a_list_item():
    broken = [_markdown("In general\n\n$$\nP = a\n+ (9 s + 1) e.\n$$ (eq-p)\n\nDone."),
              _markdown("The gate is $\\sigma\\big(W_2 z\n+ b_2\\big)$ per channel."),
              _markdown("A list:\n\n- one $x$\n- two\n\n```python\n$a\n- b\n```")]
    problems = math_line_problems("demo", broken)
    assert [p.split(":")[0] for p in problems] == ["demo cell 0, line 5", "demo cell 1, line 2"]
    fixed = [_markdown("$$\nP = a +\n(9 s + 1) e.\n$$"), _markdown("$W_2 z +\nb_2$")]
    assert math_line_problems("demo", fixed) == []


# --------------------------------------------------------------------------
# Stored as JupyterLab writes them, each solution one fold
# (scripts/normalize_notebooks.py).

def _normalizer():
    return load_file("normalize_notebooks",
                     ROOT / "scripts" / "normalize_notebooks.py")


NORMALIZER = _normalizer()


def storage_problems(path):
    """How a stored chapter differs from what the normaliser would store, or [].

    The Python version in ``language_info`` is the one thing allowed to
    differ (it is the version of whoever last normalised the chapter).
    """
    import nbformat

    text = path.read_text()
    nb = nbformat.reads(text, as_version=4)
    info = NORMALIZER.language_info()
    stored = nb.metadata.get("language_info", {})
    info["version"] = stored.get("version", info["version"])
    normal = copy.deepcopy(nb)
    NORMALIZER.normalize(normal, info=info)
    problems = []
    for key in ("kernelspec", "language_info"):
        if nb.metadata.get(key) != normal.metadata.get(key):
            problems.append(f"metadata {key} is {nb.metadata.get(key)!r}; JupyterLab "
                            f"sets {normal.metadata.get(key)!r} when the kernel starts "
                            "and marks the chapter modified")
    ids = [c.get("id") for c in nb.cells]
    new_ids = [c.get("id") for c in normal.cells]
    for index, cell in enumerate(normal.cells):
        if cell.get("id") not in ids:
            problems.append(f"a cell is missing before cell {index}: {cell['source']!r}")
    for index, cell in enumerate(nb.cells):
        if cell.get("id") not in new_ids:
            problems.append(f"cell {index} should not be there: {cell['source'][:60]!r}")
        elif normal.cells[new_ids.index(cell.get("id"))] != cell:
            problems.append(f"cell {index} differs from its normal form (a solution's "
                            "first line, metadata, outputs, or a {doc} link JupyterLab "
                            f"cannot follow): {cell['source'][:60]!r}")
    if not problems and text != nbformat.writes(normal) + "\n":
        problems.append("the JSON is not laid out as Jupyter writes it")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_stored_as_jupyterlab_writes_it_with_folded_solutions(path):
    problems = storage_problems(path)
    assert problems == [], (f"{path.name}: run python scripts/normalize_notebooks.py "
                            f"book/{path.name}\n" + "\n".join(problems))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_explorer_wiring_is_folded_behind_show_code(path):
    """The page shows each explorer; its widget plumbing is one click away."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    wiring = [i for i, c in enumerate(nb.cells) if NORMALIZER.is_explorer_wiring(c)
              and not _inside_solution(nb.cells, i)]
    assert wiring, f"{path.name} has no explorer"
    open_wiring = [i for i in wiring if not {"hide-input", "hide-cell", "remove-input",
                                             "remove-cell"} & set(
        nb.cells[i].metadata.get("tags", []))]
    assert open_wiring == [], (f"{path.name}: explorer cells {open_wiring} show their "
                               "wiring; tag them hide-input (the normaliser does)")


def _inside_solution(cells, index):
    inside = False
    for cell in cells[:index]:
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            inside = True
        elif cell.cell_type == "markdown" and "{solution-end}" in cell.source:
            inside = False
    return inside


def test_the_normaliser_recognises_explorer_wiring_and_not_show_lines():
    import nbformat

    code = nbformat.v4.new_code_cell
    assert NORMALIZER.is_explorer_wiring(code("s = widgets.IntSlider(value=1)"))
    assert NORMALIZER.is_explorer_wiring(code("s = partial(widgets.IntSlider, min=1)"))
    assert NORMALIZER.is_explorer_wiring(code("widgets.interactive(f, a=s)"))
    assert not NORMALIZER.is_explorer_wiring(code('show("structure-ex-shape")'))
    assert not NORMALIZER.is_explorer_wiring(code("import ipywidgets as widgets"))
    assert not NORMALIZER.is_explorer_wiring(nbformat.v4.new_markdown_cell(
        "widgets.IntSlider"))


def _demo_notebook():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb.cells = [
        new_md("## Exercises\n\n```{exercise}\n:label: demo-ex-a\n\nHow many?\n```"),
        new_code('show("demo-ex-a")'),
        new_md("````{solution-start} demo-ex-a\n:class: dropdown\n````"),
        new_code('assert check("demo-ex-a", "3").correct', execution_count=4,
                 outputs=[nbformat.v4.new_output("stream", text="hi")]),
        new_md("````{solution-end}\n````"),
        new_md("```{exercise}\n:label: demo-ex-b\n\nWhy?\n```"),
        new_code('show("demo-ex-b")'),
        new_md("````{solution-start} demo-ex-b\n:class: dropdown\n````"),
        new_code(f'{WORKED}\nassert check("demo-ex-b", "so").correct'),
        new_md("````{solution-end}\n````"),
        new_md("(demo-refs)=\n## References"),
    ]
    return nb


def test_the_normalizer_folds_each_solution_under_a_collapsed_heading():
    nb = _demo_notebook()
    info = {"name": "python", "version": "3.0.0"}
    NORMALIZER.normalize(nb, info=info)
    sources = [c.source for c in nb.cells]
    assert sources[2] == sources[9] == "#### Solution"
    assert sources[6] == "### Exercise 2"
    assert sources[13] == "(demo-refs)=\n## References"     # a heading already ends it
    for index in (2, 6, 9):
        assert nb.cells[index].metadata["tags"] == ["remove-cell"]
    assert nb.cells[2].metadata["jp-MarkdownHeadingCollapsed"] is True
    assert "jp-MarkdownHeadingCollapsed" not in nb.cells[6].metadata
    solution = nb.cells[4]
    assert solution.source.split("\n")[0] == WORKED and solution.source.count(WORKED) == 1
    assert solution.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert solution.outputs == [] and solution.execution_count is None
    assert nb.cells[1].metadata.get("jupyter") is None       # the widget stays open
    assert nb.metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    assert nb.metadata["language_info"] == info
    again = copy.deepcopy(nb)
    NORMALIZER.normalize(again, info=info)
    assert again == nb                                       # ids and all


def test_storage_problems_names_what_jupyterlab_would_change(tmp_path):
    import nbformat

    path = tmp_path / "demo.ipynb"
    nbformat.write(_demo_notebook(), path)
    problems = "\n".join(storage_problems(path))
    assert "metadata kernelspec" in problems and "metadata language_info" in problems
    assert "a cell is missing before cell 2: '#### Solution'" in problems
    assert "a cell is missing before cell 6: '### Exercise 2'" in problems
    assert "cell 3 differs from its normal form" in problems
    NORMALIZER.normalize_file(path)
    assert storage_problems(path) == []
    assert NORMALIZER.normalize_file(path) is False
    text = path.read_text()
    path.write_text(text.replace('\n "metadata"', '\n"metadata"'))
    assert storage_problems(path) == ["the JSON is not laid out as Jupyter writes it"]


def test_doc_roles_become_links_that_jupyterlab_and_the_book_follow():
    book = ROOT / "book"
    text = ("See {doc}`how_to_use`, the {doc}`first chapter <structure>` and "
            "{doc}`no_such_page`; `{doc}` in code stays.")
    assert NORMALIZER.doc_links(text, book) == (
        "See [How to use this book](how_to_use.md), the [first chapter]"
        "(structure.ipynb) and {doc}`no_such_page`; `{doc}` in code stays.")
    nb = _demo_notebook()
    nb.cells[0].source += "\n\nAs in {doc}`structure`."
    NORMALIZER.normalize(nb, info={"name": "python"}, folder=book)
    assert nb.cells[0].source.endswith(
        "As in [The structure of a 1x1 convolution](structure.ipynb).")


def test_heading_level_reads_the_first_heading_after_a_target():
    assert NORMALIZER.heading_level("(x-refs)=\n## References\n\ntext") == 2
    assert NORMALIZER.heading_level("#### Solution") == 4
    assert NORMALIZER.heading_level("Some text\n# Late heading") == 0
    assert NORMALIZER.heading_level("#hashtag") == 0


#: The learner's names that solutions redefined, and those they asserted were
#: still wrong, when Run All first undid a learner's work.
REDEFINED = ("median_time", "merge", "my_block", "separable_macs", "my_down_block",
             "down_block", "my_se", "my_fire", "my_fire_fixed")
ASSERTED_WRONG = ("difference_kernel", "my_module", "my_head", "class_map_head",
                  "my_pointwise", "pool_branch")


@pytest.mark.parametrize("name", REDEFINED + ASSERTED_WRONG)
def test_run_all_problems_catches_each_reported_violation(name):
    from conv1x1.exercises import Exercise, Result

    registry = {"demo-ex-f": Exercise("demo-ex-f", "debug", lambda a: Result(False, ""),
                                      widget="function", function_name=name)}
    if name in REDEFINED:
        solution = f"{WORKED}\ndef {name}(x):\n    return x\n\n\nassert check('demo-ex-f', {name})"
    else:
        solution = f"{WORKED}\nassert not check('demo-ex-f', {name}).correct"
    cells = [_markdown("```{exercise}\n:label: demo-ex-f\n\nFix it.\n```"),
             _code(f"def {name}(x):\n    return 2 * x"),
             _code('show("demo-ex-f")', tags=["remove-input"]),
             _markdown("````{solution-start} demo-ex-f\n:class: dropdown\n````"),
             _code(solution, jupyter=HIDDEN),
             _markdown("````{solution-end}\n````")]
    found = {"demo-ex-f": Found("demo-ex-f", 0, solution=[(4, cells[4])], solution_start=3)}
    problems = run_all_problems("demo.ipynb", cells, found, registry)
    if name in REDEFINED:
        assert any(f"binds {name!r}" in p for p in problems), problems
    assert any(f"{name!r} is the learner's" in p for p in problems), problems
    renamed = solution.replace(f"def {name}(", f"def solution_{name}(").replace(
        f"', {name}", f"', solution_{name}")
    cells[4] = _code(renamed, jupyter=HIDDEN)
    found["demo-ex-f"].solution = [(4, cells[4])]
    assert run_all_problems("demo.ipynb", cells, found, registry) == []
