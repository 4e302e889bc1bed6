"""Store the chapters as JupyterLab writes them, with their solutions folded.

Usage: ``python scripts/normalize_notebooks.py [book/NAME.ipynb ...]``
(every chapter in ``book/`` when no file is named). Prints the chapters it
changed. ``tests/test_notebook_exercises.py`` checks that running it again
changes nothing.

What it does to each notebook:

* The notebook's metadata is what JupyterLab sets when the kernel starts:
  the kernel's spec (``display_name`` "Python 3 (ipykernel)") and its
  ``language_info``. JupyterLab replaces metadata that differs, which marks
  a chapter modified as soon as it opens (and asks to save it on closing).
  ``language_info`` holds the Python version, so a chapter opened with
  another version of Python is still marked modified.
* Code cells: no outputs, no execution count; nbformat 4.5 with cell ids,
  one JSON key a line, sorted, as Jupyter's own writer stores them.
* Every worked solution, the cells from ``{solution-start}`` to
  ``{solution-end}``, becomes one fold in JupyterLab: a heading cell
  "Solution" right before it, stored collapsed (cell metadata
  ``jp-MarkdownHeadingCollapsed``, the key JupyterLab 4 writes when a
  heading is folded), hides every cell up to the next heading of its level
  or above. So after each solution a heading must follow: when the next
  cell has none, a heading "Exercise N" for the next exercise is inserted.
  Both headings are tagged ``remove-cell``: the HTML book leaves them out,
  where the solution is a dropdown already.
* An explorer's wiring (a code cell outside the solutions that builds
  ipywidgets) is tagged ``hide-input``: the page shows the explorer, and
  its 20 to 90 lines of widget plumbing sit behind a "Show code" toggle.
* Links to other pages written with the ``{doc}`` role, which JupyterLab
  cannot follow, become Markdown links to the page's file,
  ``[Title](structure.ipynb)``: JupyterLab opens the file, and the book
  links to the page as before. A role without its own text gets the page's
  title, as the book shows it.
* Each code cell of a solution starts with the line
  ``# Worked solution (expand to read).`` (JupyterLab shows the first line
  of a collapsed cell) and is collapsed, source and output.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

#: The first line of every code cell of a worked solution.
WORKED = "# Worked solution (expand to read)."
#: The heading that folds a worked solution in JupyterLab.
SOLUTION_HEADING = "#### Solution"
#: The cell metadata key JupyterLab 4 stores on a folded heading cell.
COLLAPSED_KEY = "jp-MarkdownHeadingCollapsed"
#: The tag that leaves a cell out of the HTML book.
JUPYTERLAB_ONLY = "remove-cell"
#: The level of the "Exercise N" headings; a solution's fold ends at a
#: heading of the solution heading's level or above.
EXERCISE_HEADING = "### Exercise {number}"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python",
              "name": "python3"}

_SOLUTION_START = re.compile(r"\{solution-start\}")
_SOLUTION_END = re.compile(r"\{solution-end\}")
_EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}", re.M)
_INSERTED_EXERCISE = re.compile(r"### Exercise \d+")


def language_info() -> dict:
    """The ``language_info`` that the IPython kernel of this Python reports."""
    from ipykernel.ipkernel import IPythonKernel

    return copy.deepcopy(IPythonKernel.language_info)


def heading_level(text: str) -> int:
    """The level of the first heading of a markdown cell, 0 for none.

    A MyST target line such as ``(structure-exercises)=`` may come first;
    JupyterLab folds at the cell's first heading.
    """
    for line in text.splitlines():
        if not line.strip() or re.fullmatch(r"\([\w-]+\)=\s*", line.strip()):
            continue
        found = re.match(r"(#{1,6})\s+\S", line)
        return len(found.group(1)) if found else 0
    return 0


def is_solution_heading(cell) -> bool:
    return (cell["cell_type"] == "markdown"
            and cell["source"].strip() == SOLUTION_HEADING
            and JUPYTERLAB_ONLY in cell.get("metadata", {}).get("tags", []))


def is_inserted_exercise_heading(cell) -> bool:
    return (cell["cell_type"] == "markdown"
            and _INSERTED_EXERCISE.fullmatch(cell["source"].strip()) is not None
            and JUPYTERLAB_ONLY in cell.get("metadata", {}).get("tags", []))


def _heading_cell(text: str, collapsed: bool, reuse=None):
    """A JupyterLab-only heading cell; ``reuse`` keeps an existing cell's id."""
    cell = nbformat.v4.new_markdown_cell(text)
    if reuse is not None:
        cell["id"] = reuse["id"]
    cell.metadata["tags"] = [JUPYTERLAB_ONLY]
    if collapsed:
        cell.metadata[COLLAPSED_KEY] = True
    return cell


