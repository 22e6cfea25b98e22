"""The web fetcher against a hostile web and hostile users: decompression bombs, addresses it must not reach,
endless feeds, servers that drip or stall, cancelling, passwords in URLs and terminal escapes.

Every server here is an http.server on 127.0.0.1 (port 0) in a thread of the test, answering as the test says.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import textwrap
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa import Settings
from qa.articles import Article, Skipped
from qa.errors import Cancelled
from qa.web import MAX_DEPTH, MAX_REDIRECTS, MAX_SITEMAPS, GuardedBackend, WebLoader, address_kind, article_id_for_url

from .conftest import ROOT, STUCK

LOOPBACK = ["127.0.0.1"]
PAGE = ("<html><head><title>Bridge opens</title></head><body><article><h1>Bridge opens</h1>"
        + "".join(f"<p>The new bridge over the river opened on Monday, paragraph {n}, and the mayor said that "
                  f"traffic would flow more freely across the city from now on.</p>" for n in range(6))
        + "</article></body></html>").encode()  # fmt: skip


class Server:
    """A loopback HTTP/1.1 server (keep-alive) whose routes are functions of the request handler (unknown paths:
    404), over TLS given an SSL context. It records every request path and sets ``received`` when one arrives;
    ``release`` ends the handlers that wait on it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict = {}
        self.requests: list[str] = []
        self.headers: list = []
        self.received, self.release = threading.Event(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.requests.append(self.path)
                server.headers.append(self.headers)
                server.received.set()
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "File not found")
                    return
                try:
                    route(self)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.http.release = self.release  # routes that wait see it as handler.server.release
        if tls is not None:
            self.http.socket = tls.wrap_socket(self.http.socket, server_side=True)
        self.port = self.http.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # shutdown() waits for the serving loop to look again: every 10 ms, not the default 0.5 s per test
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


def answer(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200, **headers):
    """A route that answers ``body`` with these headers (underscores in names become dashes)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302):
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture
def server():
    served = Server()
    yield served
    served.close()


def load(url: str, cancel: threading.Event | None = None, **settings) -> list:
    settings.setdefault("web_allowed_hosts", LOOPBACK)
    settings.setdefault("web_timeout", STUCK)
    loader = WebLoader(Settings(**settings), cancel)
    try:
        return list(loader.articles(url))
    finally:
        loader.close()


def lines(items: list) -> list[str]:
    return [str(i) for i in items if isinstance(i, Skipped)]


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>Story {n}</title><link>{link}</link></item>" for n, link in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{items}</channel></rss>'.encode()


def gzipped_zeros(gigabytes: int) -> bytes:
    """gzip of ``gigabytes`` GiB of zero bytes, made without holding them: after a full flush the compressor
    forgets what came before, so every further MiB of zeros compresses to the same block."""
    mib = bytes(2**20)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush()  # the empty last block and the trailer: its CRC and length are those of 2 MiB (never reached)
    return first + block * (gigabytes * 1024 - 1) + tail


def gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


# --- decoding ---------------------------------------------------------------------------------------------


def test_pages_in_gzip_deflate_and_both_stacked_are_read(server):
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    server.routes = {
        "/gzip": answer(gzip(PAGE), Content_Encoding="gzip"),
        "/zlib": answer(zlib.compress(PAGE), Content_Encoding="deflate"),
        "/raw-deflate": answer(raw_deflate.compress(PAGE) + raw_deflate.flush(), Content_Encoding="deflate"),
        "/stacked": answer(gzip(zlib.compress(PAGE)), Content_Encoding="deflate, gzip"),
    }
    for path in server.routes:
        [article] = load(server.url + path)
        assert isinstance(article, Article) and article.title == "Bridge opens", path
    assert all(h["Accept-Encoding"] == "gzip, deflate" for h in server.headers)


def test_https_goes_through_the_guarded_connection(tmp_path, monkeypatch):
    if not shutil.which("openssl"):
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=STUCK)  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the one certificate the loader trusts
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = Server(tls)
    try:
        server.routes = {"/a": redirect("/page"), "/page": answer(gzip(PAGE), Content_Encoding="gzip")}
        [article] = load(f"{server.url}/a")
        assert isinstance(article, Article) and article.url == f"{server.url}/page"
        assert lines(load(f"{server.url}/page", web_allowed_hosts=[])) == [
            f"skipped {server.url}/page: refused: 127.0.0.1 is a loopback address (allow it with QA_WEB_ALLOWED_HOSTS)"
        ]
    finally:
        server.close()


@pytest.mark.slow
def test_a_stacked_gzip_bomb_is_one_line_and_never_expanded_in_memory(server, tmp_path):
    # 4 GiB of zeros gzipped twice: a few kilobytes on the wire
    bomb = gzip(gzipped_zeros(4))
    assert len(bomb) < 100_000
    server.routes = {"/bomb": answer(bomb, Content_Encoding="gzip, gzip")}
    child = textwrap.dedent(f"""
        from qa import Settings
        from qa.web import WebLoader

        def peak_kib():  # VmHWM: ru_maxrss would hold this test process's own peak (kept across fork and exec)
            return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])

        loader = WebLoader(Settings(web_allowed_hosts=["127.0.0.1"], web_timeout={STUCK}))
        before = peak_kib()
        print(*map(str, loader.articles("{server.url}/bomb")), sep="\\n")
        print("grew", (peak_kib() - before) // 1024)  # KiB to MiB
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, timeout=STUCK)
    assert done.returncode == 0, done.stderr
    said, grew = done.stdout.strip().splitlines()
    assert said == f"skipped {server.url}/bomb: larger than 20 MiB uncompressed"
    assert int(grew.split()[1]) < 300


