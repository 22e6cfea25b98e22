"""Recovery from a damaged index at 1,000 articles: what `qa status` says, and what `qa index --rebuild` keeps.

The damage is the red-team list of issue 30, each on a fresh copy of one index of 1,000 articles (the 600
articles of ../shared/bench/squad2 and multihoprag, and 400 edited copies of them: a new doc_id and a changed
first sentence). The index is built once with `qa index -q` in bench/work/recovery/ and kept there while its
corpus and the code that writes it are unchanged. The damage:

* (a) a writer killed mid-transaction: a child process runs BEGIN IMMEDIATE, updates every article text with
  ``PRAGMA cache_size=1`` (so changed pages spill into the file before the commit) and SIGKILLs itself, leaving
  a hot rollback journal (as ``leave_hot_journal`` in tests/test_recovery.py);
* (b) the first 100 bytes of chroma.sqlite3 (the database header) zeroed;
* (c) chroma.sqlite3 truncated to half its size;
* (d) a chroma.sqlite3-journal of 8 KiB of random bytes beside a sound database;
* (e) 5 consecutive pages in the middle of chroma.sqlite3 overwritten with random bytes;
* (f) 30 flipped bytes in the level-0 link lists of the sentences collection's HNSW data_level0.bin (as
  ``flip_links`` in tests/test_recovery.py).

For each: `qa status` (exit code, a crash shows as a negative code, and its first line), then
`qa index -q --rebuild EMPTY` with an empty folder as PATH, so the rebuilt index holds only the articles read
back from the damaged one; its wall time and peak RSS (GNU time's %M, the rebuild process alone), the
"rebuilding the index with N articles read from the old one (...)" line, and then `qa status` of the result. The
salvaged articles are compared with the undamaged index (id and content hash, read by SQLite in a child process).

Then (g) a rebuild killed half-way: `qa index --rebuild` that SIGKILLs itself at its 3rd chunk write (as
``REBUILD_KILLER`` in tests/test_recovery.py, batches of 32 chunks), then `qa status` (all 1,000 articles must
still be there) and the next rebuild, which must delete the unfinished copy and keep all 1,000.

A first row rebuilds the undamaged index, for the time and memory a rebuild takes anyway.

usage: python bench/recovery.py [--worktree] [--only none a b c d e f g] [--report]
writes bench/results/recovery.md; work files in bench/work/recovery/ (logs of every command in logs/)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = REPO / "bench" / "work" / "recovery"
RESULTS = REPO / "bench" / "results" / "recovery.md"
SHARED_BENCH = REPO.parent / "shared" / "bench"
CORPORA = (SHARED_BENCH / "squad2" / "corpus.jsonl", SHARED_BENCH / "multihoprag" / "corpus.jsonl")

PYTHON = sys.executable
TIME = "/usr/bin/time"  # GNU time: the peak RSS of the command alone (%M)
ARTICLES = 1000
COPIES = 400
DATABASE = "chroma.sqlite3"
# Files whose code decides what an index run writes: the cached index is rebuilt when one changes.
WRITER_FILES = ("articles.py", "chunking.py", "embeddings.py", "indexing.py", "store.py", "settings.py")
STATUS_TIMEOUT = 600
REBUILD_TIMEOUT = 3600
HEAD_LINE = re.compile(r"rebuilding the index with ([\d,]+) articles read from the old one \((.*)\)$", re.MULTILINE)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the code measured -------------------------------------------------------------------------------------


def select_code(worktree: bool) -> tuple[Path, str]:
    """A snapshot of HEAD's qa/ (default: the work tree may be mid-edit by others) or the work tree itself."""
    git = ["git", "-C", str(REPO)]
    sha = (
        subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
        or "unknown"
    )
    if worktree or sha == "unknown":
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "qa"], capture_output=True, text=True, check=False
        ).stdout.strip()
        return REPO, f"work tree at {sha[:10]}" + (" with uncommitted changes in qa/" if dirty else "")
    src = WORK / f"src-{sha[:12]}"
    if not (src / "qa" / "cli.py").exists():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run([*git, "archive", "HEAD", "qa", "seeds"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src, f"commit {sha[:10]} (snapshot of HEAD's qa/)"


CODE = REPO
ENV: dict[str, str] = {}


def qa(index_dir: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "qa.cli", "--index-dir", str(index_dir), *args]


def run(cmd: list[str], name: str, timeout: float, env: dict | None = None) -> dict:
    """A command under GNU time, in its own process group: exit code (negative: killed by that signal), wall
    time, peak RSS of the command, stdout and stderr (kept in logs/NAME.*)."""
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path, rss_path = (logs / f"{name}.{x}" for x in ("out", "err", "rss"))
    rss_path.unlink(missing_ok=True)
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M %x", "-o", str(rss_path), *cmd], stdout=out, stderr=err,
                                env={**ENV, **(env or {})}, cwd=CODE, start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        wall = time.perf_counter() - started
    lines = rss_path.read_text().splitlines() if rss_path.exists() else []
    rc: int | None = None
    peak_mb = None
    if lines:
        peak, code = lines[-1].split()
        peak_mb, rc = int(peak) / 1024, int(code)
        killed = re.match(r"Command terminated by signal (\d+)", lines[0])
        if killed:
            rc = -int(killed.group(1))
    if timed_out:
        rc = None
    return {"rc": rc, "timed_out": timed_out, "wall_s": wall, "peak_rss_mb": peak_mb,
            "stdout": out_path.read_text(errors="replace"), "stderr": err_path.read_text(errors="replace")}  # fmt: skip


def first_line(result: dict) -> str:
    text = result["stdout"] if result["rc"] == 0 else (result["stderr"] or result["stdout"])
    lines = [line for line in text.splitlines() if line.strip()]
    if result["timed_out"]:
        return "(no answer: timed out)"
    if "Traceback (most recent call last)" in text:
        return f"Traceback: {lines[-1] if lines else ''}"
    return lines[0] if lines else "(no output)"


def article_count(result: dict) -> int | None:
    match = re.match(r"([\d,]+) articles", result["stdout"])
    return int(match.group(1).replace(",", "")) if result["rc"] == 0 and match else None


def stored_hashes(index_dir: Path, name: str) -> dict[str, str]:
    """Article id -> content hash of an index, read by SQLite (qa.integrity.salvage_articles) in a child."""
    code = ("import json, sys; from pathlib import Path; from qa.integrity import salvage_articles; "
            "print(json.dumps({a.id: a.content_hash for a in salvage_articles(Path(sys.argv[1]), 'articles')[0]}))")  # fmt: skip
    result = run([PYTHON, "-c", code, str(index_dir)], name, STATUS_TIMEOUT)
    if result["rc"] != 0:
        raise SystemExit(f"reading the articles of {index_dir} failed: {result['stderr'][-2000:]}")
    return json.loads(result["stdout"])


# --- the index ---------------------------------------------------------------------------------------------


def write_corpus(path: Path) -> None:
    """The 600 bench articles and 400 edited copies of them (new doc_id, first sentence changed)."""
    rows = []
    for corpus in CORPORA:
        with corpus.open(encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    copies = []
    for n, row in enumerate(rows[: COPIES // 2] + rows[len(rows) // 2 : len(rows) // 2 + COPIES // 2]):
        text = row["text"]
        cut = text.find(". ")
        first, rest = (text[:cut], text[cut:]) if cut > 0 else (text, "")
        copies.append({**row, "doc_id": f"{row['doc_id']}~e{n}",
                       "text": f"According to revised edition {n} of the report, {first[:1].lower()}{first[1:]}{rest}"})  # fmt: skip
    rows += copies
    assert len(rows) == ARTICLES and len({r["doc_id"] for r in rows}) == ARTICLES
    assert len({r["text"] for r in rows}) == ARTICLES, "the articles are not distinct"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def cache_key(corpus: Path) -> str:
    digest = hashlib.sha256(corpus.read_bytes())
    for name in WRITER_FILES:
        file = CODE / "qa" / name
        digest.update(file.read_bytes() if file.exists() else b"")
    return digest.hexdigest()


def base_index() -> tuple[Path, dict[str, str], dict | None]:
    """The undamaged index of 1,000 articles (built, or reused when its corpus and writer code are unchanged)
    with its article hashes, and the build's measurements (None when reused)."""
    corpus = WORK / "corpus.jsonl"
    write_corpus(corpus)
    index_dir, stamp, measured = WORK / "index-base", WORK / "index-base.key", WORK / "index-base.json"
    key = cache_key(corpus)
    if index_dir.is_dir() and stamp.exists() and stamp.read_text() == key:
        hashes = stored_hashes(index_dir, "base-hashes")
        if len(hashes) == ARTICLES:
            log(f"reusing {index_dir.relative_to(REPO)} ({len(hashes)} articles)")
            try:
                return index_dir, hashes, {**json.loads(measured.read_text()), "reused": True}
            except (OSError, ValueError):
                return index_dir, hashes, None
    shutil.rmtree(index_dir, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    log(f"indexing {ARTICLES} articles into {index_dir.relative_to(REPO)}")
    build = run(qa(index_dir, "index", "-q", str(corpus)), "base-index", REBUILD_TIMEOUT)
    if build["rc"] != 0:
        raise SystemExit(f"qa index failed ({build['rc']}): {build['stderr'][-3000:]}")
    log(f"indexed in {build['wall_s']:.0f} s, peak RSS {build['peak_rss_mb']:.0f} MB: {build['stdout'].strip()}")
    hashes = stored_hashes(index_dir, "base-hashes")
    if len(hashes) != ARTICLES:
        raise SystemExit(f"the index holds {len(hashes)} articles, not {ARTICLES}")
    stamp.write_text(key)
    measured.write_text(json.dumps({k: build[k] for k in ("wall_s", "peak_rss_mb", "stdout")}))
    return index_dir, hashes, build


# --- the damage --------------------------------------------------------------------------------------------


def leave_hot_journal(index_dir: Path) -> str:
    database = index_dir / DATABASE
    code = f"""
import os, signal, sqlite3
db = sqlite3.connect({str(database)!r}, isolation_level=None)
db.execute("PRAGMA cache_size=1")  # spill the changed pages into the database file before the commit
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE embedding_metadata SET string_value = string_value || 'x' WHERE key = 'chroma:document'")
db.execute("UPDATE embeddings SET created_at = created_at")
os.kill(os.getpid(), signal.SIGKILL)
"""
    rc = subprocess.run([PYTHON, "-c", code], timeout=STATUS_TIMEOUT, check=False).returncode
    journal = database.with_name(DATABASE + "-journal")
    if rc != -signal.SIGKILL or not journal.exists():
        raise SystemExit(f"no hot journal was left (exit {rc})")
    return f"journal of {journal.stat().st_size / 2**20:,.1f} MiB left"


def zero_header(index_dir: Path) -> str:
    with open(index_dir / DATABASE, "r+b") as f:
        f.write(b"\0" * 100)
    return "100 bytes zeroed"


def truncate_half(index_dir: Path) -> str:
    database = index_dir / DATABASE
    size = database.stat().st_size
    os.truncate(database, size // 2)
    return f"{size / 2**20:,.1f} -> {size // 2 / 2**20:,.1f} MiB"


def garbage_journal(index_dir: Path) -> str:
    (index_dir / (DATABASE + "-journal")).write_bytes(random.Random(30).randbytes(8192))
    return "8 KiB journal"


def garbage_pages(index_dir: Path) -> str:
    database = index_dir / DATABASE
    with open(database, "r+b") as f:
        header = f.read(100)
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = database.stat().st_size // page_size
        first = pages // 2
        f.seek(first * page_size)
        f.write(random.Random(30).randbytes(5 * page_size))
    return f"pages {first + 1}-{first + 5} of {pages:,} ({page_size:,} B each)"


def flip_links(index_dir: Path, count: int = 30) -> str:
    import sqlite3

    with sqlite3.connect(index_dir / DATABASE) as db:
        rows = db.execute("SELECT c.name, s.id FROM segments s JOIN collections c ON c.id = s.collection "
                          "WHERE s.scope = 'VECTOR'").fetchall()  # fmt: skip
    db.close()
    segment = index_dir / dict(rows)["articles-sentences"]
    rng = random.Random(7)
    data = bytearray((segment / "data_level0.bin").read_bytes())
    element_bytes = int.from_bytes((segment / "header.bin").read_bytes()[4 + 8 * 3 : 4 + 8 * 4], "little")
    elements = len(data) // element_bytes
    for _ in range(count):
        data[rng.randrange(elements) * element_bytes + rng.randrange(64)] ^= 0xFF
    (segment / "data_level0.bin").write_bytes(bytes(data))
    return f"{count} bytes of {elements:,} elements"


DAMAGE = {
    "a": ("writer killed mid-transaction (hot journal)", leave_hot_journal),
    "b": ("first 100 bytes of chroma.sqlite3 zeroed", zero_header),
    "c": ("chroma.sqlite3 truncated to half", truncate_half),
    "d": ("garbage chroma.sqlite3-journal", garbage_journal),
    "e": ("random bytes over 5 pages mid-database", garbage_pages),
    "f": ("30 flipped bytes in the sentences' HNSW links", flip_links),
}

# `qa index --rebuild` that SIGKILLs itself before its KILL_AT-th chunk write (tests/test_recovery.py).
REBUILD_KILLER = """
import os, signal
from qa.store import ArticleStore

kill_at, steps = int(os.environ["KILL_AT"]), 0
real_add = ArticleStore._add


def add(self, collection, **kwargs):
    global steps
    steps += 1
    if steps == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_add(self, collection, **kwargs)


ArticleStore._add = add
from qa.cli import main

main()
"""


# --- the cases ---------------------------------------------------------------------------------------------


def fresh_copy(base: Path, case: str) -> Path:
    folder = WORK / f"case-{case}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "empty").mkdir(parents=True)
    shutil.copytree(base, folder / "index")
    return folder


def compare(rebuilt: dict[str, str], before: dict[str, str]) -> str:
    same = sum(1 for a, h in rebuilt.items() if before.get(a) == h)
    foreign = sum(1 for a in rebuilt if a not in before)
    changed = len(rebuilt) - same - foreign
    if not changed and not foreign:
        return "all as before"
    return f"**{changed} changed, {foreign} unknown**"


def rebuild_case(base: Path, before: dict[str, str], case: str) -> dict:
    label, damage = DAMAGE.get(case, ("undamaged index", lambda _: ""))
    folder = fresh_copy(base, case)
    index_dir = folder / "index"
    did = damage(index_dir)
    log(f"({case}) {label}: {did}")
    status = run(qa(index_dir, "status"), f"{case}-status", STATUS_TIMEOUT)
    log(f"    qa status: exit {status['rc']}: {first_line(status)}")
    rebuild = run(qa(index_dir, "index", "-q", "--rebuild", str(folder / "empty")), f"{case}-rebuild", REBUILD_TIMEOUT)
    head = HEAD_LINE.search(rebuild["stderr"])
    log(f"    rebuild: exit {rebuild['rc']} in {rebuild['wall_s']:.1f} s, peak RSS {rebuild['peak_rss_mb']} MB; "
        f"{head.group(0) if head else first_line(rebuild)}")  # fmt: skip
    after = run(qa(index_dir, "status"), f"{case}-status-after", STATUS_TIMEOUT)
    count = article_count(after)
    hashes = stored_hashes(index_dir, f"{case}-hashes") if count is not None else {}
    log(f"    after: exit {after['rc']}: {first_line(after)}; {compare(hashes, before)}")
    row = {"case": case, "label": label, "damage": did, "status": status, "rebuild": rebuild, "after": after,
           "count": count, "read": head.group(2) if head else None, "read_count": head.group(1) if head else None,
           "compare": compare(hashes, before) if count is not None else ""}  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)  # the index and the old one set aside beside it
    return row


def killed_rebuild_case(base: Path, before: dict[str, str]) -> list[dict]:
    folder = fresh_copy(base, "g")
    index_dir = folder / "index"
    killer = folder / "rebuild_killer.py"
    killer.write_text(REBUILD_KILLER)
    log("(g) a rebuild killed at its 3rd chunk write")
    killed = run([PYTHON, str(killer), "--index-dir", str(index_dir), "index", "-q", "--rebuild", str(folder / "empty")],
                 "g-rebuild-killed", REBUILD_TIMEOUT, env={"KILL_AT": "3", "QA_INDEX_BATCH_CHUNKS": "32"})  # fmt: skip
    staging = sorted(p.name for p in folder.glob("index.rebuild-*"))
    log(f"    killed rebuild: exit {killed['rc']} after {killed['wall_s']:.1f} s; unfinished copies: {staging}")
    status = run(qa(index_dir, "status"), "g-status", STATUS_TIMEOUT)
    count = article_count(status)
    hashes = stored_hashes(index_dir, "g-hashes") if count is not None else {}
    log(f"    qa status: exit {status['rc']}: {first_line(status)}; {compare(hashes, before)}")
    head = HEAD_LINE.search(killed["stderr"])
    rows = [{"case": "g", "label": "rebuild SIGKILLed at its 3rd chunk write", "status": status, "rebuild": killed,
             "count": count, "compare": compare(hashes, before) if count is not None else "",
             "read": head.group(2) if head else None, "read_count": head.group(1) if head else None,
             "kept": "unfinished copy left beside it" if staging else "no unfinished copy left"}]  # fmt: skip
    again = run(qa(index_dir, "index", "-q", "--rebuild", str(folder / "empty")), "g-rebuild-again", REBUILD_TIMEOUT)
    head = HEAD_LINE.search(again["stderr"])
    left = sorted(p.name for p in folder.glob("index.rebuild-*"))
    after = run(qa(index_dir, "status"), "g-status-after", STATUS_TIMEOUT)
    count = article_count(after)
    hashes = stored_hashes(index_dir, "g2-hashes") if count is not None else {}
    log(f"    next rebuild: exit {again['rc']} in {again['wall_s']:.1f} s; then {first_line(after)}; "
        f"{compare(hashes, before)}; unfinished copies left: {left}")  # fmt: skip
    rows.append({"case": "g'", "label": "the next rebuild after (g)", "status": status, "rebuild": again,
                 "after": after, "count": count, "compare": compare(hashes, before) if count is not None else "",
                 "read": head.group(2) if head else None, "read_count": head.group(1) if head else None,
                 "kept": "unfinished copy deleted" if not left else f"**unfinished copy still there: {left}**"})  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    return rows


# --- the report --------------------------------------------------------------------------------------------


def cell(text: str) -> str:
    text = text.replace(str(WORK), "WORK").replace("|", "\\|")
    text = re.sub(r"WORK/case-[\w']+/index", "INDEX", text)
    return text


def status_cell(result: dict) -> str:
    rc = "timeout" if result["timed_out"] else result["rc"]
    line = cell(first_line(result))
    line = re.sub(r"; model .*", "", line)  # "1000 articles, 1340 chunks; model ...; at INDEX"
    line = line.replace(" (it keeps every article it can still read and sets the damaged folder aside)", "")
    line = re.sub(r"the index in INDEX is damaged", "damaged", line)
    line = re.sub(r"segment [0-9a-f-]{36}", "segment", line)
    line = line if len(line) <= 200 else line[:197] + "..."
    return f"exit {rc}: {line}"


def cpu_description() -> str:
    """As bench/common.py's (not imported: it imports qa from the work tree, which may be mid-edit)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{os.cpu_count()} cores"
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    return f"{name.group(1).strip() if name else 'unknown CPU'}, {os.cpu_count()} cores"


def machine() -> str:
    try:
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 2**20
    except (OSError, AttributeError):
        mem = 0
    return f"{cpu_description()}, {mem:.0f} GiB RAM; Python {sys.version.split()[0]}"


def problems(rows: list[dict]) -> list[str]:
    """What misbehaved: tracebacks, crashes, failed rebuilds, lost or altered articles."""
    found = []
    for row in rows:
        tag = f"({row['case']}) {row['label']}"
        results = [("qa status", row["status"]), ("rebuild", row["rebuild"])] + (
            [("qa status after the rebuild", row["after"])] if row.get("after") else [])  # fmt: skip
        for what, result in results:
            if "Traceback (most recent call last)" in result["stderr"]:
                found.append(f"{tag}: {what} printed a traceback: `{cell(first_line(result))}`")
            if result["rc"] is not None and result["rc"] < 0 and not (row["case"] == "g" and what == "rebuild"):
                found.append(f"{tag}: {what} was killed by signal {-result['rc']} (a crash)")
            if result["timed_out"]:
                found.append(f"{tag}: {what} timed out")
        if row["case"] != "g" and row["rebuild"]["rc"] != 0:
            found.append(
                f"{tag}: the rebuild failed (exit {row['rebuild']['rc']}): `{cell(first_line(row['rebuild']))}`"
            )
        if row["case"] == "g" and row["rebuild"]["rc"] != -signal.SIGKILL:
            found.append(f"{tag}: the killer did not kill the rebuild (exit {row['rebuild']['rc']})")
        if row["case"] in ("g", "g'", "none", "a", "d", "f") and row["count"] != ARTICLES:
            found.append(f"{tag}: {row['count']} articles, not all {ARTICLES}")
        if row["compare"].startswith("**"):
            found.append(f"{tag}: salvaged articles differ from the undamaged index: {row['compare']}")
        if row.get("kept", "").startswith("**"):
            found.append(f"{tag}: {row['kept'].strip('*')}")
    return found


def write_report(rows: list[dict], build: dict | None, started: str, code_label: str, loads: str) -> None:
    built = "reused from an earlier run of this bench: same corpus and writer code" if not build or build.get("reused") \
        else "built by this run"  # fmt: skip
    if build:
        built += f"; building it took {build['wall_s']:.0f} s, peak RSS {build['peak_rss_mb']:.0f} MB"
    lines = [
        "# Recovery from a damaged index (1,000 articles)",
        "",
        (
            f"Measured {started} with `python bench/recovery.py` on {machine()}; code: {code_label}. Load "
            f"average (1/5/15 min) {loads}: the machine was shared with other work, and the same rebuild took up to a "
            "third more or less time in another run of this bench; the article counts were the same."
        ),
        "",
        (
            f"One index of {ARTICLES:,} distinct articles (the 600 of squad2 and multihoprag in ../shared/bench and {COPIES} "
            f"edited copies: new doc_id, changed first sentence), indexed with `qa index -q` ({built}). Each damage of the "
            'red-team list of issue 30 is done to a fresh copy of it. "`qa status` says" is its exit code (negative: '
            "killed by that signal) and first line, paths shortened to INDEX. The rebuild is "
            "`qa index -q --rebuild EMPTY` with an empty folder as PATH, so only the articles read back from the damaged "
            'index are in the result; "articles after rebuild" is `qa status` of the rebuilt index, compared (id and '
            'content hash) with the undamaged one. "Read how" is the rebuild\'s own line on where it read them. Seconds '
            "are wall time; peak RSS is GNU time's %M of the rebuild process."
        ),
        "",
        "| damage | `qa status` says | articles after rebuild (of 1,000) | read how | rebuild s | rebuild peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        rebuild = row["rebuild"]
        damage = f"({row['case']}) {row['label']}" + (f" ({row['damage']})" if row.get("damage") else "")
        if row["case"] == "g":
            status = status_cell(row["status"]) + " (after the kill)"
            count = f"{row['count']:,} still there, {row['compare']}" if row["count"] is not None else "?"
            read = (f"killed (exit {rebuild['rc']}) after reading {row['read_count']} ({cell(row['read'] or '')}); "
                    f"{row['kept']}")  # fmt: skip
        else:
            status = "(as (g))" if row["case"] == "g'" else status_cell(row["status"])
            if rebuild["rc"] == 0:
                count = (
                    f"{row['count']:,} ({row['count'] / ARTICLES:.0%}), {row['compare']}"
                    if row["count"] is not None
                    else status_cell(row["after"])
                )
            else:
                count = f"rebuild failed: {status_cell(rebuild)}"
            read = f"{row['read_count']}: {cell(row['read'])}" if row["read"] else "(no line)"
            if row.get("kept"):
                read += f"; {row['kept']}"
        peak = f"{rebuild['peak_rss_mb']:,.0f}" if rebuild["peak_rss_mb"] else "?"
        lines.append(f"| {damage} | {status} | {count} | {read} | {rebuild['wall_s']:,.1f} | {peak} |")
    found = problems(rows)
    lines += [
        "",
        (
            "(a) and (d) are not damage: the first SQLite connection replays the hot journal of (a), and deletes the "
            "journal of (d), whose header is not a journal's; the rebuild then reads every article with SQLite. (f) "
            "leaves the database sound, so it too is read by SQLite. (b), (c) and (e) fail SQLite's own reading and are "
            "read page by page (qa.salvage); an article is kept only when its text and metadata match its stored hash."
        ),
        "",
        "Problems found: " + ("none." if not found else ""),
        *(f"* {p}" for p in found),
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {RESULTS.relative_to(REPO)}")
    print("\n".join(lines[lines.index("| damage | `qa status` says | articles after rebuild (of 1,000) | read how | "
                                      "rebuild s | rebuild peak RSS MB |"):]))  # fmt: skip


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    global CODE, ENV
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worktree", action="store_true", help="measure the work tree's qa/ instead of HEAD's")
    parser.add_argument("--only", nargs="*", help="only these cases (none a b c d e f g)")
    parser.add_argument("--report", action="store_true", help="only write the report again from the last run")
    args = parser.parse_args()
    if args.report:
        saved = json.loads((WORK / "results.json").read_text())
        write_report(saved["rows"], saved["build"], saved["started"], saved["code"], saved["loads"])
        return
    started, load_before = datetime.now().strftime("%Y-%m-%d %H:%M"), load()
    WORK.mkdir(parents=True, exist_ok=True)
    CODE, code_label = select_code(args.worktree)
    ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(CODE)}
    log(f"code: {code_label}")
    base, before, build = base_index()
    cases = args.only or ["none", *DAMAGE, "g"]
    rows = []
    for case in cases:
        rows += killed_rebuild_case(base, before) if case == "g" else [rebuild_case(base, before, case)]
    loads = f"{load_before} at the start, {load()} at the end"
    saved = {"build": build, "rows": rows, "started": started, "code": code_label, "loads": loads}
    (WORK / "results.json").write_text(json.dumps(saved, indent=1))
    write_report(rows, build, started, code_label, loads)


if __name__ == "__main__":
    main()