_DOC_ROLE = re.compile(r"\{doc\}`([^`<]*?)\s*(?:<([^<>`]+)>)?`")


def page_title(path: Path) -> str:
    """The first level-one heading of a book page (notebook or Markdown)."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text()
    found = re.search(r"^#\s+(.+?)\s*$", text, re.M)
    if not found:
        raise ValueError(f"{path} has no level-one heading to use as a link's text")
    return found.group(1)


def doc_links(text: str, folder: Path) -> str:
    """``text`` with each ``{doc}`` role replaced by a link to the page's file.

    ``folder`` holds the pages (``book/``). A target that names no page
    there is left as it is, for the book's build to report.
    """
    def link(match):
        label, target = match.group(1).strip(), match.group(2)
        target = (target or label).strip()
        if target.startswith("/"):
            return match.group(0)
        for suffix in (".ipynb", ".md"):
            path = folder / f"{target}{suffix}"
            if path.exists():
                shown = label if match.group(2) else page_title(path)
                return f"[{shown}]({target}{suffix})"
        return match.group(0)

    return _DOC_ROLE.sub(link, text)


#: A code cell that builds widgets: an explorer's wiring.
_WIDGET_WIRING = re.compile(r"\bwidgets\.[A-Z]\w*\b|\bwidgets\.interact(ive)?\(|\binteractive_output\(")
#: Tags that already keep a cell's code out of the page's flow.
_HIDDEN = {"hide-input", "remove-input", "hide-cell", "remove-cell"}


def is_explorer_wiring(cell) -> bool:
    """An explorer's code: builds widgets, and is not an exercise's show() line."""
    return (cell["cell_type"] == "code"
            and bool(_WIDGET_WIRING.search(cell["source"]))
            and not cell["source"].lstrip().startswith("show("))


def normalize(nb, info: dict | None = None, folder: Path | None = None) -> None:
    """Apply the course's storage and fold conventions to ``nb`` in place."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info() if info is None else info
    nb.metadata.pop("widgets", None)

    folder = ROOT / "book" if folder is None else folder
    for cell in nb.cells:
        if cell["cell_type"] == "markdown":
            cell["source"] = doc_links(cell["source"], folder)

    cells = list(nb.cells)
    out = []
    inside = False
    for index, cell in enumerate(cells):
        text = cell["source"]
        if is_solution_heading(cell) or is_inserted_exercise_heading(cell):
            continue           # put back below, where they belong
        if cell["cell_type"] == "markdown" and _SOLUTION_START.search(text):
            before = cells[index - 1] if index else None
            out.append(_heading_cell(
                SOLUTION_HEADING, collapsed=True,
                reuse=before if before and is_solution_heading(before) else None))
            inside = True
        if not inside and is_explorer_wiring(cell):
            # The page shows the explorer; its wiring is one click away.
            tags = cell["metadata"].setdefault("tags", [])
            if not _HIDDEN & set(tags):
                tags.append("hide-input")
        if inside and cell["cell_type"] == "code":
            lines = text.splitlines()
            if not lines or lines[0] != WORKED:
                cell["source"] = WORKED + "\n" + text
            jupyter = cell["metadata"].setdefault("jupyter", {})
            jupyter["source_hidden"] = True
            jupyter["outputs_hidden"] = True
        out.append(cell)
        if cell["cell_type"] == "markdown" and _SOLUTION_END.search(text):
            inside = False
            following = [c for c in cells[index + 1:]
                         if not is_inserted_exercise_heading(c)]
            level = heading_level(following[0]["source"]) if following else 1
            if following and not (
                    following[0]["cell_type"] == "markdown"
                    and 0 < level <= heading_level(SOLUTION_HEADING)):
                after = cells[index + 1]
                out.append(_heading_cell(
                    EXERCISE_HEADING.format(number=0), collapsed=False,
                    reuse=after if is_inserted_exercise_heading(after) else None))
    # Number the inserted headings after the exercises that follow them.
    count = 0
    for cell in out:
        if is_inserted_exercise_heading(cell):
            cell["source"] = EXERCISE_HEADING.format(number=count + 1)
        elif cell["cell_type"] == "markdown":
            count += len(_EXERCISE.findall(cell["source"]))
    for cell in out:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        if not cell.get("metadata", {}).get("tags", True):
            del cell["metadata"]["tags"]
    nb.cells = out


def normalize_file(path: Path) -> bool:
    """Normalise one notebook on disk; returns whether it changed."""
    before = path.read_text()
    nb = nbformat.read(path, as_version=4)
    normalize(nb, folder=path.parent)
    after = nbformat.writes(nb) + "\n"
    if after == before:
        return False
    path.write_text(after)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to normalise (default: book/*.ipynb)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        if normalize_file(path):
            print(f"normalised {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
