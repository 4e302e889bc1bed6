"""The structure chapter in JupyterLab, driven in a real browser.

Starts ``jupyter lab`` on 127.0.0.1 with a token and temporary settings and
runtime folders, opens a copy of the chapter (so nothing is saved into
``book/``), runs every cell, and checks what a learner sees: the exercise
markup rendered by jupyterlab-myst, the worked solutions folded (source and
output), the explorer reacting to a slider, a text exercise's Check button
giving feedback. Then it does what a learner does with the chapter's find-the-
bug exercise and its design exercise: types a right answer into each
learner's cell, runs every cell again, and sees Check say "Correct" for that
version; types a wrong one, Run All, and sees Check say it is wrong. The
worked solutions run with every Run All, so this also shows that they leave
the learner's functions alone. The chapter must not open as modified, and a
link to another page of the book opens that page's file. The server is
stopped at the end, whatever happened.
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
#: What a learner types into the cells above the function exercises' widgets:
#: label -> (function name, a right version, a wrong version).
LEARNER_ANSWERS = {
    "structure-ex-implement": (
        "my_pointwise",
        "def my_pointwise(x, w, b):\n    return x @ w + b\n",
        "def my_pointwise(x, w, b):\n    return x @ w\n"),          # no bias
    "structure-ex-budget": (
        "my_block",
        "def my_block(x):\n    y = keras.layers.Conv2D(16, 1)(x)\n"
        "    y = keras.layers.Conv2D(16, 3, padding=\"same\")(y)\n"
        "    return keras.layers.Conv2D(256, 1)(y)\n",
        "def my_block(x):\n"
        "    return keras.layers.Conv2D(256, 3, padding=\"same\")(x)\n"),   # 590,080
}

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
    chapter["cells"].append({
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "id": "sentinel",
        "source": "sentinel_runs = globals().get('sentinel_runs', 0) + 1\n"
                  f"print({SENTINEL!r}, sentinel_runs)"})
    (notebooks / CHAPTER).write_text(json.dumps(chapter, indent=1))
    # The page the chapter links to, so that following the link can be tried.
    (notebooks / "how_to_use.md").write_text((ROOT / "book" / "how_to_use.md").read_text())
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


def run_all(page, run):
    """Run every cell from the Run menu and wait for the ``run``-th sentinel.

    Run All stops at an error, so a traceback ends the wait too; it is
    returned as a failure message (None when every cell ran).
    """
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                          " .jp-RenderedText:has-text('Traceback')")
    ran = page.locator(".jp-OutputArea-output", has_text=f"{SENTINEL} {run}")
    ran.or_(errors).first.wait_for(state="attached", timeout=300_000)
    return errors.first.text_content()[-3000:] if errors.count() else None


def replace_cell_source(page, cell, text):
    """Type ``text`` over a code cell's source, as a learner editing it would."""
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)
    typed = editor.inner_text()
    assert typed.split() == text.split(), typed
    page.keyboard.press("Escape")


def verdict(page, label):
    """Press Check in the widget of ``label`` and return its verdict's text."""
    box = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=f'show("{label}")')
                       ).locator(".conv1x1-exercise")
    box.locator("button", has_text="Check").click()
    box.get_by_text(re.compile("[✔✘]")).first.wait_for(timeout=60_000)
    return box.inner_text()


def test_structure_chapter_in_jupyterlab(lab, browser):
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
        # The kernel reports its language and spec once it is up; a chapter stored
        # with other metadata is marked modified then.
        wait_for_idle_kernel(page, base, token)
        page.wait_for_timeout(2000)
        tab = page.locator(".lm-TabBar-tab", has_text=CHAPTER)
        assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), (
            "the chapter opens as modified: store it with "
            "scripts/normalize_notebooks.py")

        # A learner's right answers, typed into the cells above the function
        # exercises' widgets (the buggy my_pointwise, the stub of my_block).
        cells = json.loads((notebooks / CHAPTER).read_text())["cells"]
        dom_cells = page.locator(".jp-Notebook .jp-Cell")
        assert dom_cells.count() == len(cells)
        learner_cells = {label: dom_cells.nth(cell_index(cells, f'show("{label}")') - 1)
                         for label in LEARNER_ANSWERS}
        for label, (name, right, _) in LEARNER_ANSWERS.items():
            assert f"def {name}(" in learner_cells[label].locator(".cm-content").inner_text()
            replace_cell_source(page, learner_cells[label], right)
        error = run_all(page, 1)
        assert error is None, error
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

        # Every worked solution is one fold after Run All: a collapsed "Solution"
        # heading that hides all its cells, so neither its code nor what the code
        # shows is in sight (solution code prints nothing in any case).
        hidden, unique_lines, _ = solution_cells(notebooks / CHAPTER)
        assert len(hidden) >= 3 and unique_lines
        folds = page.locator(".jp-MarkdownCell.jp-MarkdownHeadingCollapsed",
                             has_text="Solution")
        solutions = sum("{solution-start}" in "".join(c["source"]) for c in cells)
        assert folds.count() == solutions
        for i in range(solutions):
            assert folds.nth(i).locator(".jp-showHiddenCellsButton").is_visible()
        visible_text = page.locator(".jp-Notebook").inner_text()
        typed = "\n".join(answer for _, right, wrong in LEARNER_ANSWERS.values()
                           for answer in (right, wrong))
        for line in unique_lines:
            # Lines the learner typed above are theirs to see.
            if line not in typed:
                assert line not in visible_text, f"solution source in sight: {line}"
        for index, cell in enumerate(cells):
            if "{solution-start}" in "".join(cell["source"]):
                assert not dom_cells.nth(index).is_visible(), f"cell {index} is not folded"

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

        # The worked solutions ran after the learner's cells and left them alone:
        # Check judges the learner's right versions ...
        for label in LEARNER_ANSWERS:
            text = verdict(page, label)
            assert "✔" in text and "✘" not in text, f"{label}: {text[:500]}"
        # ... and, after a wrong version and Run All again, says it is wrong.
        for label, (_, _, wrong) in LEARNER_ANSWERS.items():
            replace_cell_source(page, learner_cells[label], wrong)
        error = run_all(page, 2)
        assert error is None, error
        for label in LEARNER_ANSWERS:
            text = verdict(page, label)
            assert "✘" in text and "✔" not in text, f"{label}: {text[:500]}"
        assert page.locator(".jp-MarkdownCell.jp-MarkdownHeadingCollapsed",
                            has_text="Solution").count() == solutions

        # A link to another page of the book opens its file in JupyterLab.
        page.locator(".jp-MarkdownCell a", has_text="How to use this book").first.click()
        page.locator(".lm-TabBar-tab", has_text="how_to_use.md").wait_for(timeout=20_000)
        page.locator(".lm-TabBar-tab", has_text=CHAPTER).click()
    finally:
        (ROOT / "_build" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "_build" / "screenshots" / "lab-structure.png"))
        context.close()
    assert outside == [], f"JupyterLab requested other hosts: {outside}"