def test_a_deflate_bomb_is_one_line(server):
    c = zlib.compressobj(9, zlib.DEFLATED, 15)
    mib = bytes(2**20)
    bomb = b"".join(c.compress(mib) for _ in range(64)) + c.flush()  # 64 MiB of zeros
    server.routes = {"/bomb": answer(bomb, Content_Encoding="deflate")}
    assert lines(load(f"{server.url}/bomb")) == [f"skipped {server.url}/bomb: larger than 20 MiB uncompressed"]


@pytest.mark.parametrize("encoding, said", [
    ("zstd", "unsupported content encoding zstd"), ("br", "unsupported content encoding br"),
    ("gzip, x-pack200\x1b[2J", "unsupported content encoding x-pack200?[2j"),
    ("gzip, gzip, gzip, gzip", "more than 3 content encodings (gzip, gzip, gzip, gzip)"),
])  # fmt: skip
def test_an_encoding_not_decoded_is_one_line(server, encoding, said):
    server.routes = {"/page": answer(b"\x28\xb5\x2f\xfd" + bytes(100), Content_Encoding=encoding)}
    assert lines(load(f"{server.url}/page")) == [f"skipped {server.url}/page: {said}"]


def test_damaged_and_oversized_bodies_are_one_line(server):
    server.routes = {
        "/damaged": answer(b"\x1f\x8b\x08\x00garbage" * 10, Content_Encoding="gzip"),
        "/declared": answer(b"", Content_Length=str(10**12)),
    }
    assert lines(load(f"{server.url}/damaged")) == [f"skipped {server.url}/damaged: damaged gzip content encoding"]
    assert lines(load(f"{server.url}/declared")) == [f"skipped {server.url}/declared: larger than 20 MiB"]


def test_binary_data_served_as_a_web_page_is_one_line(server):
    noise = bytes((n * 37 + 11) % 256 for n in range(1, 200_000)).replace(b"\x00", b"\x01")  # no NUL byte at all
    server.routes = {"/photo.html": answer(noise)}
    assert lines(load(f"{server.url}/photo.html")) == [f"skipped {server.url}/photo.html: binary data, not a web page"]


