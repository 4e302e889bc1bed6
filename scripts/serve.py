"""Serve the built book with a live Python kernel behind it, on this machine only.

``make serve`` runs this after ``make book``. It starts two servers, both
listening on the loopback interface (127.0.0.1) and nowhere else:

* the book: the static HTML of ``_build/html``, as a plain file server;
* a Jupyter server, on the course's ``.venv`` kernel, that the book's pages
  connect to when the reader asks for a page to be made live.

A live kernel runs any code it is sent, so nobody else may reach it:

* the Jupyter server asks for a token that is random for each run. The
  token reaches the page only through the fragment of the URL printed here
  (``#live=...``), which a browser never sends to a server, so it is never
  written into the book, the repository or a log that the book serves; the
  Jupyter server's own runtime files, which hold it too, go to a private
  temporary folder removed at exit;
* only the book's own origin may use the Jupyter server from a browser
  (``allow_origin`` is that one origin: no wildcard, no pattern), and a
  request that names another origin is refused even with the token
  (``scripts/jupyter_live_config.py``);
* the Jupyter server checks that requests are addressed to this machine
  (``allow_remote_access`` stays off), and its terminals are disabled.

Ctrl-C stops both servers; the Jupyter server shuts its kernels down first.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LOOPBACK = "127.0.0.1"
FIRST_PAGE = "book/intro.html"
#: How long the Jupyter server may take to answer, in seconds.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port that is free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files and logs nothing (the URL with the token is never logged:
    the fragment is not sent, but a quiet server keeps the terminal readable)."""

    def log_message(self, *args):
        pass

    def end_headers(self):
        # The pages change when the book is rebuilt; never serve a stale one.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def jupyter_command(port: int, book_origin: str, notebook_dir: Path) -> list[str]:
    """The command line of the Jupyter server (the token travels in the environment)."""
    return [
        sys.executable, "-m", "jupyter_server",
        f"--config={Path(__file__).with_name('jupyter_live_config.py')}",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={notebook_dir}",
        f"--ServerApp.allow_origin={book_origin}",
        "--ServerApp.allow_remote_access=False",
        "--ServerApp.terminals_enabled=False",
        "--ServerApp.log_level=WARN",
        # Root owns the whole machine anyway; Jupyter refuses it unless told.
        *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),
    ]


class LiveBook:
    """The book's file server and a Jupyter server, started together.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes, once started:
        book_origin: ``http://127.0.0.1:PORT`` of the book.
        jupyter_url: ``http://127.0.0.1:PORT`` of the Jupyter server.
        token: the Jupyter server's token, random for this run.
        url: the one URL to open: the first page, with the server's address
            and token in its fragment.
    """

    def __init__(self, html: Path = HTML, *, notebook_dir: Path = ROOT / "book",
                 book_port: int = 0, jupyter_port: int = 0):
        self.html = Path(html)
        self.notebook_dir = Path(notebook_dir)
        if not (self.html / "index.html").is_file():
            raise ValueError(
                f"Expected a built book in {self.html} (with index.html); it is not "
                "there. Build it first with `make book`.")
        self.book_port = book_port
        self.jupyter_port = jupyter_port or free_port()
        self.token = secrets.token_urlsafe(32)
        self._httpd = None
        self._process = None
        self._runtime = None

    # -- starting ---------------------------------------------------------
    def start(self) -> "LiveBook":
        handler = functools.partial(QuietHandler, directory=str(self.html))
        self._httpd = ThreadingHTTPServer((LOOPBACK, self.book_port), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True,
                         name="book-server").start()
        self.book_origin = f"http://{LOOPBACK}:{self._httpd.server_address[1]}"
        self.jupyter_url = f"http://{LOOPBACK}:{self.jupyter_port}"
        self._runtime = tempfile.mkdtemp(prefix="conv1x1-live-")   # mode 0700
        env = dict(os.environ, JUPYTER_TOKEN=self.token,
                   JUPYTER_RUNTIME_DIR=self._runtime,
                   TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
        self._process = subprocess.Popen(
            jupyter_command(self.jupyter_port, self.book_origin, self.notebook_dir),
            env=env, stdin=subprocess.DEVNULL,
            # Its own session: the terminal's Ctrl-C reaches this script, which
            # then shuts the server down in order (kernels first).
            start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        fragment = f"live={self.jupyter_port}&token={self.token}"
        self.url = f"{self.book_origin}/{FIRST_PAGE}#{fragment}"
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        request = urllib.request.Request(f"{self.jupyter_url}/api/status",
                                         headers=self.auth_header())
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"The Jupyter server stopped at start (exit code "
                    f"{self._process.returncode}); its messages are above.")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    json.load(response)
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"The Jupyter server did not answer within "
                           f"{START_TIMEOUT_S:g} s.")

    def auth_header(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    # -- stopping ---------------------------------------------------------
    def running_kernels(self) -> list[dict]:
        request = urllib.request.Request(f"{self.jupyter_url}/api/kernels",
                                         headers=self.auth_header())
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def stop(self) -> None:
        """Shut the kernels and both servers down; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:   # the server's own shutdown stops its kernels first
                request = urllib.request.Request(
                    f"{self.jupyter_url}/api/shutdown", method="POST", data=b"",
                    headers=self.auth_header())
                urllib.request.urlopen(request, timeout=10).close()
                process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        runtime, self._runtime = self._runtime, None
        if runtime:
            shutil.rmtree(runtime, ignore_errors=True)

    def __enter__(self) -> "LiveBook":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML,
                        help="the built book (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000,
                        help="the book's port on 127.0.0.1; 0 for any free port "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        live = LiveBook(args.html, book_port=args.port)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        live.start()
    except OSError as err:
        print(f"Could not listen on {LOOPBACK}:{args.port} ({err.strerror}). Another "
              "program uses that port: try `make serve PORT=8001`, or PORT=0 for any "
              "free port.", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"The book is live on this machine only (ready in "
          f"{time.monotonic() - started:.1f} s). Open:\n\n    {live.url}\n\n"
          "Press Ctrl-C to stop the book and its kernels.", flush=True)
    try:
        stop.wait()
    finally:
        print("\nStopping the kernels and the servers...", flush=True)
        live.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
