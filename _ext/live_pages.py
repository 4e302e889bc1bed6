"""Live pages: a chapter's cells can run on the reader's own kernel.

``make serve`` starts a Jupyter server on this machine beside the book
(``scripts/serve.py``). This extension prepares every chapter page for it,
and changes nothing for a reader without it:

* each code cell's container gets the classes ``live-cell`` and
  ``live-cell-N`` (N: the cell's index in the notebook), so the page's script
  can find the cell of each source;
* the page carries its code cells, in order, as JSON
  (``<script type="application/json" id="live-cells">``): the source, whether
  the reader sees it, and whether it belongs to a worked solution (those run
  only when the reader asks). Cells whose input is removed from the page,
  such as the ``show(...)`` line under each exercise, are there too: they make
  the widgets;
* ``static/live.js`` and ``static/live.css`` are added to every page. The
  script puts a "Make this page live" control at the top of a chapter. It
  connects only to the server whose port and token the URL printed by
  ``make serve`` carries in its fragment; opened from disk or from a static
  host, the control says how to go live and nothing else happens.

The live machinery itself, thebe, is served by the book from
``_static/_vendor/thebe`` (``scripts/vendor_assets.py``), so a live page
needs no network either.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from docutils import nodes

#: A cell that makes widgets is run when the page goes live.
WIDGET_MARKERS = ("show(", "widgets.", "interactive_output(", "interact(")


class _Names(ast.NodeVisitor):
    """What one cell binds at module level, mutates, and reads."""

    def __init__(self):
        self.binds: set[str] = set()
        self.imports: set[str] = set()
        self.mutates: set[str] = set()
        self.uses: set[str] = set()

    def _bind_target(self, target):
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.binds.add(node.id)
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                base = node.value
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name):
                    self.mutates.add(base.id)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.uses.add(node.id)

    def visit_Call(self, node):
        # obj.method(...) may change obj (model.fit, history.append, ax.plot).
        if isinstance(node.func, ast.Attribute):
            base = node.func.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                self.mutates.add(base.id)
        self.generic_visit(node)

    def visit_Assign(self, node):
        for target in node.targets:
            self._bind_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._bind_target(node.target)
        self.uses.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._bind_target(node.target)
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self._bind_target(node.target)
        self.generic_visit(node)

    def visit_For(self, node):
        self._bind_target(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node):
        if node.optional_vars is not None:
            self._bind_target(node.optional_vars)
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            name = (alias.asname or alias.name).split(".")[0]
            self.binds.add(name)
            self.imports.add(name)

    visit_ImportFrom = visit_Import

    def _definition(self, node):
        self.binds.add(node.name)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        # The body runs when called, on the globals of that time: the global
        # names it reads count as read by this cell. Names it binds (its
        # parameters among them) are its own, unless declared global.
        inner = _Names()
        arguments = getattr(node, "args", None)
        if arguments is not None:
            for default in [*arguments.defaults, *arguments.kw_defaults]:
                if default is not None:
                    self.visit(default)
            inner.binds.update(a.arg for a in ast.walk(arguments) if isinstance(a, ast.arg))
        for child in node.body:
            inner.visit(child)
        declared = {n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names}
        local = inner.binds - declared
        self.uses.update(inner.uses - local)
        self.mutates.update((inner.mutates - local) | (inner.binds & declared))
        self.binds.update(inner.binds & declared)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Lambda(self, node):
        inner = _Names()
        inner.visit(node.body)
        params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        self.uses.update(inner.uses - params)

    def _comprehension(self, node):
        inner = _Names()
        for generator in node.generators:
            inner._bind_target(generator.target)
            inner.visit(generator.iter)
            for condition in generator.ifs:
                inner.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                inner.visit(getattr(node, part))
        self.uses.update(inner.uses - inner.binds)
        self.mutates.update(inner.mutates - inner.binds)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def cell_names(source: str):
    """(binds, mutates, uses, imports) of a cell's code; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    names = _Names()
    names.visit(tree)
    return names.binds, names.mutates, names.uses, names.imports


def dependencies(sources: list[str]) -> list[list[int]]:
    """For each cell, the earlier cells it needs, in order (positions in ``sources``).

    Cell j is needed by cell k when j binds or changes a name that k reads;
    a method called on a name (``model.fit(...)``) counts as changing it,
    unless the name is a module the chapter imports. The relation is closed,
    so running a cell's dependencies in order and then
    the cell reproduces what it saw when the chapter ran top to bottom. A cell
    that does not parse (a shell escape, say) needs every cell before it, and
    is needed by every cell after it.
    """
    names = [cell_names(source) for source in sources]
    # A call on a module (np.mean, plt.subplots) is not a change to it.
    modules = set().union(*(n[3] for n in names if n is not None))
    direct = []
    for k, mine in enumerate(names):
        needs = set()
        for j in range(k):
            theirs = names[j]
            if mine is None or theirs is None or (
                    (theirs[0] | (theirs[1] - modules)) & mine[2]):
                needs.add(j)
        direct.append(needs)
    closed: list[set[int]] = []
    for k, needs in enumerate(direct):
        full = set(needs)
        for j in needs:
            full |= closed[j]
        closed.append(full)
    return [sorted(needs) for needs in closed]


def notebook_cells(path) -> list[dict]:
    """The code cells of the notebook at ``path``, as the page's script reads them."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = []
    in_solution = False
    for index, cell in enumerate(notebook["cells"]):
        source = cell["source"]
        source = "".join(source) if isinstance(source, list) else source
        if cell["cell_type"] == "markdown":
            if "{solution-start}" in source:
                in_solution = True
            elif "{solution-end}" in source:
                in_solution = False
            continue
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        cells.append({
            "index": index,
            "source": source,
            "shown": not ({"remove-input", "remove-cell"} & set(tags)),
            "solution": in_solution,
            "setup": not in_solution and any(m in source for m in WIDGET_MARKERS),
        })
    needs = dependencies([cell["source"] for cell in cells])
    for cell, positions in zip(cells, needs):
        cell["deps"] = [cells[p]["index"] for p in positions]
    return cells


def script_payload(cells: list[dict], notebook: str) -> str:
    """The JSON block, safe inside a <script> element."""
    text = json.dumps({"notebook": notebook, "cells": cells}, ensure_ascii=True)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _mark_cells(app, doctree):
    docname = app.env.docname
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".ipynb":
        return
    found = False
    for node in doctree.findall(nodes.container):
        if node.get("nb_element") == "cell_code":
            node["classes"].extend(["live-cell", f"live-cell-{node['cell_index']}"])
            found = True
    cells = notebook_cells(path)
    if not found or not cells:
        return
    payload = script_payload(cells, path.name)
    doctree.append(nodes.raw(
        "", f'<script type="application/json" id="live-cells">{payload}</script>\n',
        format="html"))


def setup(app):
    app.connect("doctree-read", _mark_cells)
    app.add_js_file("live.js", defer="defer")
    app.add_css_file("live.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
