"""Run every chapter once per test run: nbval executes it, the book reuses it.

nbval executes each chapter as a test. With ``--record-notebooks DIR`` this
plugin also keeps what nbval received from the kernel, every cell's outputs
and the state of every widget, and writes each chapter that ran without a
failure to ``DIR/book/NAME.ipynb``, as an executed notebook with the hash of
its source. The strict build of the book in ``tests/conftest.py`` then renders
those notebooks instead of executing the chapters a second time.

The widget state is gathered from the kernel's ``comm_open`` and ``comm_msg``
messages the way nbclient gathers it for ``jupyter nbconvert --execute`` and
for the book's own build, so the HTML book shows the same widgets.

Tests that need the built book carry the marker ``book`` (added here to every
test that uses the ``built_book`` fixture), so that ``make test`` can run them
after the chapters: ``-m "not book"`` first, then ``-m book``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def source_hash(path: Path) -> str:
    """The hash an executed copy records of the notebook it was run from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def executed_book_source(executed: Path, staging: Path) -> tuple[Path | None, str]:
    """The book's source with every chapter replaced by its executed copy.

    Returns ``(folder, "")`` when ``executed`` holds an up-to-date executed
    copy of every notebook in ``book/``: ``folder`` is a copy of the book's
    source (configuration, table of contents, bibliography, extension, pages)
    in ``staging``, set not to execute anything. Otherwise returns
    ``(None, reason)``, and the caller builds from the repository, executing.
    """
    import json
    import shutil

    import yaml

    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        copy_path = executed / notebook.relative_to(ROOT)
        if not copy_path.exists():
            return None, f"{notebook.name} has no executed copy in {executed}"
        recorded = json.loads(copy_path.read_text())["metadata"].get(
            "conv1x1_executed_from")
        if recorded != source_hash(notebook):
            return None, f"the executed copy of {notebook.name} is out of date"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    (staging / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    for name in ("_toc.yml", "references.bib"):
        shutil.copy2(ROOT / name, staging / name)
    shutil.copytree(ROOT / "_ext", staging / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "book", staging / "book",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.ipynb"))
    for notebook in sorted((executed / "book").glob("*.ipynb")):
        if (ROOT / "book" / notebook.name).exists():
            shutil.copy2(notebook, staging / "book" / notebook.name)
    (staging / "_build").mkdir()
    (staging / "_build" / "offline-assets").symlink_to(ROOT / "_build" / "offline-assets")
    return staging, ""


@pytest.fixture(scope="session")
def book_source(tmp_path_factory):
    """Where the strict build reads the book from, and whether it must execute.

    ``(staged folder, False)`` when the chapters were recorded by an earlier
    ``--record-notebooks`` run (``make test`` does that first); otherwise
    ``(the repository, True)``, and the build executes the chapters itself.
    """
    executed = ROOT / "_build" / "executed"
    staging = tmp_path_factory.mktemp("book-source")
    folder, _ = executed_book_source(executed, staging)
    return (folder, False) if folder is not None else (ROOT, True)


def pytest_addoption(parser):
    parser.addoption(
        "--record-notebooks", metavar="DIR", default=None,
        help="write each notebook that nbval executes without a failure, with "
             "its outputs and widget state, under DIR (the book build reuses them)")
    parser.addoption(
        "--book-files-only", action="store_true", default=False,
        help="collect only the files in BOOK_TEST_FILES (the tests of the built "
             "book); `make test` uses it after the chapters")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "book: needs the built HTML book (run after the chapters)")
    directory = config.getoption("--record-notebooks")
    if directory and config.pluginmanager.hasplugin("nbval"):
        config.pluginmanager.register(NotebookRecorder(Path(directory)),
                                      "notebook-recorder")


#: The test files that hold tests of the built book. ``make test`` collects only
#: these after the chapters (``--book-files-only``), so that its workers need
#: not import TensorFlow and every other test module again; a book test in any
#: other file stops the run with a message, so the list cannot fall behind.
BOOK_TEST_FILES = ("tests/test_book.py", "tests/test_browser_book.py",
                   "tests/test_browser_live.py", "tests/test_links.py")


def pytest_ignore_collect(collection_path, config):
    if not config.getoption("--book-files-only"):
        return None
    path = Path(collection_path)
    if path.suffix == ".ipynb":
        return True
    if path.suffix == ".py" and path.name.startswith("test_"):
        return _relative(path) not in BOOK_TEST_FILES
    return None


def _relative(path) -> str:
    """``path`` relative to the repository, as the list above writes it."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def pytest_collection_modifyitems(items):
    for item in items:
        if {"built_book", "served_book"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.book)
            relative = _relative(item.path)
            if relative not in BOOK_TEST_FILES:
                raise pytest.UsageError(
                    f"{item.nodeid} needs the built book, but {relative} is not in "
                    "BOOK_TEST_FILES in conftest.py, so `make test` would never run "
                    f"it: add {relative!r} to that list.")


class _Record:
    """One notebook being executed: its copy, its widgets, whether it failed."""

    def __init__(self, notebook):
        self.notebook = copy.deepcopy(notebook)
        for cell in self.notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        self.widget_state: dict[str, dict] = {}
        self.widget_buffers: dict[str, dict] = {}
        self.count = 0
        self.failed = False
        self.capturing: dict[str, str] = {}   # Output widget -> msg_id it captures
        self.clear_pending: set[str] = set()

    def comm(self, msg) -> None:
        # As nbclient.NotebookClient.handle_comm_msg does for the book's build.
        content = msg["content"]
        data = content.get("data", {})
        if "state" not in data:
            return
        comm_id = content["comm_id"]
        self.widget_state.setdefault(comm_id, {}).update(data["state"])
        if (self.widget_state[comm_id].get("_model_name") == "OutputModel"
                and "msg_id" in data["state"]):
            self.capturing[comm_id] = data["state"]["msg_id"]
        paths = data.get("buffer_paths") or []
        if paths:
            buffers = self.widget_buffers.setdefault(comm_id, {})
            for path, buffer in zip(paths, msg.get("buffers", [])):
                buffers[tuple(path)] = {
                    "data": base64.b64encode(bytes(buffer)).decode("ascii"),
                    "encoding": "base64", "path": path}

    def capture(self, msg) -> bool:
        """Give an output to the Output widget that captures it, as a frontend does.

        Inside ``with output_widget:`` (and so in every ``interactive``
        explorer) the kernel sets the widget's ``msg_id``; the outputs that
        follow belong to the widget, not to the cell. Returns whether ``msg``
        was taken. Errors are never taken, so that they still fail the test.
        """
        kind = msg.get("msg_type")
        if kind not in ("stream", "display_data", "execute_result", "clear_output"):
            return False
        parent = msg.get("parent_header", {}).get("msg_id")
        owners = [c for c, m in self.capturing.items() if m and m == parent]
        if not owners:
            return False
        comm_id = owners[-1]
        outputs = self.widget_state[comm_id].setdefault("outputs", [])
        content = msg["content"]
        if kind == "clear_output":
            if content.get("wait"):
                self.clear_pending.add(comm_id)
            else:
                outputs.clear()
            return True
        if comm_id in self.clear_pending:
            outputs.clear()
            self.clear_pending.discard(comm_id)
        if kind == "stream":
            if outputs and outputs[-1].get("name") == content["name"]:
                outputs[-1]["text"] += content["text"]
            else:
                outputs.append({"output_type": "stream", "name": content["name"],
                                "text": content["text"]})
        else:
            outputs.append({"output_type": "display_data", "data": content["data"],
                            "metadata": content.get("metadata", {})})
        return True

    def widgets_metadata(self) -> dict:
        state = {}
        for model_id, values in self.widget_state.items():
            if "_model_name" not in values:
                continue
            state[model_id] = {
                "model_name": values.get("_model_name"),
                "model_module": values.get("_model_module"),
                "model_module_version": values.get("_model_module_version"),
                "state": values,
            }
            if self.widget_buffers.get(model_id):
                state[model_id]["buffers"] = list(self.widget_buffers[model_id].values())
        return {"application/vnd.jupyter.widget-state+json": {
            "state": state, "version_major": 2, "version_minor": 0}}


class NotebookRecorder:
    """A pytest plugin that records what nbval's kernels send back."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.records: dict[object, _Record] = {}
        from nbval.plugin import IPyNbFile

        original = IPyNbFile.get_kernel_message
        records = self.records

        def get_kernel_message(notebook_file, *args, **kwargs):
            msg = original(notebook_file, *args, **kwargs)
            record = records.get(notebook_file)
            if record is None:
                return msg
            if msg.get("msg_type") in ("comm_open", "comm_msg"):
                record.comm(msg)
            elif record.capture(msg):
                # Shown inside a widget: nbval skips messages of other parents.
                msg = dict(msg, parent_header={})
            return msg

        # nbval reads every iopub message through this one method; wrapping it
        # is how widget messages, which nbval itself ignores, reach the record.
        IPyNbFile.get_kernel_message = get_kernel_message

    def _record_for(self, item):
        notebook_file = item.parent
        if notebook_file not in self.records:
            self.records[notebook_file] = _Record(notebook_file.nb)
        return self.records[notebook_file]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        from nbval.plugin import IPyNbCell

        if isinstance(item, IPyNbCell):
            self._record_for(item)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        from nbval.plugin import IPyNbCell

        if not isinstance(item, IPyNbCell):
            return
        report = outcome.get_result()
        record = self._record_for(item)
        if report.failed:
            record.failed = True
        if call.when != "call" or item.test_outputs is None:
            return
        index = next(i for i, cell in enumerate(item.parent.nb.cells) if cell is item.cell)
        record.count += 1
        cell = record.notebook.cells[index]
        cell.execution_count = record.count
        outputs = copy.deepcopy(item.test_outputs)
        # nbval runs cells without storing them in IPython's history, so a
        # final ";" does not hide the cell's value as it does in Jupyter.
        from IPython.core.displayhook import DisplayHook

        if DisplayHook.semicolon_at_end_of_expression(item.cell.source):
            outputs = [o for o in outputs if o.get("output_type") != "execute_result"]
        cell.outputs = outputs

    def pytest_runtest_teardown(self, item, nextitem):
        from nbval.plugin import IPyNbCell

        if not isinstance(item, IPyNbCell):
            return
        if nextitem is not None and nextitem.parent is item.parent:
            return
        record = self.records.pop(item.parent, None)
        if record is None or record.failed:
            return
        import nbformat

        source = Path(str(item.parent.fspath))
        target = self.directory / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        if record.widget_state:
            record.notebook.metadata["widgets"] = record.widgets_metadata()
        record.notebook.metadata["conv1x1_executed_from"] = source_hash(source)
        nbformat.write(record.notebook, target)
