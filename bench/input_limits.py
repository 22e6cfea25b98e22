"""Peak memory of the loaders on hostile inputs: each must stay at or under 300 MB RSS.

Each case is written to a temporary file (in blocks, never held whole) and read in a child process of its own,
which iterates ``qa.loaders.load_articles`` over it the way ``qa index`` does: articles are streamed on, every
Skipped is kept as its warning line (as the index report keeps them). The child reports its peak RSS
(``VmHWM`` in /proc/self/status), its RSS after the imports alone, and what it yielded.

Cases (from the red team's report; their figures before the bounds are in the results file):

* 400k `{}` lines: 400,000 JSONL lines without a "text" string;
* 60 MB of bad lines: 20 million short lines of malformed JSON and non-objects;
* one 200 MB line: a single JSONL record of 200 MB (over ``MAX_LINE_BYTES``, 32 MiB);
* a 200 KB doc_id: one JSONL record whose doc_id is 200,000 characters long;
* 1 MB of random bytes as .html: no NUL byte in it, so only the control-byte test calls it binary.

usage: python bench/input_limits.py            (writes bench/results/input_limits.md)
       python bench/input_limits.py --child PATH   (one case; prints a JSON line)
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "input_limits.md"
LIMIT_MB = 300
BLOCK = 1 << 20


def peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM). Not ``ru_maxrss``: Linux keeps that across fork and exec,
    so a child of a big process (pytest with models loaded) would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: kilobytes on Linux and BSD


def child(path: Path) -> dict:
    from qa.articles import Article
    from qa.loaders import load_articles

    baseline = peak_rss_mb()
    articles, warnings = 0, []
    for item in load_articles([path]):
        if isinstance(item, Article):
            articles += 1
        else:
            warnings.append(str(item))
    shown = [w.replace(str(path), "FILE") for w in warnings[:1] + warnings[-1:]]
    return {"articles": articles, "skipped": len(warnings), "shown": [s[:300] for s in shown],
            "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip


# --- the cases, each written in blocks ---------------------------------------------------------------------


def write_empty_objects(path: Path) -> None:
    with path.open("wb") as f:
        for _ in range(40):
            f.write(b"{}\n" * 10_000)


def write_bad_lines(path: Path) -> None:
    pattern = b"x\n{\n[1]\n"  # malformed JSON twice, then a list: 3 bytes a line
    block = pattern * (BLOCK // len(pattern))
    with path.open("wb") as f:
        for _ in range(60):
            f.write(block)


def write_huge_line(path: Path) -> None:
    with path.open("wb") as f:
        f.write(b'{"doc_id": "huge", "text": "')
        for _ in range(200):
            f.write(b"All work and no play. " * (BLOCK // 22))
        f.write(b'"}\n')
        f.write(b'{"doc_id": "after", "text": "The line after the long one is read."}\n')


def write_long_doc_id(path: Path) -> None:
    record = {"doc_id": "d" * 200_000, "title": "Long id", "text": "The harbour closed on Friday. " * 50}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")


def write_random_html(path: Path) -> None:
    data = random.Random(1).randbytes(1_100_000).replace(b"\x00", b"")
    path.write_bytes(data[:1_000_000])


CASES = [
    ("400k `{}` lines", "objects.jsonl", write_empty_objects, "400k warnings, 1.2 GB RSS"),
    ("60 MB of bad lines", "bad.jsonl", write_bad_lines, "21M warnings, 3.2 GB RSS"),
    ("one 200 MB line", "huge.jsonl", write_huge_line, "5.7 GB RSS"),
    ("a 200 KB doc_id", "long-id.jsonl", write_long_doc_id, "indexed: a 569 MB index"),
    ("1 MB random bytes, no NUL (.html)", "noise.html", write_random_html, "indexed: 8,000 garbage sentences"),
]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", type=Path, help="read this one file and print a JSON line")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, file_name, write, before in CASES:
            path = Path(tmp) / file_name
            write(path)
            size = path.stat().st_size
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True)
            path.unlink()
            if out.returncode:
                rows.append((name, size, before, None, out.stderr.strip().splitlines()[-1:]))
                print(f"{name}: FAILED {out.stderr[-500:]}", flush=True)
                continue
            result = json.loads(out.stdout)
            rows.append((name, size, before, result, None))
            print(f"{name}: {result}", flush=True)
    lines = [
        "# Loader memory on hostile inputs",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} with `python bench/input_limits.py` on {platform.machine()}, "
        f"Python {platform.python_version()}; code: commit {commit()} (with the input bounds of qa/articles.py). "
        "Each case is read in a child process of its own by `qa.loaders.load_articles`, keeping every warning "
        f'line as `qa index` does; peak RSS is the child\'s own high-water mark (VmHWM). Limit: {LIMIT_MB} MB a case. "Before" is the red '
        "team's report on the loader without these bounds (not re-measured).",
        "",
        "| case | file | before | articles | warnings | peak RSS MB (after imports) | <= 300 MB | what was reported |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, size, before, result, error in rows:
        if result is None:
            lines.append(f"| {name} | {size / 1e6:,.1f} MB | {before} | | | | FAILED | {error} |")
            continue
        ok = "yes" if result["peak_rss_mb"] <= LIMIT_MB else "**NO**"
        shown = " / ".join(s.replace("|", "\\|") for s in dict.fromkeys(result["shown"]))
        lines.append(f"| {name} | {size / 1e6:,.1f} MB | {before} | {result['articles']} | {result['skipped']} | "
                     f"{result['peak_rss_mb']:,.0f} ({result['baseline_rss_mb']:,.0f}) | {ok} | {shown} |")  # fmt: skip
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