# --- addresses ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"), ("10.0.0.1", "a private address"),
    ("192.168.1.1", "a private address"), ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"), ("224.0.0.1", "a multicast address"), ("0.0.0.0", "an unspecified address"),
    ("240.0.0.1", "a reserved address"), ("::ffff:127.0.0.1", "a loopback address"),
    ("2002:7f00:1::", "a loopback address"), ("100.64.0.1", "a non-public address"), ("8.8.8.8", None),
    ("2606:4700::1111", None),
])  # fmt: skip
def test_address_kinds(address, kind):
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_an_ipv6_address_with_a_zone_is_one_line(server):
    [zoned] = load(f"http://[fe80::1%25nosuchif9]:{server.port}/page", web_allowed_hosts=[])
    [loopback] = load(f"http://[::1%25lo]:{server.port}/page", web_allowed_hosts=[])
    for skipped in (zoned, loopback):
        assert isinstance(skipped, Skipped) and "\n" not in str(skipped), skipped
    assert server.requests == []


def test_loopback_is_refused_unless_allowed(server):
    server.routes = {"/page": answer(PAGE)}
    [refused] = load(f"{server.url}/page", web_allowed_hosts=[])
    assert str(refused) == (f"skipped {server.url}/page: refused: 127.0.0.1 is a loopback address "
                            "(allow it with QA_WEB_ALLOWED_HOSTS)")  # fmt: skip
    [by_name] = load(f"http://localhost:{server.port}/page", web_allowed_hosts=[])
    assert str(by_name).startswith(f"skipped http://localhost:{server.port}/page: refused: localhost resolves to ")
    assert str(by_name).endswith(", a loopback address (allow it with QA_WEB_ALLOWED_HOSTS)")
    [also] = load(f"http://[::ffff:127.0.0.1]:{server.port}/page", web_allowed_hosts=[])
    assert "refused: ::ffff:127.0.0.1 is a loopback address" in str(also)
    assert server.requests == []
    for allowed in (["127.0.0.0/8"], ["127.0.0.1"], ["LOCALHOST"]):
        [article] = load(f"http://{'localhost' if allowed == ['LOCALHOST'] else '127.0.0.1'}:{server.port}/page",
                         web_allowed_hosts=allowed)  # fmt: skip
        assert isinstance(article, Article), allowed


@pytest.fixture
def connects(monkeypatch):
    """The addresses GuardedBackend connects to."""
    made = []
    connect = GuardedBackend._connect

    def recorded(self, sock, address, *args):
        made.append(address[0])
        return connect(self, sock, address, *args)

    monkeypatch.setattr(GuardedBackend, "_connect", recorded)
    return made


@pytest.mark.parametrize("target, kind", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://10.0.0.1:8080/admin", "10.0.0.1 is a private address"),
])  # fmt: skip
def test_a_redirect_to_a_private_address_is_refused_without_connecting(server, connects, target, kind):
    server.routes = {"/go": redirect(target)}
    assert lines(load(f"{server.url}/go")) == [
        f"skipped {server.url}/go: refused: {kind} (allow it with QA_WEB_ALLOWED_HOSTS)"
    ]
    assert connects == ["127.0.0.1"] and server.requests == ["/go"]


def test_a_feed_entry_at_a_private_address_is_refused(server, connects):
    server.routes = {"/feed.xml": answer(rss(["http://10.1.2.3/internal", f"{server.url}/page"]), "application/rss+xml"),
                     "/page": answer(PAGE)}  # fmt: skip
    items = load(f"{server.url}/feed.xml")
    assert lines(items) == [
        "skipped http://10.1.2.3/internal: refused: 10.1.2.3 is a private address (allow it with QA_WEB_ALLOWED_HOSTS)"
    ]
    assert len([i for i in items if isinstance(i, Article)]) == 1 and "10.1.2.3" not in connects


def test_redirects_are_followed_within_limits(server):
    server.routes = {"/a": redirect("/b", 301), "/b": redirect(f"{server.url}/page", 307), "/page": answer(PAGE),
                     "/loop": redirect("/loop"), "/file": redirect("file:///etc/passwd")}  # fmt: skip
    [article] = load(f"{server.url}/a")
    assert article.url == f"{server.url}/page" and article.origin == f"{server.url}/a"
    assert lines(load(f"{server.url}/loop")) == [f"skipped {server.url}/loop: too many redirects (more than 5)"]
    assert server.requests.count("/loop") == MAX_REDIRECTS + 1
    assert lines(load(f"{server.url}/file")) == [
        f"skipped {server.url}/file: redirected to a non-web address (file:///etc/passwd)"
    ]


