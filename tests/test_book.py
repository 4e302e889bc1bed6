"""The book as a whole: notebook hygiene, the table of contents, the strict build."""

import json
import re
import subprocess
import sys
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


# nbval's ways of not running a cell, or of passing when it raises. A cell that
# shows an error catches it and fails when none comes (see the structure
# chapter); nothing is skipped. NBVAL_IGNORE_OUTPUT is forbidden too: the book
# runs with --nbval-lax and stores no outputs, so it would only hide intent.
ESCAPE_COMMENTS = re.compile(r"#\s*NBVAL_\w+", re.I)
ESCAPE_TAGS = {"nbval-skip", "nbval-ignore-output", "nbval-raises-exception",
               "nbval-check-output", "raises-exception", "skip-execution"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_escapes_nbval(path):
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        text = "".join(cell["source"])
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "code":
            found = ESCAPE_COMMENTS.search(text)
            assert not found, f"{path.name} cell {index}: {found.group(0)}"
        assert not tags & ESCAPE_TAGS, f"{path.name} cell {index}: tags {tags & ESCAPE_TAGS}"
        assert not cell.get("metadata", {}).get("execution", {}).get("skip"), (
            f"{path.name} cell {index}: execution skipped")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_starts_tensorflow_quietly(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    lines = [line.strip() for line in "".join(cells[0]["source"]).splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert lines[:2] == ["from conv1x1.environment import quiet_tensorflow",
                         "tf = quiet_tensorflow()"], (
        f"{path.name}: the first code cell should start with quiet_tensorflow(), before "
        "anything imports TensorFlow")


def ruff(*paths):
    """Run ruff with the project's configuration ([tool.ruff] in pyproject.toml)."""
    executable = Path(sys.executable).with_name("ruff")
    return subprocess.run([str(executable), "check", "--no-cache", "--output-format",
                           "concise", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_code_passes_ruff_within_79_characters(path):
    result = ruff(path.relative_to(ROOT))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_package_passes_ruff():
    result = ruff("src")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_configuration_checks_chapter_line_length(tmp_path):
    """The configuration really limits a notebook's lines to 79 characters."""
    probe = tmp_path / "probe.ipynb"
    line = "x = '" + "a" * 74 + "'"
    assert len(line) == 80
    probe.write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": line}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    result = ruff("--config", ROOT / "pyproject.toml", probe)
    assert result.returncode == 1 and "E501" in result.stdout and "(80 > 79)" in result.stdout
    probe.write_text(probe.read_text().replace("a" * 74, "a" * 73))
    assert ruff("--config", ROOT / "pyproject.toml", probe).returncode == 0


def test_book_builds_without_warnings(built_book):
    html, log = built_book
    assert "WARNING" not in log.replace("[IPKernelApp] WARNING", "").replace(
        "WARNING: All log messages before absl", "")
    for doc in toc_files():
        assert (html / f"{doc}.html").exists(), f"{doc}.html was not built"


#: An exercise's title as sphinx-exercise writes it, with its number.
EXERCISE_TITLE = re.compile(r'class="admonition-title">(?:<[^>]+>)*\s*Exercise (\d+(?:\.\d+)*)')


def _mini_book(folder):
    """A two-chapter Sphinx project with the book's extension and sphinx-exercise."""
    source = folder / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        "extensions = ['sphinx_exercise', 'book_pages']\nnumfig = True\n")
    (source / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   one\n   two\n")
    (source / "one.rst").write_text(
        "One\n===\n\n.. exercise::\n   :label: one-a\n\n   A?\n\n"
        ".. exercise::\n   :label: one-b\n\n   B?\n\n.. solution:: one-b\n\n   Yes.\n")
    (source / "two.rst").write_text(
        "Two\n===\n\n.. exercise::\n   :label: two-a\n\n   C?\n\n"
        ".. solution:: two-a\n\n   Yes.\n")
    return source


def _sphinx_build(source, out):
    build = Path(sys.executable).with_name("sphinx-build")
    result = subprocess.run([str(build), "-q", "-W", "-b", "html", str(source), str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exercises_are_numbered_within_their_chapter(tmp_path):
    """Without the extension sphinx-exercise would number the second chapter's
    exercise 3; with it each chapter starts at 1, and an unchanged chapter is
    not written again on the next build."""
    source, out = _mini_book(tmp_path), tmp_path / "html"
    _sphinx_build(source, out)
    one, two = (out / "one.html").read_text(), (out / "two.html").read_text()
    assert EXERCISE_TITLE.findall(one) == ["1", "2"]
    assert EXERCISE_TITLE.findall(two) == ["1"]
    assert "Solution to" in two and re.search(r"Solution to.*?Exercise 1", two, re.S)
    assert re.search(r"Solution to.*?Exercise 2", one, re.S)
    written = {name: (out / name).stat().st_mtime_ns for name in ("one.html", "two.html")}
    (source / "two.rst").write_text((source / "two.rst").read_text() + "\nMore text.\n")
    _sphinx_build(source, out)
    assert (out / "one.html").stat().st_mtime_ns == written["one.html"]
    assert (out / "two.html").stat().st_mtime_ns != written["two.html"]
    assert EXERCISE_TITLE.findall((out / "two.html").read_text()) == ["1"]


def test_the_books_exercises_are_numbered_within_each_chapter(built_book):
    html, _ = built_book
    chapters = 0
    for doc in toc_files():
        page = html / f"{doc}.html"
        numbers = EXERCISE_TITLE.findall(page.read_text()) if page.exists() else []
        if numbers:
            chapters += 1
            assert numbers == [str(i) for i in range(1, len(numbers) + 1)], (doc, numbers)
    assert chapters >= 3
