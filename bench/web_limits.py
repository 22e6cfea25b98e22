"""The web fetcher's limits against hostile answers: how much memory a run takes when a server sends a
decompression bomb or an endless body, and what it says.

A loopback HTTP server (in this process) serves each case; a child process per case runs ``qa.web.WebLoader``
on it (127.0.0.1 allowed) and reports its peak RSS (VmHWM) before and after the fetch, and the line the
loader gave. Cases:

* stacked gzip: 10 GiB of zeros gzipped twice (``Content-Encoding: gzip, gzip``), about 25 kB on the wire;
* deflate: 10 GiB of zeros deflated once (zlib stream), about 10 MiB on the wire;
* huge declared length: ``Content-Length: 10**12`` and a short body;
* chunked 100 MB: 100 MiB of text, chunked, no Content-Length.

usage: python bench/web_limits.py
writes bench/results/web_limits.md
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import threading
import time
import zlib
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "web_limits.md"
MIB = 2**20


def zeros_compressed(gib: int, wbits: int) -> bytes:
    """``gib`` GiB of zero bytes compressed (wbits 31: gzip, 15: zlib), without holding them: after a full flush
    the compressor forgets what came before, so every further MiB compresses to the same block. The trailer's
    checksum and length are those of 2 MiB: a decoder that honours a size limit never reaches it."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * (gib * 1024 - 1) + c.flush()


def gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def fixed(body: bytes, **headers: str):
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        extra = dict(headers)
        handler.send_header("Content-Length", extra.pop("Content-Length", str(len(body))))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return send


def chunked(total: int, chunk: int = MIB):
    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b"<p>" + b"a" * (chunk - 7) + b"</p>"
        for _ in range(total // chunk):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")

    return send


def serve(routes: dict) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            try:
                routes[self.path](self)
            except OSError:  # the loader gave up, as it should
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM). Not ``ru_maxrss``: Linux keeps that across fork and exec,
    so a child of a big process would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str) -> None:
    """Fetch ``url`` with the loader and print JSON: peak RSS before and after (MiB), seconds, the lines said."""
    from qa import Settings
    from qa.web import WebLoader

    loader = WebLoader(Settings(web_allowed_hosts=["127.0.0.1"], web_timeout=120))
    before = peak_rss_mb()
    started = time.perf_counter()
    said = [str(item) for item in loader.articles(url)]
    seconds = time.perf_counter() - started
    after = peak_rss_mb()
    print(json.dumps({"before": before, "after": after, "seconds": seconds, "said": said}))


def main() -> None:
    stacked = gzip(zeros_compressed(10, 31))
    deflated = zeros_compressed(10, 15)
    cases = {
        "/stacked-gzip": ("stacked gzip (10 GiB of zeros, gzip, gzip)", len(stacked),
                          fixed(stacked, **{"Content-Encoding": "gzip, gzip"})),
        "/deflate": ("deflate (10 GiB of zeros)", len(deflated), fixed(deflated, **{"Content-Encoding": "deflate"})),
        "/declared": ("Content-Length: 10^12", 13, fixed(b"<html></html>", **{"Content-Length": str(10**12)})),
        "/chunked": ("chunked body of 100 MiB, no length", 100 * MIB, chunked(100 * MIB)),
    }  # fmt: skip
    server, url = serve({path: send for path, (_, _, send) in cases.items()})
    rows = []
    try:
        for path, (label, wire, _) in cases.items():
            done = subprocess.run([sys.executable, __file__, "--child", url + path], capture_output=True, text=True,
                                  cwd=ROOT, timeout=600)  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{label}: child failed\n{done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            outcome = " / ".join(line.replace(url, "") for line in result["said"])
            rows.append((label, wire, result, outcome))
            print(f"{label}: peak RSS {result['after']:.0f} MB (+{result['after'] - result['before']:.0f}), "
                  f"{result['seconds']:.2f} s: {outcome}")  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    lines = [
        "# The web fetcher against bombs and endless bodies",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} with `python bench/web_limits.py` on {platform.machine()}, "
        f"Python {platform.python_version()}; code: commit {commit.stdout.strip() or '?'}. Each case runs "
        "`WebLoader.articles` in a child process against a loopback server; peak RSS is that child's "
        "the peak RSS (VmHWM) after the fetch, growth its increase during the fetch (the rest is Python and the imports). "
        "The limit is `qa.web.MAX_RESPONSE_BYTES` (20 MiB) for the body as received and for each decoding step.",
        "",
        "| case | body bytes the server has to send | peak RSS (MB) | growth during the fetch (MB) | seconds | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, wire, result, outcome in rows:
        lines.append(f"| {label} | {wire:,} | {result['after']:.0f} | {result['after'] - result['before']:.0f} | "
                     f"{result['seconds']:.2f} | `{outcome}` |")  # fmt: skip
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