# --- how much a run fetches ----------------------------------------------------------------------------------


def test_one_budget_counts_every_request(server):
    server.routes = {"/feed.xml": answer(rss([f"/missing-{n}" for n in range(3000)]), "application/rss+xml")}
    said = lines(load(f"{server.url}/feed.xml", web_max_pages=5))
    assert len(server.requests) == 5
    assert said == [f"skipped {server.url}/missing-{n}: HTTP 404 File not found" for n in range(4)] + [
        f"skipped {server.url}/feed.xml: 2996 listed page(s) not fetched: at most 5 web requests a run (QA_WEB_MAX_PAGES)"
    ]


def test_redirects_count_against_the_budget(server):
    server.routes = {"/a": redirect("/b"), "/b": redirect("/c"), "/c": answer(PAGE)}
    assert lines(load(f"{server.url}/a", web_max_pages=2)) == [
        f"skipped {server.url}/a: redirect not followed: at most 2 web requests a run (QA_WEB_MAX_PAGES)"
    ]
    assert server.requests == ["/a", "/b"]


def test_a_chain_of_feeds_stops_at_the_depth_limit(server):
    server.routes = {f"/feed-{n}.xml": answer(rss([f"/feed-{n + 1}.xml"]), "application/rss+xml") for n in range(2000)}
    said = lines(load(f"{server.url}/feed-0.xml", web_max_pages=100_000))
    assert said == [f"skipped {server.url}/feed-{MAX_DEPTH}.xml: 1 listed link(s) not followed: feeds and sitemaps "
                    f"are followed {MAX_DEPTH} levels deep at most"]  # fmt: skip
    assert server.requests == [f"/feed-{n}.xml" for n in range(MAX_DEPTH + 1)]


def test_a_sitemap_index_that_lists_itself_is_one_line(server):
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    index = f'<sitemapindex xmlns="{namespace}"><sitemap><loc>{server.url}/sitemap.xml</loc></sitemap></sitemapindex>'
    server.routes = {"/sitemap.xml": answer(index.encode(), "application/xml")}
    assert lines(load(f"{server.url}/sitemap.xml")) == [
        f"skipped {server.url}/sitemap.xml: lists no page that was not already read"
    ]
    assert server.requests == ["/sitemap.xml"]


@pytest.mark.slow
def test_a_sitemap_index_of_a_thousand_sitemaps_reads_at_most_the_limit(server):
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    entries = "".join(f"<sitemap><loc>{server.url}/s{n}.xml</loc></sitemap>" for n in range(1000))
    empty = f'<urlset xmlns="{namespace}"></urlset>'.encode()
    server.routes = {"/index.xml": answer(f'<sitemapindex xmlns="{namespace}">{entries}</sitemapindex>'.encode(),
                                          "application/xml"),
                     **{f"/s{n}.xml": answer(empty, "application/xml") for n in range(1000)}}  # fmt: skip
    said = lines(load(f"{server.url}/index.xml", web_max_pages=5000))
    assert len(server.requests) == MAX_SITEMAPS  # the index is one of them
    assert (
        said[0] == f"skipped {server.url}/index.xml: {1001 - MAX_SITEMAPS} listed sitemap(s) not read: at most "
        f"{MAX_SITEMAPS} sitemaps are followed in one run"
    )
    assert len(said) == MAX_SITEMAPS  # and one "lists no pages" for each sitemap read


# --- time ---------------------------------------------------------------------------------------------------


