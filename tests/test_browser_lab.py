"""The structure chapter in JupyterLab, driven in a real browser.

Starts ``jupyter lab`` on 127.0.0.1 with a token and temporary settings and
runtime folders, opens a copy of the chapter (so nothing is saved into
``book/``), runs every cell, and checks what a learner sees: the exercise
markup rendered by jupyterlab-myst, the worked solutions folded (source and
output), the explorer reacting to a slider, a text exercise's Check button
giving feedback, and a function exercise checking the function the learner
defines again in a new cell. The server is stopped at the end, whatever
happened.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "structure.ipynb"
#: Printed by a cell appended to the copy: every cell before it has run.
SENTINEL = "every cell of the chapter ran"
#: The chapter's function exercise, and a correct answer a learner might type.
FUNCTION_LABEL = "structure-ex-implement"
FUNCTION_NAME = "my_pointwise"
LEARNER_ANSWER = "def my_pointwise(x, w, b):\n    return x @ w + b\n"


def solution_cells(path):
    """What the chapter folds for JupyterLab.

    Returns the code cells with jupyter.source_hidden, lines of their code
    below the first (the collapsed cell shows only its first line) that appear
    nowhere else in the chapter, and the indices of the markdown cells inside
    solution blocks.
    """
    cells = json.loads(path.read_text())["cells"]
    hidden = [c for c in cells if c["cell_type"] == "code"
              and c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
    elsewhere = "\n".join("".join(c["source"]) for c in cells if c not in hidden)
    lines = [line.strip() for c in hidden
             for line in "".join(c["source"]).strip().splitlines()[1:]]
    unique = [line for line in lines if len(line) > 12 and line not in elsewhere]
    explanations, inside = [], False
    for index, cell in enumerate(cells):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "{solution-start}" in text:
            inside = True
        elif cell["cell_type"] == "markdown" and "{solution-end}" in text:
            inside = False
        elif inside and cell["cell_type"] == "markdown":
            explanations.append(index)
    return hidden, unique, explanations


def cell_index(cells, source):
    """The index of the cell whose whole source is ``source``."""
    return next(i for i, c in enumerate(cells) if "".join(c["source"]).strip() == source)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium_executable):
    tmp = tmp_path_factory.mktemp("lab")
    notebooks = tmp / "notebooks"
    notebooks.mkdir()
    chapter = json.loads((ROOT / "book" / CHAPTER).read_text())
    chapter["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {},
                             "outputs": [], "source": f"print({SENTINEL!r})"})
    (notebooks / CHAPTER).write_text(json.dumps(chapter, indent=1))
    settings = tmp / "settings"
    # Render every cell, not only those scrolled into view, so the page can be checked.
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # No "get notified about Jupyter news?" pop-up over the notebook.
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    # A learner's kernel starts without TF_CPP_MIN_LOG_LEVEL: the chapter itself must
    # keep TensorFlow quiet (conv1x1.environment.quiet_tensorflow).
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (tmp / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token, notebooks
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_for_idle_kernel(page, base, token, timeout=180):
    """Poll the server until the opened notebook has a kernel that is idle.

    Waits with ``page.wait_for_timeout``, not ``time.sleep``: the page's
    requests pass through a Python route handler, which only runs while
    Playwright has control.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as reply:
            sessions = json.load(reply)
        if any(s.get("kernel", {}).get("execution_state") == "idle" for s in sessions):
            return
        page.wait_for_timeout(1000)
    raise AssertionError(f"no idle kernel after {timeout} s: {sessions}")


