"""PDF and Word (.docx) articles (qa/documents.py): text in reading order, metadata, the page of each quote, and a
one-line reason for every file that cannot be read, with nothing else lost."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import documents
from qa.articles import Article, Skipped
from qa.citations import page_at
from qa.loaders import load_articles, load_file
from qa.store import article_from_record, article_metadata

from .conftest import SEED_IDS, SEEDS
from .document_files import (
    BRIDGE_ANSWER_PAGE,
    BRIDGE_PAGES,
    BRIDGE_QUESTION,
    BRIDGE_TITLE,
    LIGHTHOUSE_PARAGRAPHS,
    LIGHTHOUSE_QUESTION,
    LIGHTHOUSE_TITLE,
    write_docx,
    write_encrypted_pdf,
    write_pageless_pdf,
    write_pdf,
    write_picture_pdf,
    zip_bytes,
)  # fmt: skip

CREATED = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def only_article(path) -> Article:
    [item] = list(load_file(path))
    assert isinstance(item, Article), item
    return item


def page_of(article: Article, phrase: str) -> int | None:
    start = article.text.index(phrase)
    return page_at(article.page_starts, start)


@pytest.fixture
def bridge_pdf(tmp_path):
    return write_pdf(tmp_path / "bridge-report.pdf", BRIDGE_PAGES, heading=BRIDGE_TITLE, title=BRIDGE_TITLE, author="Dana Kerr",
                     created=CREATED, running_header="Wellport City Council - Annual Reports", page_footer=True)  # fmt: skip


# --- PDF text, pages and metadata ----------------------------------------------------------------------------


def test_pdf_paragraphs_are_lines_and_running_headers_and_footers_are_dropped(bridge_pdf):
    article = only_article(bridge_pdf)
    lines = article.text.split("\n")
    assert lines[0] == BRIDGE_TITLE
    assert lines[1:3] == BRIDGE_PAGES[0], "a paragraph wrapped over several lines is one line again"
    assert BRIDGE_PAGES[1][0] in lines
    assert "Wellport City Council - Annual Reports" not in article.text and "Page 2" not in article.text
    # the paragraph that runs on from page 2 to page 3 is one line
    assert f"{BRIDGE_PAGES[1][1]} {BRIDGE_PAGES[2][0]}" in lines


def test_pdf_quotes_have_their_page(bridge_pdf):
    article = only_article(bridge_pdf)
    assert len(article.page_starts.split(",")) == 3
    assert page_of(article, "The city council of Wellport") == 1
    assert page_of(article, "The Harbour Bridge in Wellport opened") == BRIDGE_ANSWER_PAGE
    assert page_of(article, "780 metres") == 2
    assert page_of(article, "city, which were cut off") == 3, "a page that starts mid-paragraph starts mid-line"
    assert page_of(article, "The council expects the toll") == 3
    for n, start in enumerate(map(int, article.page_starts.split(",")), start=1):
        assert page_at(article.page_starts, start) == n


def test_pdf_metadata_gives_title_author_and_date(bridge_pdf):
    article = only_article(bridge_pdf)
    assert (article.title, article.author, article.published) == (BRIDGE_TITLE, "Dana Kerr", "2024-03-05")
    assert article.id == "bridge-report" and article.origin == str(bridge_pdf)


def test_pdf_without_a_title_takes_its_first_line_or_file_name(tmp_path):
    headed_pdf = write_pdf(tmp_path / "headed.pdf", [["The ferry ran again."]], heading="Ferry Service Resumes")
    headed = only_article(headed_pdf)
    assert headed.title == "Ferry Service Resumes"
    plain = only_article(write_pdf(tmp_path / "notice.pdf", [["The ferry ran again on Sunday."]],
                                   title="Microsoft Word - notice.docx"))  # fmt: skip
    assert plain.title == "notice", "a tool's name for the file is no title"


def test_words_hyphenated_at_line_ends_are_joined(tmp_path):
    long_line = "The report calls the opening an interna- tional event and " * 6
    article = only_article(write_pdf(tmp_path / "hyphen.pdf", [[long_line.replace("interna- ", "interna-\n")]]))
    assert "international event" in article.text and "interna-" not in article.text


def test_two_columns_are_read_one_after_the_other(tmp_path):
    from fpdf import FPDF

    left = "LEFT begins. " + "The harbour works went on through the winter. " * 8 + "LEFT ends."
    right = "RIGHT begins. " + "The ferry kept running until the spring. " * 8 + "RIGHT ends."
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.set_xy(10, 20)
    pdf.multi_cell(90, 5, left)
    pdf.set_xy(110, 20)
    pdf.multi_cell(90, 5, right)
    pdf.output(str(tmp_path / "columns.pdf"))
    article = only_article(tmp_path / "columns.pdf")
    assert article.text.index("LEFT ends.") < article.text.index("RIGHT begins.")
    assert article.text.split("\n")[0].endswith("LEFT ends.")


def test_encrypted_pdf_with_an_empty_password_is_read(tmp_path, bridge_pdf):
    article = only_article(write_encrypted_pdf(tmp_path / "locked-open.pdf", bridge_pdf, password=""))
    assert BRIDGE_PAGES[1][0] in article.text and article.page_starts


def test_pages_past_the_cap_are_left_out(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 2)
    pages = [[f"Page {n} says the ferry ran {n} times."] for n in range(1, 5)]
    article = only_article(write_pdf(tmp_path / "long.pdf", pages))
    assert "ran 2 times" in article.text and "ran 3 times" not in article.text
    assert len(article.page_starts.split(",")) == 2
    assert "has 4 pages; indexed the first 2" in caplog.text


# --- Word ------------------------------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_metadata(tmp_path):
    path = write_docx(tmp_path / "lighthouse.docx", LIGHTHOUSE_PARAGRAPHS, title=LIGHTHOUSE_TITLE, author="Ruth Hale",
                      created=CREATED, table=[["Year", "Visitors"], ["2023", "4,100"]])  # fmt: skip
    article = only_article(path)
    assert article.text.split("\n") == [*LIGHTHOUSE_PARAGRAPHS, "Year | Visitors", "2023 | 4,100"]
    assert (article.title, article.author, article.published) == (LIGHTHOUSE_TITLE, "Ruth Hale", "2024-03-05")
    assert article.page_starts == "", "a Word file has no fixed pages"


def test_docx_without_properties_takes_its_heading_not_the_template_defaults(tmp_path):
    article = only_article(write_docx(tmp_path / "plain.docx", ["The lantern was lit."], heading="Lantern Lit"))
    assert article.title == "Lantern Lit"
    assert (article.author, article.published) == ("", ""), "python-docx's template author and date are no metadata"


# --- bad files: one line each, nothing else lost ------------------------------------------------------------


def _zip_of_text(path):
    path.write_bytes(zip_bytes({"notes.txt": b"not a Word file"}))


def _spreadsheet(path):
    content_types = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     b'<Default Extension="xml" ContentType="application/xml"/></Types>')  # fmt: skip
    rels = (b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="xl/workbook.xml"/></Relationships>')  # fmt: skip
    path.write_bytes(zip_bytes({"[Content_Types].xml": content_types, "_rels/.rels": rels, "xl/workbook.xml": b"<w/>"}))


def _broken_xml(path):
    write_docx(path, ["Fine so far."])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    path.write_bytes(zip_bytes({**members, "word/document.xml": b"<w:document"}))


BAD_FILES = {
    "scan.pdf": (write_picture_pdf, "has no text layer (a scan?); run OCR first"),
    "locked.pdf": (lambda p: write_encrypted_pdf(p, write_pdf(p.with_name("src.pdf"), [["Secret."]]), "secret"),
                   "is encrypted and needs a password"),
    "truncated.pdf": (lambda p: p.write_bytes(write_pdf(p, BRIDGE_PAGES).read_bytes()[:1500]), "is damaged or not a PDF"),
    "no-pages.pdf": (write_pageless_pdf, "has no pages"),
    "text.pdf": (lambda p: p.write_text("Just some text, not a PDF."), "is damaged or not a PDF"),
    "zipped.docx": (_zip_of_text, "is not a Word .docx file (the archive has no [Content_Types].xml)"),
    "sheet.docx": (_spreadsheet, "is not a Word .docx file (its content is application/xml)"),
    "broken.docx": (_broken_xml, "is a damaged .docx file (broken XML"),
    "old.docx": (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(600)), "not a zip archive; an old .doc"),
    "zero.pdf": (lambda p: p.write_bytes(b""), "empty file"),
    "zero.docx": (lambda p: p.write_bytes(b""), "empty file"),
    "zero.txt": (lambda p: p.write_bytes(b""), "empty file"),
    "new\nline.pdf": (lambda p: p.write_bytes(b"%PDF-1.7\n"), "is damaged or not a PDF"),
}  # fmt: skip


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_one_line_saying_why(tmp_path, name):
    write, reason = BAD_FILES[name]
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / name)
    [skipped] = [item for item in load_file(folder / name)]
    assert isinstance(skipped, Skipped) and reason in skipped.reason, skipped
    line = str(skipped)
    assert "\n" not in line and "Traceback" not in line and len(line) < 300, line


def test_a_bad_docx_zip_bomb_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_DOCX_XML_BYTES", 1000)
    path = write_docx(tmp_path / "big.docx", ["The lantern was lit. " * 200])
    [skipped] = list(load_file(path))
    assert isinstance(skipped, Skipped) and "MiB of XML" in skipped.reason


def test_a_file_named_with_a_newline_is_indexed_under_a_safe_id(tmp_path):
    article = only_article(write_pdf(tmp_path / "ferry\nnotice.pdf", [["The ferry ran again on Sunday."]]))
    assert "\n" not in article.id and article.id.startswith("ferry_notice-")


@pytest.mark.hashed_embedder
def test_index_keeps_the_good_files_beside_bad_ones(fresh_assistant, tmp_path, bridge_pdf):
    folder = tmp_path / "mixed"
    folder.mkdir()
    bridge_pdf.rename(folder / bridge_pdf.name)
    write_docx(folder / "lighthouse.docx", LIGHTHOUSE_PARAGRAPHS, title=LIGHTHOUSE_TITLE)
    for name in ("scan.pdf", "locked.pdf", "no-pages.pdf", "zipped.docx", "zero.pdf", "new\nline.pdf"):
        BAD_FILES[name][0](folder / name)
    (folder / "src.pdf").unlink()  # the source of locked.pdf
    report = fresh_assistant.index([folder])
    assert report.added == 2, report
    assert len(report.skipped) == 6 and all("\n" not in line for line in report.skipped), report.skipped
    assert set(fresh_assistant.store.article_hashes()) == {*SEED_IDS, "bridge-report", "lighthouse"}
    stored = fresh_assistant.article("bridge-report")
    assert stored.page_starts and stored.page_starts == only_article(folder / "bridge-report.pdf").page_starts
    again = fresh_assistant.index([folder])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2), "a PDF's hash is stable from run to run"


# --- content hashes, records and chunk metadata -------------------------------------------------------------


def test_articles_without_pages_keep_their_content_hash():
    """Citation ids carry the content hash: the seed articles' hashes are those they had before pages existed."""
    hashes = {a.id: a.content_hash for a in load_articles([SEEDS])}
    assert hashes == {"000_f84ba1bb2755896e": "c24d7e8763dad18b2d1391f4844af866",
                      "001_eef8d75a3c5cf43f": "b1059fc12df009247cb5accd1bd36210"}  # fmt: skip
    paged = Article(id="x", text="Body.", page_starts="0")
    assert paged.content_hash != Article(id="x", text="Body.").content_hash


