"""Shared test fixtures, and two rules for the whole run.

``built_book`` builds the whole book once per test run, from a clean output
folder, with warnings as errors; every test that inspects the HTML uses it.
Under pytest-xdist the workers share one build through a file lock.

No outside network: every test runs under pytest-socket with connections
allowed only to the loopback interface (127.0.0.1, ::1, localhost) and to
Unix sockets, so the book's local server, JupyterLab and its kernels work
and anything else fails with ``SocketConnectBlockedError``. Kernels that
nbval starts are other processes and talk over ZeroMQ; the rule applies to
the test process. ``--allow-hosts`` on the command line replaces the list.

Browser tests need Chromium. Without it they FAIL, unless the run asks to
leave them out: ``SKIP_BROWSER_TESTS=1`` in the environment or
``--skip-browser-tests`` on the pytest command line; then they are skipped
with a reason that says so.
"""

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Hypothesis keeps its example database out of the working tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), "conv1x1-hypothesis"))

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1,::1,localhost"


def load_file(name, path):
    """The Python file at ``path`` (a script, or the root conftest.py), loaded
    as a module called ``name``; scripts/ is not a package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_addoption(parser):
    parser.addoption("--skip-browser-tests", action="store_true", default=False,
                     help="skip the tests that drive Chromium (same as the environment "
                          "variable SKIP_BROWSER_TESTS=1); without it a missing "
                          "browser is a failure")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before pytest-socket reads its options: loopback only, unless the command
    # line gave its own list.
    if hasattr(config.option, "allow_hosts") and not config.option.allow_hosts:
        config.option.allow_hosts = LOOPBACK
        config.option.allow_unix_socket = True


def browser_tests_skipped(config) -> bool:
    """Whether this run asked to leave the browser tests out."""
    flag = os.environ.get("SKIP_BROWSER_TESTS", "").strip().lower()
    return config.getoption("--skip-browser-tests") or flag in ("1", "true", "yes")


@pytest.fixture(scope="session")
def testrun_id(request):
    """An id shared by all xdist workers of one run (their own pid when not under xdist)."""
    worker_input = getattr(request.config, "workerinput", None)
    if worker_input is not None:
        return worker_input["testrunuid"]
    return f"single-{os.getpid()}"


@pytest.fixture(scope="session")
def built_book(testrun_id, book_source):
    """Build the book into a fresh folder; returns (html_dir, build_log).

    The chapters are not executed again when ``make test`` has just run them
    under nbval and recorded them (``book_source`` in the root conftest.py);
    run alone, the build executes them itself.
    """
    out = Path(tempfile.gettempdir()) / f"conv1x1-book-{testrun_id}"
    out.mkdir(exist_ok=True)
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log_file = out / "build.log"
        if not (out / "done").exists():
            source, executes = book_source
            jupyter_book = Path(sys.executable).with_name("jupyter-book")
            result = subprocess.run(
                [str(jupyter_book), "build", str(source), "--path-output", str(out),
                 "-W", "-n", "--keep-going"],
                capture_output=True, text=True, timeout=1800)
            origin = ("executing the chapters" if executes
                      else "from the chapters nbval executed and recorded")
            log_file.write_text(f"Built {origin}.\n" + result.stdout + result.stderr)
            (out / "done").write_text(str(result.returncode))
        returncode = int((out / "done").read_text())
    log = log_file.read_text()
    assert returncode == 0, f"The book did not build cleanly:\n{log[-6000:]}"
    return out / "_build" / "html", log


# --------------------------------------------------------------------------
# A real browser: Playwright driving the system's Chromium.

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def find_chromium():
    import shutil

    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium(config):
    """Chromium's path; skips on request, fails when it is missing."""
    if browser_tests_skipped(config):
        pytest.skip("browser tests skipped on request (SKIP_BROWSER_TESTS=1 or "
                    "--skip-browser-tests)")
    path = find_chromium()
    if path is None or not os.access(path, os.X_OK):
        pytest.fail(
            f"Browser tests need Chromium, which was not found"
            f"{'' if path is None else f' at CHROMIUM={path!r}'}. Install it "
            "(Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM to a "
            "Chrome or Chromium executable; to run without the browser tests, set "
            "SKIP_BROWSER_TESTS=1 or pass --skip-browser-tests.", pytrace=False)
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Decide before any fixture runs, so that a browser test does not first
    # build the book only to be skipped or to fail for want of a browser.
    if "chromium_executable" in getattr(item, "fixturenames", ()):
        require_chromium(item.config)


@pytest.fixture(scope="session")
def chromium_executable(pytestconfig):
    return require_chromium(pytestconfig)


@pytest.fixture(scope="module")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable,
                                             headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class GuardedPage:
    """A browser page whose requests may only go to ``allowed_origin``.

    Every request to another host is aborted and recorded; console errors and
    uncaught exceptions are recorded too.
    """

    def __init__(self, context, allowed_origin):
        self.allowed_origin = allowed_origin
        self.blocked = []
        self.errors = []
        self.page = context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.allowed_origin) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture(scope="session")
def served_book(built_book):
    """Serve the built HTML on 127.0.0.1; returns (origin, html_dir)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    html, _ = built_book

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", html
    finally:
        server.shutdown()
        server.server_close()
