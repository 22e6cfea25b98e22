"""The `.html` loader on real saved news pages: the old BeautifulSoup parser against trafilatura (qa.html_extraction).

On ../shared/bench/html (pages/*.html and expected.jsonl, see its README), for each loader:

* article strings found: ``must_contain`` strings present in the stored article text;
* furniture leaked: ``must_not_contain`` strings (menus, related stories, follow-on articles) present in it;
* title / author / date / site found: an accepted value is a case-insensitive substring of the extracted one
  (author over the pages that have a byline);
* sentences cut by markup: sentences of the stored text (qa.chunking.split_sentences) that start right after a
  line break with a lower-case letter or a comma, semicolon, colon or closing bracket, i.e. in mid-sentence;
* time per page: the median over a few passes of reading each page from disk to an Article.

Then `qa index` of the pages with each loader (fresh index, in process, models loaded first) gives the whole
ingestion time per page: the loader's own time, and the embedding of what it kept (furniture included). The
machine may be shared, so timings alternate between the loaders, a few runs each, and report medians.

usage: python bench/html_loader.py [--runs 3] [--no-index]
(not bench/html.py: a script of that name would shadow the standard html module for everything it imports)
writes bench/results/html.md
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from qa.articles import Article, read_file_bytes
from qa.chunking import split_sentences
from qa.html_extraction import html_to_article, soup_html_to_article

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = REPO.parent / "shared" / "bench" / "html"
RESULT = BENCH / "results" / "html.md"
LOADERS: dict[str, Callable[..., Article]] = {
    "old (BeautifulSoup)": soup_html_to_article,
    "new (trafilatura)": html_to_article,
}
TARGETS = {"strings found": 0.95, "furniture leaked": 0.05, "author": 0.9, "date": 0.95, "site": 0.95}
_MID_SENTENCE = re.compile(r"[a-z,;:)\]]")


def matches(value: str, accepted: list[str] | None) -> bool:
    return bool(accepted) and any(a.lower() in value.lower() for a in accepted)


def cut_sentences(text: str) -> list[str]:
    """Sentences that begin inside a sentence: right after a line break, with a lower-case letter or punctuation."""
    return [text[s:e] for s, e in split_sentences(text) if s and text[s - 1] == "\n" and _MID_SENTENCE.match(text[s])]


def score(loader: Callable[..., Article], expected: list[dict]) -> dict:
    totals = dict.fromkeys(
        ("contain", "found", "must_not", "leaked", "bylines", "author", "date", "site", "title", "cut", "sentences",
         "characters"), 0
    )  # fmt: skip
    leaks, misses, cuts, wrong_meta = [], [], [], []
    for row in expected:
        page = DATA / "pages" / row["page"]
        article = loader(read_file_bytes(page), article_id=page.stem, origin=str(page))
        text = article.text
        found = [s for s in row["must_contain"] if s in text]
        leaked = [s for s in row["must_not_contain"] if s in text]
        totals["contain"] += len(row["must_contain"])
        totals["found"] += len(found)
        totals["must_not"] += len(row["must_not_contain"])
        totals["leaked"] += len(leaked)
        leaks += [f"{row['page']}: {s!r}" for s in leaked]
        misses += [f"{row['page']}: {s!r}" for s in row["must_contain"] if s not in found]
        if row["author"]:
            totals["bylines"] += 1
            totals["author"] += matches(article.author, row["author"])
        for field, value in (("date", article.published), ("site", article.source), ("title", article.title)):
            totals[field] += matches(value, row["published" if field == "date" else field])
        for field, value in (("author", article.author), ("published", article.published), ("site", article.source)):
            if row[field] and not matches(value, row[field]):
                wrong_meta.append(f"{row['page']}: {field} {value!r}, expected {row[field][0]!r}")
        cut = cut_sentences(text)
        totals["cut"] += len(cut)
        totals["sentences"] += len(split_sentences(text))
        totals["characters"] += len(text)
        cuts += [f"{row['page']}: {s[:70]!r}" for s in cut[:3]]
    pages = len(expected)
    return {
        "strings found": totals["found"] / totals["contain"],
        "furniture leaked": totals["leaked"] / totals["must_not"],
        "author": totals["author"] / totals["bylines"],
        "date": totals["date"] / pages,
        "site": totals["site"] / pages,
        "title": totals["title"] / pages,
        "counts": totals,
        "leaks": leaks, "misses": misses, "cuts": cuts, "wrong metadata": wrong_meta,
    }  # fmt: skip


def loader_seconds(loader: Callable[..., Article], pages: list[Path]) -> float:
    """Seconds a page to read the pages from disk into Articles."""
    started = time.perf_counter()
    for page in pages:
        loader(read_file_bytes(page), article_id=page.stem, origin=str(page))
    return (time.perf_counter() - started) / len(pages)


def index_seconds(loader: Callable[..., Article], pages: list[Path]) -> tuple[float, str]:
    """One `qa index` of the pages into a fresh index with ``loader`` for .html (models loaded first): seconds a
    page, and the run's summary."""
    from unittest import mock

    from qa import Assistant, Settings

    with tempfile.TemporaryDirectory() as work, mock.patch("qa.html_extraction.html_to_article", loader):
        assistant = Assistant(Settings(index_dir=Path(work) / "index"))
        assistant.embedder.encode(["warm up"])
        started = time.perf_counter()
        report = assistant.index(pages)
        return (time.perf_counter() - started) / len(pages), report.summary()


