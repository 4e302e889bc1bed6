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
* a chapter has three exercises or more, at most half of them arithmetic.
"""

import ast
import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conv1x1.exercises import all_exercises

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
