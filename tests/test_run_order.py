"""How ``make test`` splits its run: the tests of the built book run last, and
only the files listed in the root conftest.py's BOOK_TEST_FILES are collected
for them (``--book-files-only``), so the list must hold every such test."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import load_file

ROOT = Path(__file__).resolve().parents[1]


# Not `import conftest`: that name is tests/conftest.py here.
ROOT_CONFTEST = load_file("root_conftest", ROOT / "conftest.py")


class Item:
    """What pytest_collection_modifyitems reads of a test item."""

    def __init__(self, path, fixturenames):
        self.path = Path(path)
        relative = self.path.relative_to(ROOT).as_posix()
        self.nodeid = f"{relative}::test_something"
        self.fixturenames = fixturenames
        self.markers = []

    def add_marker(self, marker):
        self.markers.append(marker.name)


def config(book_files_only):
    return SimpleNamespace(getoption=lambda name: {
        "--book-files-only": book_files_only}[name])


def test_the_listed_files_exist_and_each_holds_a_test_of_the_built_book():
    listed = ROOT_CONFTEST.BOOK_TEST_FILES
    assert listed, "no book test files listed"
    for name in listed:
        text = (ROOT / name).read_text()
        uses_the_book = r"def test_\w+\([^)]*\b(built_book|served_book|live)\b"
        assert re.search(uses_the_book, text), name


@pytest.mark.parametrize("fixture", ["built_book", "served_book"])
def test_a_book_test_in_a_listed_file_is_marked(fixture):
    item = Item(ROOT / "tests" / "test_links.py", [fixture, "tmp_path"])
    ROOT_CONFTEST.pytest_collection_modifyitems([item])
    assert item.markers == ["book"]


def test_a_test_without_the_book_is_not_marked():
    item = Item(ROOT / "tests" / "test_cost.py", ["tmp_path"])
    ROOT_CONFTEST.pytest_collection_modifyitems([item])
    assert item.markers == []


def test_a_book_test_in_a_file_not_listed_stops_the_run_saying_what_to_add():
    item = Item(ROOT / "tests" / "test_cost.py", ["built_book"])
    with pytest.raises(pytest.UsageError, match=(
            r"^tests/test_cost\.py::test_something needs the built book, "
            r"but tests/test_cost\.py is not in BOOK_TEST_FILES in "
            r"conftest\.py, so `make test` would never run it: add "
            r"'tests/test_cost\.py' to that list\.$")):
        ROOT_CONFTEST.pytest_collection_modifyitems([item])


def test_book_files_only_leaves_out_other_test_files_and_the_chapters():
    conftest = ROOT_CONFTEST
    on, off = config(True), config(False)
    ignored = conftest.pytest_ignore_collect
    for name in conftest.BOOK_TEST_FILES:
        assert ignored(ROOT / name, on) is False
    assert ignored(ROOT / "tests" / "test_cost.py", on) is True
    assert ignored(ROOT / "book" / "resnet.ipynb", on) is True
    # Folders and helper modules are left to pytest.
    assert ignored(ROOT / "tests", on) is None
    assert ignored(ROOT / "tests" / "conftest.py", on) is None
    # Without the option, nothing is left out.
    for path in (ROOT / "tests" / "test_cost.py",
                 ROOT / "book" / "resnet.ipynb"):
        assert ignored(path, off) is None
