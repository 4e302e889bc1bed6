"""``make serve``: the live book's servers let nobody else in.

One Jupyter server and one book server are started for the module, as
``make serve`` starts them (``scripts/serve.py``), over a small stand-in for
the built book. The checks: a request without the token is refused; a
request naming another origin is refused even with the token, over HTTP and
over the kernel's websocket; the book's origin is the only one allowed, with
no wildcard; both servers listen on the loopback interface only; the token
is in no file of the book, in no command line and in no page the book
server returns; and stopping leaves no kernel running.
"""

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from conftest import load_file

ROOT = Path(__file__).resolve().parents[1]
OTHER_ORIGIN = "http://127.0.0.1:9"     # another port is another origin


def load_serve():
    return load_file("serve", ROOT / "scripts" / "serve.py")


def request(url, *, method="GET", headers=None):
    """(status, headers, body) of one HTTP request; errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    (folder / "index.html").write_text("<html><body>book</body></html>")
    (folder / "book").mkdir()
    (folder / "book" / "intro.html").write_text("<html><body>intro</body></html>")
    return folder


@pytest.fixture(scope="module")
def live(html):
    serve = load_serve()
    book = serve.LiveBook(html)
    book.start()
    try:
        yield book
    finally:
        book.stop()


def test_a_request_without_the_token_is_refused(live):
    status, _, _ = request(f"{live.jupyter_url}/api/kernels")
    assert status == 403
    status, _, _ = request(f"{live.jupyter_url}/api/kernels",
                           headers={"Authorization": "token not-the-token"})
    assert status == 403
    status, _, body = request(f"{live.jupyter_url}/api/kernels", headers=live.auth_header())
    assert status == 200 and isinstance(json.loads(body), list)


def test_only_the_books_origin_may_use_the_server(live):
    token = live.auth_header()
    status, headers, _ = request(f"{live.jupyter_url}/api/kernels",
                                 headers={**token, "Origin": live.book_origin})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == live.book_origin
    for method in ("GET", "POST"):     # POST would start a kernel
        status, headers, _ = request(f"{live.jupyter_url}/api/kernels", method=method,
                                     headers={**token, "Origin": OTHER_ORIGIN})
        assert status in (403, 404), (method, status)
        assert headers.get("Access-Control-Allow-Origin") in (None, live.book_origin)
    # A browser's preflight from another origin learns only the book's origin.
    status, headers, _ = request(f"{live.jupyter_url}/api/kernels", method="OPTIONS",
                                 headers={"Origin": OTHER_ORIGIN,
                                          "Access-Control-Request-Method": "POST"})
    assert headers.get("Access-Control-Allow-Origin") == live.book_origin
    assert "*" not in (headers.get("Access-Control-Allow-Origin") or "")


def test_the_kernel_websocket_refuses_another_origin(live):
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    status, _, body = request(f"{live.jupyter_url}/api/kernels", method="POST",
                              headers={**live.auth_header(), "Origin": live.book_origin})
    assert status == 201
    kernel = json.loads(body)["id"]
    url = f"ws://127.0.0.1:{live.jupyter_port}/api/kernels/{kernel}/channels"

    async def connect(origin):
        req = HTTPRequest(url, headers={**live.auth_header(), "Origin": origin})
        try:
            connection = await websocket_connect(req)
        except HTTPClientError as err:
            return err.code
        connection.close()
        return 101

    assert asyncio.run(connect(OTHER_ORIGIN)) in (403, 404)
    assert asyncio.run(connect(live.book_origin)) == 101
    request(f"{live.jupyter_url}/api/kernels/{kernel}", method="DELETE",
            headers=live.auth_header())


def listening_addresses(pid):
    process = psutil.Process(pid)
    return {(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN}


def test_both_servers_listen_on_the_loopback_interface_only(live):
    import os

    jupyter = listening_addresses(live._process.pid)
    assert (("127.0.0.1", live.jupyter_port) in jupyter), jupyter
    assert {ip for ip, _ in jupyter} == {"127.0.0.1"}, jupyter
    book_port = int(live.book_origin.rsplit(":", 1)[1])
    ours = listening_addresses(os.getpid())
    assert ("127.0.0.1", book_port) in ours
    assert not any(port == book_port and ip != "127.0.0.1" for ip, port in ours)


def test_the_token_is_written_nowhere_the_book_or_a_reader_can_see(live, html):
    assert len(live.token) >= 32
    for path in html.rglob("*"):
        if path.is_file():
            assert live.token not in path.read_text(errors="replace"), path
    # Not on the server's command line, which every user of the machine can read.
    assert live.token not in " ".join(psutil.Process(live._process.pid).cmdline())
    # Only in the URL's fragment, which browsers never send to a server.
    page, fragment = live.url.split("#", 1)
    assert live.token not in page and f"token={live.token}" in fragment
    status, _, body = request(page)
    assert status == 200 and live.token.encode() not in body


def test_a_folder_without_a_built_book_is_refused_with_what_to_do(tmp_path):
    serve = load_serve()
    with pytest.raises(ValueError, match="make book"):
        serve.LiveBook(tmp_path)


def test_stopping_shuts_the_kernels_and_the_server_down(html):
    serve = load_serve()
    book = serve.LiveBook(html).start()
    status, _, _ = request(f"{book.jupyter_url}/api/kernels", method="POST",
                           headers=book.auth_header())
    assert status == 201
    server = psutil.Process(book._process.pid)
    kernels = server.children(recursive=True)
    assert kernels, "the kernel did not start"
    runtime = Path(book._runtime)
    book.stop()
    gone, alive = psutil.wait_procs([server, *kernels], timeout=15)
    assert alive == []
    assert not runtime.exists()
    book.stop()   # twice is harmless