def drip(head: bytes, then: bytes, every: float = 0.1, times: int = 10_000):
    """A route that sends ``head``, then ``then`` a byte at a time, ``every`` seconds, ``times`` times (1000 s)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(head)
        handler.wfile.flush()
        for _ in range(times):
            if handler.server.release.wait(every):
                return
            handler.wfile.write(then)
            handler.wfile.flush()

    return route


def in_thread(work) -> list:
    """Run ``work`` in a thread and return [its result or exception] once done (only a stuck run waits STUCK)."""
    outcome: list = []

    def run():
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(STUCK)
    assert outcome, f"stuck: still running after {STUCK} s"
    return outcome


@pytest.mark.slow
def test_a_server_that_drips_its_headers_is_given_up_at_the_deadline(server):
    # one byte every 0.1 s: each read gets something long before its 1 s timeout; only the total deadline ends it
    server.routes = {"/drip": drip(b"HTTP/1.1 200 OK\r\nX-Drip: ", b"a"),
                     "/body": drip(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", b"a")}  # fmt: skip
    [items] = in_thread(lambda: load(f"{server.url}/drip", web_timeout=1))
    assert lines(items) == [f"skipped {server.url}/drip: no answer within 1 s"]
    [items] = in_thread(lambda: load(f"{server.url}/body", web_timeout=1))
    assert lines(items) == [f"skipped {server.url}/body: not fully received within 1 s"]


def stall(handler: BaseHTTPRequestHandler) -> None:
    handler.server.release.wait(STUCK)


def test_cancel_stops_a_fetch_in_progress(server):
    server.routes = {"/stuck": stall}
    cancel = threading.Event()
    outcome: list = []

    def fetch():
        try:
            outcome.append(load(f"{server.url}/stuck", cancel))  # web_timeout: STUCK
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    assert server.received.wait(STUCK), "the request never arrived"
    cancel.set()
    thread.join(STUCK / 10)  # a run that does not see the event would wait STUCK s for its answer
    assert outcome and isinstance(outcome[0], Cancelled), outcome


def test_cancel_is_seen_between_requests(server):
    server.routes = {"/page": answer(PAGE)}
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        load(f"{server.url}/page", cancel)
    assert server.requests == []


# --- what is stored and shown ---------------------------------------------------------------------------


def test_userinfo_is_sent_but_never_stored_or_shown(server):
    server.routes = {"/page": answer(PAGE), "/go": redirect(f"http://bob:hunter2@127.0.0.1:{server.port}/nowhere")}
    secret = f"http://ann:s3cret@127.0.0.1:{server.port}"
    [article] = load(f"{secret}/page")
    assert article.origin == article.url == f"{server.url}/page"
    assert article.id == article_id_for_url(f"{server.url}/page")
    assert server.headers[0]["Authorization"].startswith("Basic ")
    said = lines(load(f"{secret}/missing")) + lines(load(f"{secret}/go"))
    assert said == [f"skipped {server.url}/missing: HTTP 404 File not found",
                    f"skipped {server.url}/go: HTTP 404 File not found"]  # fmt: skip
    assert not any("s3cret" in line or "hunter2" in line or "@" in line for line in said)


@pytest.mark.slow
def test_qa_index_prints_warnings_without_terminal_escapes_and_allows_hosts(server, tmp_path, refused_port):
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "index"), "QA_WEB_ALLOWED_HOSTS": ""}

    def qa_index(*args):
        return subprocess.run([sys.executable, "-m", "qa.cli", "index", "-q", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=STUCK)  # fmt: skip

    hostile = f"http://127.0.0.1:{refused_port}/\x1b]0;pwned\x07story\x1b[2J"
    done = qa_index(hostile, f"{server.url}/missing")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        # the control characters are written as escapes (qa.articles.one_line): visible, and never acted on
        f"warning: skipped http://127.0.0.1:{refused_port}/\\x1b]0;pwned\\x07story\\x1b[2J: not a valid http(s) URL",
        f"warning: skipped {server.url}/missing: refused: 127.0.0.1 is a loopback address "
        "(allow it with QA_WEB_ALLOWED_HOSTS)",
    ]
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert server.requests == []
    allowed = qa_index("--allow-host", "10.0.0.0/8", "--allow-host", "127.0.0.1", f"{server.url}/missing")
    assert f"warning: skipped {server.url}/missing: HTTP 404 File not found" in allowed.stderr.splitlines()
    assert server.requests == ["/missing"]
