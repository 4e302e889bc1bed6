"""The book as a whole: notebook hygiene, the table of contents, the strict build."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("**/*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    walk(toc.get("chapters", []))
    return files


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a code cell has stored outputs"
            assert cell["execution_count"] is None, f"{path.name}: stored execution count"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], f"{path.name}: stored widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_the_package_explicitly(path):
    source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
    assert "sys.path" not in source
    assert not re.search(r"^\s*from \S+ import \*", source, re.M)


def test_every_notebook_is_in_the_toc_and_every_entry_exists():
    listed = toc_files()
    chapters = {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS}
    markdown = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").glob("*.md")}
    assert chapters <= set(listed), f"not in _toc.yml: {sorted(chapters - set(listed))}"
    assert markdown <= set(listed), f"not in _toc.yml: {sorted(markdown - set(listed))}"
    missing = [f for f in listed if not any((ROOT / f"{f}{ext}").exists()
                                            for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(listed) == len(set(listed))


def test_exercises_have_solutions():
    """Every {exercise} label has a matching solution, and every chapter has three or more."""
    for path in NOTEBOOKS:
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
        labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
        solved = re.findall(r"\{solution-start\} (\S+)", text)
        assert sorted(labels) == sorted(solved), path.name
        if path.stem not in ("benchmarking",):
            assert len(labels) >= 3, f"{path.name} has {len(labels)} exercises"


def test_book_builds_without_warnings(built_book):
    html, log = built_book
    assert "WARNING" not in log.replace("[IPKernelApp] WARNING", "").replace(
        "WARNING: All log messages before absl", "")
    for doc in toc_files():
        assert (html / f"{doc}.html").exists(), f"{doc}.html was not built"
