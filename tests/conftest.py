"""Shared test fixtures.

``built_book`` builds the whole book once per test run, from a clean output
folder, with warnings as errors; every test that inspects the HTML uses it.
Under pytest-xdist the workers share one build through a file lock.
"""

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def testrun_id(request):
    """An id shared by all xdist workers of one run (their own pid when not under xdist)."""
    worker_input = getattr(request.config, "workerinput", None)
    if worker_input is not None:
        return worker_input["testrunuid"]
    return f"single-{os.getpid()}"


@pytest.fixture(scope="session")
def built_book(testrun_id):
    """Build the book into a fresh folder; returns (html_dir, build_log)."""
    out = Path(tempfile.gettempdir()) / f"conv1x1-book-{testrun_id}"
    out.mkdir(exist_ok=True)
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log_file = out / "build.log"
        if not (out / "done").exists():
            jupyter_book = Path(sys.executable).with_name("jupyter-book")
            result = subprocess.run(
                [str(jupyter_book), "build", str(ROOT), "--path-output", str(out),
                 "-W", "-n", "--keep-going"],
                capture_output=True, text=True, timeout=1800)
            log_file.write_text(result.stdout + result.stderr)
            (out / "done").write_text(str(result.returncode))
        returncode = int((out / "done").read_text())
    log = log_file.read_text()
    assert returncode == 0, f"The book did not build cleanly:\n{log[-6000:]}"
    return out / "_build" / "html", log
