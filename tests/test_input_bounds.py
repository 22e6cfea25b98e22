"""Inputs that are too big, too many or not what they claim: each is one bounded, readable Skipped (or a safe
name), never a huge index, a memory blow-up, garbage sentences or a traceback. Counts and sizes only: nothing
here depends on how fast the machine is."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import qa.articles as articles
from qa.articles import MAX_ID_CHARS, Article, Skipped, article_from_text, article_id_problem, safe_article_id
from qa.citations import citation_id, parse_citation_id
from qa.errors import CitationNotFound, InputError
from qa.files import looks_binary
from qa.loaders import load_articles
from qa.ui_text import conversation_markdown, plain, safe_upload_name, save_uploads

from .conftest import ROOT, SEEDS, wait_until

PAGES = ROOT.parent / "shared" / "bench" / "html" / "pages"
BAD_ID_CHARS = ["\n", "\t", "\r", "\x1b", "\x7f", "\x85", "\u202e", "\u202a", "\u2066", "\u2069"]


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Skipped)]


def jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


# --- 1. article ids ----------------------------------------------------------------------------------------


def test_a_doc_id_too_long_or_with_control_characters_is_one_skipped_line_naming_it(tmp_path):
    records = [{"doc_id": "ok-1", "text": "The first story."}, {"doc_id": "x" * 200_000, "text": "A long id."}]
    records += [{"doc_id": f"a{c}b", "text": "A story with a bad id."} for c in BAD_ID_CHARS]
    records += [{"doc_id": "y" * MAX_ID_CHARS, "text": "The longest id there may be."}]
    corpus = jsonl(tmp_path / "news.jsonl", records)
    found, skipped = split(load_articles([corpus]))
    assert [a.id for a in found] == ["ok-1", "y" * MAX_ID_CHARS]
    assert len(BAD_ID_CHARS) == 10  # so 11 lines are skipped: ten named, the eleventh in a summary
    assert [s.where for s in skipped[:10]] == [f"{corpus}:{n}" for n in range(2, 12)]
    assert skipped[0].reason == "doc_id: id is 200,000 characters long (at most 200)"
    assert skipped[1].reason == "doc_id: id has control or bidirectional characters (U+000A)"
    assert skipped[10:] == [Skipped(str(corpus), "and 1 more line skipped (doc_id: id has control or bidirectional "
                                                 "characters (U+2069))")]  # fmt: skip
    for s in skipped:
        assert "doc_id" in str(s) and "\n" not in str(s) and len(str(s)) < len(str(corpus)) + 120


def test_a_front_matter_id_follows_the_same_rule(tmp_path):
    page = tmp_path / "story.md"
    page.write_text(f"---\nid: {'z' * 300}\n---\nThe harbour closed on Friday.\n", encoding="utf-8")
    [item] = load_articles([page])
    assert isinstance(item, Skipped) and "300 characters long" in item.reason
    with pytest.raises(InputError, match="control or bidirectional"):
        article_from_text("Body.", article_id="a\u202eb")


def test_a_file_name_that_is_no_good_id_gets_a_safe_one_and_names_never_collide(tmp_path):
    names = ["a\nb", "a\tb", "a_b", "x" * 240, "x" * 239 + "y", "evil\u202etxt."]
    for name in names:
        (tmp_path / f"{name}.txt").write_text(f"A story from the file {name!r}.\n", encoding="utf-8")
    jsonl(tmp_path / ("j\nl" * 60 + ".jsonl"), [{"text": "A line without a doc_id."}])
    jsonl(tmp_path / ("k" * 240 + ".jsonl"), [{"text": f"Line {n} without a doc_id."} for n in range(1, 12)])
    found, skipped = split(load_articles([tmp_path]))
    assert not skipped and len(found) == len(names) + 12
    ids = [a.id for a in found]
    assert len(set(ids)) == len(ids)
    assert "a_b" in ids  # a good name is its own id
    for article in found:
        assert article_id_problem(article.id) == "" and len(article.id) <= MAX_ID_CHARS
        cited = citation_id(article.id, 0, 5, article.version)
        assert parse_citation_id(cited) == (article.id, 0, 5, article.version)
    assert safe_article_id("a\nb") != safe_article_id("a\rb") and safe_article_id("a\nb").startswith("a_b-")


# --- 2. and 3. JSONL lines: their size and how many are reported ---------------------------------------------


def test_an_over_long_jsonl_line_is_skipped_without_being_held(tmp_path, monkeypatch):
    monkeypatch.setattr(articles, "MAX_LINE_BYTES", 1024)
    corpus = tmp_path / "big.jsonl"
    head = '{"doc_id": "exact", "text": "'
    exact = head + "t" * (1024 - len(head) - 2) + '"}'  # a line of exactly the limit, newline not counted
    assert len(exact) == 1024
    with corpus.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"doc_id": "before", "text": "The line before."}) + "\n")
        f.write('{"doc_id": "huge", "text": "')
        for _ in range(16):  # 16 MiB on one line, written in blocks
            f.write("a" * 2**20)
        f.write('"}\n')
        f.write(exact + "\n")
        f.write(json.dumps({"doc_id": "over", "text": "t" * 1024}) + "\n")
        f.write(json.dumps({"doc_id": "last", "text": "The last line, without a newline."}))
    tracemalloc.start()
    try:
        found, skipped = split(load_articles([corpus]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.id for a in found] == ["before", "exact", "last"]
    assert skipped == [Skipped(f"{corpus}:{n}", "line is longer than 1,024 bytes; not read") for n in (2, 4)]
    assert peak < 4 * 2**20, f"held {peak:,} bytes of a 16 MiB line"


def test_the_line_cap_is_32_mib_and_says_so(tmp_path):
    assert articles.MAX_LINE_BYTES == 32 * 2**20
    corpus = tmp_path / "x.jsonl"
    with corpus.open("wb") as f:
        f.write(b'{"text": "')
        for _ in range(33):
            f.write(b"b" * 2**20)
        f.write(b'"}\n')
    [item] = load_articles([corpus])
    assert item == Skipped(f"{corpus}:1", "line is longer than 32 MiB; not read")


def test_a_file_of_unusable_lines_reports_ten_and_one_summary(tmp_path):
    corpus = tmp_path / "objects.jsonl"
    corpus.write_text("{}\n" * 5000, encoding="utf-8")
    found, skipped = split(load_articles([corpus]))
    assert not found and len(skipped) == 11
    assert [s.where for s in skipped[:10]] == [f"{corpus}:{n}" for n in range(1, 11)]
    assert skipped[-1] == Skipped(str(corpus), 'and 4,990 more lines skipped (expected an object with a "text" string)')


def test_the_summary_names_the_commonest_reasons_and_good_lines_still_load(tmp_path):
    lines = []
    for n in range(3000):
        lines += ["x", "{", "[1]", '{"text": "   "}', json.dumps({"doc_id": f"ok-{n}", "text": f"Story {n}."})]
    lines += ["1" * 5000, "[" * 100_000, '{"doc_id": {"a": 1}, "text": "x"}', "\udcff"]
    corpus = tmp_path / "mixed.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    found, skipped = split(load_articles([corpus]))
    assert len(found) == 3000 and len(skipped) == 11
    summary = skipped[-1].reason
    assert summary.startswith("and 11,994 more lines skipped (") and summary.endswith("; ...)")
    assert "malformed JSON" in summary and len(summary) < 300


def test_blank_lines_are_not_counted_and_an_empty_jsonl_is_one_skipped(tmp_path):
    corpus = tmp_path / "blank.jsonl"
    corpus.write_text("\n\n   \n", encoding="utf-8")
    assert list(load_articles([corpus])) == [Skipped(str(corpus), "empty file")]


@pytest.mark.slow
def test_memory_stays_bounded_for_400k_empty_objects(tmp_path):
    """A child process reads 400,000 `{}` lines (1.2 GB RSS before the cap): its peak RSS stays under 300 MB."""
    corpus = tmp_path / "objects.jsonl"
    with corpus.open("wb") as f:
        for _ in range(40):
            f.write(b"{}\n" * 10_000)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "input_limits.py"), "--child", str(corpus)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["skipped"] == 11 and result["articles"] == 0
    assert result["peak_rss_mb"] <= 300


# --- 4. binary files without NUL bytes ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".html", ".txt", ".md"])
def test_random_bytes_without_nul_are_a_binary_file(tmp_path, suffix):
    data = bytes(b for b in random.Random(7).randbytes(300_000) if b)
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(data)
    [item] = load_articles([path])
    assert isinstance(item, Skipped) and item.reason == "binary file, not text"
    assert looks_binary(data)


def test_text_with_a_few_control_bytes_is_still_text():
    text = ("Caf\u00e9 au lait, \u65e5\u672c, \u00a3 5.\tTabbed.\r\n\x0cFeed.\n" * 400).encode("utf-8")
    assert not looks_binary(text) and not looks_binary("caf\xe9".encode("latin-1") * 1000)
    assert not looks_binary(b"A terminal colour \x1b[1m once. " + b"Plain words go on here. " * 200)
    assert looks_binary(b"\x1b\x01\x02 " * 100) and looks_binary(b"text\x00more")
    hostile = b"A short article with escapes\x1b[2J\x1b]8;;http://evil.example\x1b\\ in it.\x07"
    assert not looks_binary(hostile), "a few escapes in a short text: text, shown escaped"
    assert looks_binary(bytes(range(1, 32)) * 2)  # a short file that is nothing but controls
    assert not looks_binary(b"")


@pytest.mark.skipif(not PAGES.is_dir(), reason="no ../shared/bench/html/pages")
def test_every_real_page_and_seed_still_loads():
    paths = sorted(PAGES.iterdir()) + sorted(SEEDS.iterdir())
    assert len(paths) >= 12
    for path in paths:
        assert not looks_binary(path.read_bytes()[: articles.BINARY_SAMPLE_BYTES]), path
    _, skipped = split(load_articles([PAGES, SEEDS]))
    assert not [s for s in skipped if "binary" in s.reason]


# --- 5. links to folders -------------------------------------------------------------------------------------


def test_a_link_to_a_folder_is_reported_not_silently_skipped(tmp_path):
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("The bridge opened on Monday.\n", encoding="utf-8")
    (folder / "linked").symlink_to(folder / "sub")
    (folder / "sub" / "outside").symlink_to(tmp_path)
    items = list(load_articles([folder]))
    assert [str(i) for i in items if isinstance(i, Skipped)] == [
        f"skipped {folder / 'linked'}: a link to a folder; not followed",
        f"skipped {folder / 'sub' / 'outside'}: a link to a folder; not followed",
    ]
    assert [i.id for i in items if isinstance(i, Article)] == ["a"]


# --- 6. citation ids --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a:" + "1" * 5000 + "-" + "2" * 5000 + "@ab", "a:1-" + "9" * 13, "a" * 100_000])
def test_a_citation_id_with_huge_offsets_is_the_ordinary_not_found(value):
    with pytest.raises(CitationNotFound) as caught:
        parse_citation_id(value)
    assert len(str(caught.value)) < 300 and "is not a citation id" in str(caught.value)
    assert parse_citation_id("a:b:" + "9" * 11 + "-" + "9" * 12) == ("a:b", 99_999_999_999, 999_999_999_999, "")


@pytest.mark.slow
def test_qa_cite_with_a_5000_digit_offset_is_one_line(run):
    out = run("cite", "000_f84ba1bb2755896e:" + "1" * 5000 + "-2@abcd")
    assert out.returncode != 0 and "Traceback" not in out.stderr + out.stdout
    assert "is not a citation id" in out.stderr + out.stdout


# --- 7. the chat's text, its Markdown export, uploads --------------------------------------------------------


def test_plain_shows_entities_as_written_and_drops_bidi_controls():
    assert plain("&lt;b&gt; & co") == "\\&lt;b\\&gt; \\& co"
    assert plain("abc\u202edef\u2066g\u2069\u200e\u200f\u061c!") == "abcdefg\\!"
    html = MarkdownIt("commonmark").render(plain("&lt;b&gt;bold&lt;/b&gt; <i>x</i> ![p](http://x/p.png)"))
    assert "<b>" not in html and "<i>" not in html and "<img" not in html
    assert "&amp;lt;b&amp;gt;" in html  # shown as "&lt;b&gt;", not as "<b>"


def answer_message(question: str, searched: str, text: str, title: str, quote: str) -> dict:
    return {"role": "assistant", "content": text, "answer": {
        "question": question, "standalone_question": searched, "text": text,
        "citations": [{"marker": 1, "id": "evil:0-10@abcd1234", "article_id": "evil", "title": title,
                       "source": "[src](javascript:alert(2))", "quote": quote, "start": 0, "end": 10}]}}  # fmt: skip


def test_the_conversation_export_renders_no_link_image_or_html_and_says_what_was_searched():
    evil = '<img src=x onerror="alert(1)"> [click](javascript:alert(1)) ![t](http://127.0.0.1:9/p.png) <b>b</b>'
    messages = [
        {"role": "user", "content": f"Who? {evil}"},
        answer_message(f"Who? {evil}", "Who closed the harbour?", f"They did [1]. {evil}", f"Title {evil}", evil),
        {"role": "user", "content": "Why?"},
        answer_message("Why?", "Why?", "Because.", "T", "q"),
    ]
    markdown = conversation_markdown(messages)
    html = MarkdownIt("commonmark").render(markdown)
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert "onerror=" not in html.replace("onerror=&quot;", "")
    assert markdown.count("Searched:") == 1 and "Who closed the harbour" in markdown
    assert "javascript" in html and "alert" in html  # shown as text


def test_upload_names_are_safe_keep_their_suffix_and_never_collide(tmp_path):
    class Upload:
        def __init__(self, name: str, data: bytes):
            self.name, self.data = name, data

        def getvalue(self) -> bytes:
            return self.data

    names = ["ferry.md", "x" * 300 + ".md", "x" * 299 + "y.md", "\u65e5" * 300 + ".txt", "../../escape.txt",
             "a\nb\u202e.jsonl", "a\tb\u202e.jsonl", "..", "c:\\Users\\me\\win.html"]  # fmt: skip
    paths = save_uploads(tmp_path / "uploads", [Upload(n, b"The ferry restarts in May.\n") for n in names])
    assert [p.parent for p in paths] == [tmp_path / "uploads"] * len(names)
    assert len({p.name for p in paths}) == len(names) and all(p.is_file() for p in paths)
    assert paths[0].name == "ferry.md" and paths[4].name == "escape.txt" and paths[8].name == "win.html"
    assert [p.suffix for p in paths[:7]] == [".md", ".md", ".md", ".txt", ".txt", ".jsonl", ".jsonl"]
    for p in paths:
        assert len(p.name.encode()) <= 140 and not any(c in p.name for c in BAD_ID_CHARS)
    assert safe_upload_name("x" * 300 + ".md") == paths[1].name  # the same name again is the same file


def test_an_id_prefix_gives_every_loaded_article_an_id_of_its_own(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    jsonl(uploads / "bad.jsonl", [{"doc_id": "000_f84ba1bb2755896e", "text": "Not the seed article."}, {"text": "x."}])
    (uploads / "front.md").write_text("---\nid: 001_eef8d75a3c5cf43f\n---\nNot the other seed.\n", encoding="utf-8")
    (uploads / "page.txt").write_text("A plain page.\n", encoding="utf-8")
    found, skipped = split(load_articles([uploads], id_prefix="upload-"))
    assert not skipped
    assert sorted(a.id for a in found) == ["upload-000_f84ba1bb2755896e", "upload-001_eef8d75a3c5cf43f",
                                           "upload-bad-2", "upload-page"]  # fmt: skip
    assert sorted(a.id for a in load_articles([uploads / "page.txt"])) == ["page"]
    with pytest.raises(ValueError):
        list(load_articles([uploads], id_prefix="bad\n"))


@pytest.mark.slow
def test_a_300_character_upload_name_is_indexed_not_a_traceback(app, tmp_path):
    name = "ferry-" + "x" * 294 + ".md"
    app.file_uploader[0].set_value([(name, b"The night ferry to Tallinn restarts on 3 May.\n", "text/markdown")]).run()
    next(b for b in app.button if b.label == "Add to index").click().run()
    assert not app.exception
    job = app.session_state["index_job"]
    wait_until(lambda: job.done.is_set(), "the index job")
    app.run()
    assert not app.exception and any(s.value.startswith("Added") for s in app.success), [s.value for s in app.success]
    [saved] = (tmp_path / "index" / "uploads").iterdir()
    assert saved.suffix == ".md" and len(saved.name) < 200
