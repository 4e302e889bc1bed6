"""The structure chapter in JupyterLab, driven in a real browser.

Starts ``jupyter lab`` on 127.0.0.1 with a token and temporary settings and
runtime folders, opens a copy of the chapter (so nothing is saved into
``book/``), runs every cell, and checks what a learner sees: the exercise
markup rendered by jupyterlab-myst, the explorer reacting to a slider, and an
exercise's Check button giving feedback. The server is stopped at the end,
whatever happened.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "structure.ipynb"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium_executable):
    tmp = tmp_path_factory.mktemp("lab")
    notebooks = tmp / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "book" / CHAPTER, notebooks / CHAPTER)
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
        # The last code cell prints the bottleneck factor when everything has run.
        page.get_by_text("factor 8.47").wait_for(timeout=240_000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                              " .jp-RenderedText:has-text('Traceback')")
        assert errors.count() == 0

        # jupyterlab-myst renders the exercise directives instead of showing raw markup.
        markdown = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .myst")
        assert markdown.count() > 10
        all_text = page.locator(".jp-Notebook").inner_text()
        assert "{exercise}" not in all_text and "{solution-start}" not in all_text
        exercise = page.locator(".jp-MarkdownCell", has_text="How many parameters does it have")
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

        # The first exercise: a wrong answer, then the right one.
        box = page.locator(".conv1x1-exercise").first
        field = box.locator("input[type='text']")
        check = box.locator("button", has_text="Check")
        field.fill("one hundred")
        check.click()
        box.get_by_text("is not a number").wait_for(timeout=20_000)
        field.fill("123")
        check.click()
        box.get_by_text("too small").wait_for(timeout=20_000)
        field.fill("16,448")
        check.click()
        box.get_by_text("Correct: 16,448").wait_for(timeout=20_000)
        assert "✔" in box.inner_text()
    finally:
        (ROOT / "_build" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "_build" / "screenshots" / "lab-structure.png"))
        context.close()
    assert outside == [], f"JupyterLab requested other hosts: {outside}"