def interleaved_runs(measure: Callable, runs: int, pages: list[Path]) -> dict[str, list]:
    """``measure(loader, pages)`` for each loader in turn, ``runs`` times over: on a shared machine, load that
    comes and goes then weighs on both loaders alike. Returns the results of each loader, in run order."""
    results: dict[str, list] = {name: [] for name in LOADERS}
    for _ in range(runs):
        for name, loader in LOADERS.items():
            results[name].append(measure(loader, pages))
    return results


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()


def report(results: dict[str, dict], pages: int, index: dict[str, list[tuple[float, str]]] | None, runs: int) -> str:
    old, new = results.values()
    c_old, c_new = old["counts"], new["counts"]
    rows = [
        ("article strings found", "strings found", lambda c: f"{c['found']}/{c['contain']}", ">= 0.95"),
        ("furniture leaked", "furniture leaked", lambda c: f"{c['leaked']}/{c['must_not']}", "<= 0.05"),
        ("author (pages with a byline)", "author", lambda c: f"{c['author']}/{c['bylines']}", ">= 0.9"),
        ("date", "date", lambda c: f"{c['date']}/{pages}", ">= 0.95"),
        ("site", "site", lambda c: f"{c['site']}/{pages}", ">= 0.95"),
        ("title", "title", lambda c: f"{c['title']}/{pages}", ""),
    ]
    lines = [
        "# The `.html` loader on real news pages",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} with `python bench/html_loader.py` on "
        f"{platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; code: commit {commit()}. Pages: the {pages} saved pages of "
        "`../shared/bench/html` (see its README); old = the BeautifulSoup parser (`soup_html_to_article`, now the "
        "fallback), new = trafilatura (`html_to_article`).",
        "",
        "| | old | new | target |",
        "|---|---|---|---|",
    ]
    for label, key, count, target in rows:
        lines.append(f"| {label} | {count(c_old)} = {old[key]:.2f} | {count(c_new)} = {new[key]:.2f} | {target} |")
    lines.append(f"| sentences that begin inside a sentence (markup) | {c_old['cut']} of {c_old['sentences']} | "
                 f"{c_new['cut']} of {c_new['sentences']} | 0 |")  # fmt: skip
    lines.append(f"| characters stored | {c_old['characters']:,} | {c_new['characters']:,} | |")
    lines.append(f"| loader ms per page (median of {runs} interleaved passes) | {old['ms per page']:.1f} | "
                 f"{new['ms per page']:.1f} | |")  # fmt: skip
    extra = new["ms per page"] - old["ms per page"]
    lines += ["", f"The new loader takes {new['ms per page'] / old['ms per page']:.1f}x the old loader's time, "
              f"{extra:+.1f} ms a page."]  # fmt: skip
    if index:
        old_runs, new_runs = index.values()
        old_s, new_s = (statistics.median(s for s, _ in r) for r in (old_runs, new_runs))
        lines += [
            "", f"| `qa index` of the pages, fresh index ({runs} interleaved runs) | old | new |", "|---|---|---|",
            f"| ms per page (median) | {1000 * old_s:.0f} | {1000 * new_s:.0f} |",
            f"| ms per page (each run) | {', '.join(f'{1000 * s:.0f}' for s, _ in old_runs)} | "
            f"{', '.join(f'{1000 * s:.0f}' for s, _ in new_runs)} |",
            f"| first run | {old_runs[0][1]} | {new_runs[0][1]} |", "",
            f"With the new loader, indexing a folder of saved pages takes {new_s / old_s - 1:+.0%} time (limit "
            f"+20%); counting only the loaders' own time, the difference is {extra / (1000 * old_s):+.1%} of the old "
            "run's time a page. The old loader also hands the embedder the page furniture it keeps.",
        ]  # fmt: skip
    met = [
        name
        for name, target in TARGETS.items()
        if (new[name] <= target if name == "furniture leaked" else new[name] >= target)
    ]
    missed = "" if len(met) == len(TARGETS) else f" (missed: {', '.join(set(TARGETS) - set(met))})"
    lines += ["", f"Targets met by the new loader: {len(met)} of {len(TARGETS)}{missed}."]
    for name, result in results.items():
        lines += ["", f"## {name}: what it got wrong", ""]
        for what in ("misses", "leaks", "wrong metadata", "cuts"):
            items = result[what]
            label = f"{what} (the first 3 of each page)" if what == "cuts" else f"{what} ({len(items)})"
            lines.append(
                f"- {label}: " + ("; ".join(items[:12]) + ("; ..." if len(items) > 12 else "") if items else "none")
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="Interleaved timing runs of each loader (median).")
    parser.add_argument("--no-index", action="store_true", help="Skip the `qa index` runs (no models loaded).")
    args = parser.parse_args()
    expected = [json.loads(line) for line in (DATA / "expected.jsonl").read_text().splitlines() if line.strip()]
    pages = [DATA / "pages" / row["page"] for row in expected]
    results = {name: score(loader, expected) for name, loader in LOADERS.items()}
    for name, seconds in interleaved_runs(loader_seconds, args.runs, pages).items():
        results[name]["ms per page"] = 1000 * statistics.median(seconds)
    index = None if args.no_index else interleaved_runs(index_seconds, args.runs, pages)
    text = report(results, len(expected), index, args.runs)
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