def test_page_starts_survive_the_record_and_reach_every_chunk(bridge_pdf):
    article = only_article(bridge_pdf)
    meta = {**article.model_dump(exclude={"id", "text"})}
    assert article_from_record(article.id, article.text, meta) == article
    assert article_metadata(article)["page_starts"] == article.page_starts
    assert "page_starts" not in article_metadata(Article(id="x", text="Body.")), "other chunks stay as they were"


def test_page_at_reads_page_starts():
    assert [page_at("0,10,10,25", n) for n in (0, 9, 10, 24, 25, 1000)] == [1, 1, 3, 3, 4, 4]
    assert page_at("", 5) is None and page_at("not,numbers", 5) is None and page_at("0", -1) is None


# --- the real Assistant and the CLI ------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_from_a_pdf_cites_its_page(fresh_assistant, bridge_pdf, tmp_path):
    write_docx(tmp_path / "lighthouse.docx", LIGHTHOUSE_PARAGRAPHS, title=LIGHTHOUSE_TITLE)
    fresh_assistant.index([bridge_pdf, tmp_path / "lighthouse.docx"])
    answer = fresh_assistant.ask(BRIDGE_QUESTION)
    assert not answer.abstained and "4 March 2024" in answer.text, answer.text
    cited = answer.citations[0]
    text = fresh_assistant.article_text(cited.article_id)
    assert cited.article_id == "bridge-report" and text[cited.start : cited.end] == cited.quote
    assert cited.page == BRIDGE_ANSWER_PAGE and cited.title == BRIDGE_TITLE
    assert fresh_assistant.lookup(cited.id).page == BRIDGE_ANSWER_PAGE  # `qa cite` and the chat's lookup too
    word = fresh_assistant.ask(LIGHTHOUSE_QUESTION)
    assert not word.abstained and "Ellen Marsh" in word.text, word.text
    assert word.citations[0].article_id == "lighthouse" and word.citations[0].page is None
    seeds = fresh_assistant.ask("Who did Kishida meet in Vilnius?")
    assert seeds.citations and all(c.page is None for c in seeds.citations)


