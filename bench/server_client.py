"""A Chroma server's clients at size: what a `qa ask` process holds when the chunks live on a server.

For each finished `bench/scale.py` index (an embedded Chroma folder of N chunks), a copy of the folder is served
by `chroma run` on loopback, and `qa ask` runs against it with QA_CHROMA_URL as a new process each time:

* the first question after the client's search file was removed: the client builds its BM25 file from the
  server (chunk texts and metadata, no vectors), so this is a new machine's first question;
* three more, each a new process, with that file up to date: wall time and peak RSS (GNU time);
* the client's search file on disk, and the server's peak RSS.

The target (issue "A million chunks on one machine"): a client's RSS does not grow with the corpus, at most
600 MB at a million chunks. The server's graphs are the ones the embedded folder was built with (the fewest
links Chroma allows, as an embedded store builds them): answer quality against them is not what this measures.

usage: python bench/server_client.py --index bench/work/scale/index-1000 bench/work/scale/index-50000 ...
writes bench/results/server_client.md; work files (copies of the folders) in bench/work/server_client/
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scale import CODE_LABEL, QA, dir_mb, log, machine, questions, run_child  # also selects the code

from qa import Settings
from qa.store import count_in_sqlite

RESULTS = Path(__file__).resolve().parent / "results"
CHROMA = Path(sys.executable).parent / "chroma"
TARGET_CLIENT_RSS_MB = 600
COLD_RUNS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int, log_path: Path, wait_s: float) -> subprocess.Popen:
    """`chroma run` on ``folder``; returns once its heartbeat answers (or raises with the log's end)."""
    out = log_path.open("wb")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + wait_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=10) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"chroma run did not answer: {log_path.read_text(errors='replace')[-500:]}")


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def client_search_folder(url: str) -> Path:
    """Where a client of ``url`` keeps its search file (qa.api.Assistant.lexical_dir)."""
    settings = Settings()
    digest = hashlib.sha1(f"{url}|{settings.collection}".encode()).hexdigest()[:12]
    return Path(settings.model_cache_dir).expanduser() / "bm25" / digest


def measure(index_dir: Path, work: Path, qs: list[str], wait_s: float) -> dict:
    chunks = count_in_sqlite(index_dir / "chroma.sqlite3", f"{Settings().collection}-chunks")
    copy = work / f"served-{index_dir.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("*-bm25", ".qa-*"))  # a client builds its own
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    search = client_search_folder(url)
    shutil.rmtree(search, ignore_errors=True)
    server = start_server(copy, port, work / f"chroma-{index_dir.name}.log", wait_s)
    env = {"QA_CHROMA_URL": url}
    try:
        runs = []
        for n, q in enumerate(qs[: COLD_RUNS + 1]):
            r = run_child([*QA, "ask", q], work / f"ask-{index_dir.name}-{n}", env=env)
            if r["rc"] != 0:
                raise RuntimeError(f"qa ask against the server failed: {r['stderr'][-400:]}")
            runs.append(r)
            log(f"{chunks} chunks: ask {n}: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
        server_mb = vm_hwm_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    result = {"index": str(index_dir), "chunks": chunks, "first_s": runs[0]["wall_s"],
              "first_rss_mb": runs[0]["peak_rss_mb"], "cold_s": statistics.median(r["wall_s"] for r in runs[1:]),
              "cold_rss_mb": max(r["peak_rss_mb"] for r in runs[1:]), "search_file_mb": dir_mb(search),
              "server_rss_mb": server_mb}  # fmt: skip
    shutil.rmtree(search, ignore_errors=True)
    shutil.rmtree(copy, ignore_errors=True)
    return result


def report(results: list[dict], note: str) -> str:
    lines = ["# A Chroma server's clients at size", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python bench/server_client.py` on {machine()}; code: "
             f"{CODE_LABEL}.", "", __doc__.split("usage:")[0].split("\n", 2)[2].strip(), "",
             "| chunks | first question s (builds the client's search file) | its peak RSS MB | cold `qa ask` s "
             f"(median of {COLD_RUNS}) | cold ask peak RSS MB | client's search file MB | server peak RSS MB |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['chunks']:,} | {r['first_s']:.1f} | {r['first_rss_mb']:.0f} | {r['cold_s']:.2f} | "
                     f"{r['cold_rss_mb']:.0f} | {r['search_file_mb']:.0f} | {r['server_rss_mb']:.0f} |")  # fmt: skip
    worst = max(max(r["cold_rss_mb"], r["first_rss_mb"]) for r in results)
    lines += ["", f"Target: a client's peak RSS at most {TARGET_CLIENT_RSS_MB} MB at any size; highest here "
              f"{worst:.0f} MB ({'met' if worst <= TARGET_CLIENT_RSS_MB else 'not met'})."]  # fmt: skip
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, nargs="+", required=True, help="finished bench/scale.py index folders")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work" / "server_client")
    parser.add_argument("--server-wait", type=float, default=600, help="seconds to wait for a server's heartbeat")
    parser.add_argument("--note", default="", help="a paragraph added under the table")
    parser.add_argument("--out", type=Path, default=RESULTS / "server_client.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    qs = questions(COLD_RUNS + 1, seed=1)
    results = [measure(i.resolve(), args.work, qs, args.server_wait) for i in args.index]
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    args.out.write_text(report(results, args.note))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