def test_structure_chapter_in_jupyterlab(lab, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    base, token, notebooks = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    outside = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:", "ws://127.0.0.1")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    try:
        page.goto(f"{base}/lab/tree/{CHAPTER}?token={token}")
        page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").nth(5).wait_for(timeout=60_000)
        # Wait until the server reports the notebook's kernel idle, then run every
        # cell from the Run menu (again, if a slow start swallowed the first try).
        wait_for_idle_kernel(page, base, token)
        for attempt in range(2):
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            try:
                page.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=60_000)
                break
            except PlaywrightTimeout:
                if attempt:
                    raise
        # The appended last cell prints the sentinel once everything has run; Run All
        # stops at an error, so a traceback is reported instead of waiting in vain.
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                              " .jp-RenderedText:has-text('Traceback')")
        ran = page.locator(".jp-OutputArea-output", has_text=SENTINEL)
        ran.or_(errors).first.wait_for(state="attached", timeout=300_000)
        assert errors.count() == 0, errors.first.text_content()[-3000:]
        # No TensorFlow start-up lines: the first cell shows nothing, and no message
        # about CUDA or oneDNN appears anywhere.
        first_cell = page.locator(".jp-Notebook .jp-CodeCell").first
        assert first_cell.locator(".jp-OutputArea-output").count() == 0, (
            first_cell.locator(".jp-OutputArea").text_content()[:2000])
        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        for i in range(stderr.count()):
            text = stderr.nth(i).text_content()
            assert not any(word in text for word in ("cuda", "cuInit", "oneDNN", "absl")), text

        # jupyterlab-myst renders the exercise directives instead of showing raw markup.
        markdown = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .myst")
        assert markdown.count() > 10
        all_text = page.locator(".jp-Notebook").inner_text()
        assert "{exercise}" not in all_text and "{solution-start}" not in all_text
        exercise = page.locator(".jp-MarkdownCell", has_text="Predict the shape of the output")
        assert exercise.locator("aside, .admonition, [class*='exercise']").count() >= 1

        # The explorer: changing a slider updates the printed shapes.
        explorer = page.locator(".widget-interact").first
        explorer.wait_for()
        output = explorer.locator(".jp-OutputArea-output, .widget-output").last
        assert "(8, 28, 28, 64)" in output.inner_text()
        handle = explorer.locator(".widget-slider").first.locator(".noUi-handle")
        handle.focus()
        page.keyboard.press("ArrowRight")
        # The output area is re-rendered, so look it up again.
        explorer.get_by_text("(8, 29, 28, 64)").wait_for(timeout=20_000)

        # The first exercise, a shape: malformed, wrong, then right; each Check
        # replaces the verdict.
        box = page.locator(".conv1x1-exercise").first
        field = box.locator("input[type='text']")
        check = box.locator("button", has_text="Check")
        field.fill("one hundred")
        check.click()
        box.get_by_text("is not a whole number").wait_for(timeout=20_000)
        field.fill("(8, 28, 28, 32)")
        check.click()
        box.get_by_text("wrong in axis 1, 2").wait_for(timeout=20_000)
        field.fill("(8, 14, 14, 32)")
        check.click()
        box.get_by_text("Correct: (8, 14, 14, 32)").wait_for(timeout=20_000)
        assert "✔" in box.inner_text() and "wrong in axis" not in box.inner_text()
        hint = box.locator("button", has_text="Hint")
        hint.click()
        box.get_by_text("Hint 1 of").wait_for(timeout=20_000)
        assert "Hint 2 of" not in box.inner_text()

        # The function exercise: Check runs the chapter's buggy my_pointwise ...
        function_box = page.locator(".conv1x1-exercise", has_text=FUNCTION_NAME)
        assert function_box.count() == 1
        function_check = function_box.locator("button", has_text="Check")
        function_check.click()
        function_box.get_by_text("Case 1").wait_for(timeout=30_000)
        assert "✘" in function_box.inner_text()
        # ... then the learner defines the function again in a new cell below the
        # exercise's widget, runs that cell, and Check finds the new definition.
        widget_cell = page.locator(".jp-CodeCell", has=function_box)
        widget_cell.locator(".jp-InputPrompt").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        new_cell = widget_cell.locator(
            "xpath=following-sibling::div[contains(concat(' ', @class, ' '), ' jp-Cell ')][1]")
        new_cell.locator(".cm-content").wait_for(timeout=20_000)
        new_cell.locator(".cm-content").click()
        page.keyboard.insert_text(LEARNER_ANSWER)
        typed = new_cell.locator(".cm-content").inner_text()
        assert typed.split() == LEARNER_ANSWER.split(), typed
        page.keyboard.press("Shift+Enter")
        new_cell.locator(".jp-InputPrompt").filter(
            has_text=re.compile(r"\[\d+\]")).wait_for(timeout=30_000)
        function_check.click()
        function_box.get_by_text("Correct on all").wait_for(timeout=30_000)
        assert "✔" in function_box.inner_text() and "Case 1" not in function_box.inner_text()

        # Every worked solution stays folded after Run All: its code cells show a
        # placeholder instead of their source and show no output (JupyterLab shows a
        # cell's output once it runs, so solution code must print nothing), and its
        # explanations show only the title of their folded block.
        hidden, unique_lines, explanations = solution_cells(notebooks / CHAPTER)
        assert len(hidden) >= 3 and unique_lines
        placeholders = page.locator(".jp-CodeCell .jp-InputPlaceholder")
        assert placeholders.count() == len(hidden)
        for i in range(len(hidden)):
            assert placeholders.nth(i).is_visible()
        all_text = page.locator(".jp-Notebook").inner_text()
        for line in unique_lines:
            # The placeholder shows a cell's first line, never the rest of its source
            # (lines the learner typed in the new cell above are theirs to see).
            if line not in LEARNER_ANSWER:
                assert line not in all_text, f"solution source in sight: {line}"
        shown = page.locator(".jp-CodeCell:has(.jp-InputPlaceholder) "
                            ".jp-OutputArea-output:visible")
        assert shown.count() == 0, (
            "solution output in sight after Run All: "
            + " | ".join(shown.nth(i).inner_text()[:200] for i in range(shown.count())))
        cells = json.loads((notebooks / CHAPTER).read_text())["cells"]
        widget_index = cell_index(cells, f'show("{FUNCTION_LABEL}")')
        dom_cells = page.locator(".jp-Notebook .jp-Cell")
        assert dom_cells.count() == len(cells) + 1  # the learner's new cell
        for index in explanations:
            # The learner's new cell sits right after the widget cell.
            dom = dom_cells.nth(index + 1 if index > widget_index else index)
            visible = dom.inner_text().strip()
            assert len(visible) <= 80, f"an explanation is open after Run All: {visible[:300]}"
    finally:
        (ROOT / "_build" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "_build" / "screenshots" / "lab-structure.png"))
        context.close()
    assert outside == [], f"JupyterLab requested other hosts: {outside}"