@pytest.mark.slow
def test_qa_index_of_a_bad_pdf_says_so_in_one_line_and_exits_2(run, tmp_path, bridge_pdf):
    write_pageless_pdf(tmp_path / "no-pages.pdf")
    done = run("index", str(tmp_path / "no-pages.pdf"), str(bridge_pdf))
    assert done.returncode == 2, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: skipped {tmp_path / 'no-pages.pdf'}: has no pages"], done.stderr
    assert "Traceback" not in done.stderr and "1 added" in done.stdout, done.stdout
    asked = run("ask", BRIDGE_QUESTION)
    assert asked.returncode == 0 and f"page {BRIDGE_ANSWER_PAGE})" in asked.stdout, asked.stdout  # the quote's page


_LINE_TEXTS = ["The ferry ran again.", "the crossing was closed for a week and", "Advertisement", "Read more", "",
               "interna-", "tional visitors came.", "Related", "stories", "Page 3", "A heading"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_LINE_TEXTS) | st.text(max_size=30), max_size=6), max_size=6))
def test_assembled_pages_are_clean_text_and_their_starts_are_exact(pages):
    """Any lines on any pages: the text is what clean_text keeps as it is (so the offsets hold in the article),
    and each page's start is where its first paragraph is."""
    from qa.articles import clean_text
    from qa.documents import _Line, assemble_pages, page_paragraphs

    lined = [[_Line(" ".join(t.split()), None) for t in page] for page in pages]
    lined = [[line for line in page if line.text] for page in lined]
    text, starts = assemble_pages(lined)
    assert clean_text(text) == text
    assert len(starts) == len(pages) and starts == sorted(starts) and all(0 <= s <= len(text) for s in starts)
    for page, start in zip(lined, starts):
        kept = [p for p in page_paragraphs(page) if not documents.is_boilerplate(p)]
        if kept:  # (its hyphen goes where the next page goes on with the word)
            assert text[start:].startswith(kept[0].removesuffix("-"))
