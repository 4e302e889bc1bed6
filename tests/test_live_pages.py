"""_ext/live_pages.py: what a live page runs, found from the chapter's code.

Going live runs the cells that make widgets and the earlier cells they
need; running any other cell first runs what it needs. These tests check
the name analysis that decides it, on small cells and on a real chapter.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))

import live_pages  # noqa: E402


def deps(*sources):
    return live_pages.dependencies(list(sources))


def test_a_cell_needs_the_cells_that_bind_what_it_reads():
    assert deps("a = 1", "b = 2", "print(a)") == [[], [], [0]]
    assert deps("import numpy as np", "x = np.ones(3)", "y = x * 2", "print(y)") \
        == [[], [0], [0, 1], [0, 1, 2]]       # closed: y needs x, x needs np


def test_a_method_call_counts_as_a_change_except_on_a_module():
    cells = ["import numpy as np", "model = make()", "model.fit(np.ones(2))",
             "np.random.seed(0)", "print(model)"]
    # model.fit changes model; np.random.seed does not make cell 3 a dependency.
    assert deps(*cells)[4] == [0, 1, 2]


def test_names_local_to_a_function_or_comprehension_are_not_needs():
    cells = ["ax = 1", "def draw():\n    ax = 2\n    return ax\n",
             "squares = [ax for ax in range(3)]", "f = lambda ax: ax + 1"]
    assert deps(*cells) == [[], [], [], []]
    # A global the function reads is a need of the cell that defines it.
    assert deps("scale = 3", "def f(x):\n    return scale * x\n") == [[], [0]]


def test_rebinding_and_subscript_assignment_count_as_changes():
    assert deps("d = {}", "d['k'] = 1", "print(d)")[2] == [0, 1]
    assert deps("n = 0", "n += 1", "print(n)")[2] == [0, 1]


def test_a_cell_that_does_not_parse_needs_everything_before_it():
    assert deps("a = 1", "!ls", "b = 2") == [[], [0], [0, 1]]


def test_the_structure_chapter_goes_live_without_its_heavy_cells():
    cells = live_pages.notebook_cells(ROOT / "book" / "structure.ipynb")
    setup = [c for c in cells if c["setup"]]
    labels = [c["source"] for c in setup if c["source"].startswith("show(")]
    assert len(labels) >= 5                    # one widget per exercise
    run = sorted({i for c in setup for i in [*c["deps"], c["index"]]})
    assert run[0] == cells[0]["index"]         # the set-up cell with the imports
    assert len(run) < len(cells) / 2, run      # not the whole chapter
    assert not any(c["solution"] and c["setup"] for c in cells)


def test_the_payload_cannot_close_its_script_element():
    text = live_pages.script_payload([{"source": "print('</script><!--')"}], "x.ipynb")
    assert "</script" not in text and "<!--" not in text
