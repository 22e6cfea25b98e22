"""Web pages as articles: main text without page furniture, whole sentences, metadata (qa.html_extraction)."""

import json
import logging

import pytest

from qa.chunking import split_sentences
from qa.html_extraction import author_names, page_title
from qa.loaders import load_articles

from .conftest import ROOT

BENCH = ROOT.parent / "shared" / "bench" / "html"
EXPECTED = [json.loads(line) for line in (BENCH / "expected.jsonl").read_text().splitlines()] if BENCH.is_dir() else []
PARAGRAPHS = [
    "The mayor opened the Harbour Bridge on Monday, four years after work began.",
    'According to <a href="/reports/traffic">a report by the city council</a>, more than 104,000 cars are '
    "expected to cross it every week.",
    "Traffic resumed at noon, and the ferry that had carried commuters across the harbour made its last trip.",
    "Engineers said the bridge was built to last a hundred years and to withstand storms far stronger than any "
    "recorded in the region.",
    "Residents on both sides of the harbour gathered to watch the opening, and local schools were given the day off.",
]


def news_page(paragraphs=PARAGRAPHS, head: str = "", byline: str = "") -> str:
    """A news page as sites serve them: menus, a related-stories box and a footer around the article."""
    menu = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in ("Home", "World", "Sport", "Culture"))
    related = "".join(f'<li><a href="/s{n}">Related story number {n} about something else</a></li>' for n in range(6))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><title>Harbour bridge opens | City | Daily Planet</title>
        <meta property="og:site_name" content="Daily Planet">{head}
        <link rel="canonical" href="https://example.org/news/bridge"><script>alert(1)</script></head>
        <body><header><nav><ul>{menu}</ul></nav></header>
        <main><article><h1>Harbour bridge opens</h1>{byline}{body}
        <figure><img src="b.jpg"><figcaption>The bridge at dawn (Photo: Jane Roe/Daily Planet)</figcaption></figure>
        </article><aside><h2>Related stories</h2><ul>{related}</ul></aside></main>
        <footer><p>Copyright Daily Planet. All rights reserved.</p></footer></body></html>"""


def load_one(tmp_path, html: str, name: str = "story.html"):
    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    [article] = list(load_articles([page]))
    return article


def test_html_main_text_and_metadata_without_page_furniture(tmp_path):
    head = (
        '<meta name="author" content="Lois Lane"><meta property="article:published_time" content="2024-03-05T10:00Z">'
    )
    article = load_one(tmp_path, news_page(head=head))
    assert (
        article.title == "Harbour bridge opens" and article.source == "Daily Planet" and article.author == "Lois Lane"
    )
    assert article.published == "2024-03-05" and article.url == "https://example.org/news/bridge"
    for paragraph in PARAGRAPHS[::2]:
        assert paragraph in article.text
    for junk in ("alert", "Sport", "Related stor", "Copyright", "Photo: Jane Roe"):
        assert junk not in article.text


def test_links_inside_paragraphs_keep_sentences_whole(tmp_path):
    article = load_one(tmp_path, news_page())
    sentence = "According to a report by the city council, more than 104,000 cars are expected to cross it every week."
    assert sentence in [article.text[s:e] for s, e in split_sentences(article.text)]
    # paragraphs stay paragraphs: one line each
    assert article.text.count("\n") >= len(PARAGRAPHS) - 1 and PARAGRAPHS[0] + "\n" in article.text


def test_json_ld_author_and_labelled_date_are_names_and_iso_dates(tmp_path):
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Harbour bridge opens",
          "author": [{"@type": "Person", "name": "Clark Kent", "url": "https://example.org/staff/ckent"}]}  # fmt: skip
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    byline = "<ul><li><strong>Date</strong> 05.03.2024</li><li><strong>Author</strong> Clark Kent</li></ul>"
    article = load_one(tmp_path, news_page(head=head, byline=byline))
    assert article.author == "Clark Kent" and article.published == "2024-03-05"


@pytest.mark.parametrize(
    "raw, names",
    [
        ("By Jane Doe; @jdoe; https://example.org/author/jdoe", "Jane Doe"),
        ("Ann Lee | Bo Chen", "Ann Lee, Bo Chen"),
        ("jane@example.org; example.org/staff/jane; /author/jane", ""),
        ("Jane Doe/AP", "Jane Doe/AP"),
        ("Kulu Media News Desk", "Kulu Media News Desk"),
    ],  # fmt: skip
)
def test_authors_are_names_never_urls_or_handles(raw, names):
    assert author_names(raw) == names


@pytest.mark.parametrize(
    "title, site, headline",
    [
        ("Harbour bridge opens | City | Daily Planet", "Daily Planet", "Harbour bridge opens"),
        ("Storm closes schools - Reuters", "Reuters", "Storm closes schools"),
        ("Left - right politics explained", "Daily Planet", "Left - right politics explained"),
    ],  # fmt: skip
)
def test_page_title_drops_the_site_name(title, site, headline):
    assert page_title(title, site) == headline


@pytest.mark.parametrize(
    "html",
    [  # trafilatura drops a block classed "footer", and does not read a bare fragment; the simple parser keeps both
        '<html><head><title>Note</title></head><body><div class="footer">Ferry runs at nine.</div></body></html>',
        "<p>Ferry runs at nine.</p>",
    ],
)
def test_page_without_main_text_falls_back_to_the_simple_parser_with_a_warning(tmp_path, caplog, html):
    with caplog.at_level(logging.WARNING, logger="qa"):
        article = load_one(tmp_path, html, name="note.html")
    assert "Ferry runs at nine." in article.text
    assert [r for r in caplog.records if "note.html: trafilatura found no main text" in r.getMessage()]


def test_page_in_a_legacy_encoding_is_read(tmp_path):
    page = tmp_path / "latin.html"
    html = news_page([p.replace("harbour", "Hafen Zürich") for p in PARAGRAPHS], head='<meta charset="windows-1252">')
    page.write_bytes(html.encode("cp1252"))
    [article] = list(load_articles([page]))
    assert "Hafen Zürich" in article.text


@pytest.mark.skipif(not EXPECTED, reason="../shared/bench/html is not here")
@pytest.mark.parametrize("row", EXPECTED, ids=[row["page"] for row in EXPECTED])
def test_real_news_pages_give_their_metadata_and_no_furniture(row):
    [article] = list(load_articles([BENCH / "pages" / row["page"]]))
    for expected, value in ((row["title"], article.title), (row["author"], article.author),
                            (row["published"], article.published), (row["site"], article.source)):  # fmt: skip
        assert expected is None or any(e.lower() in value.lower() for e in expected), (expected, value)
    assert not [s for s in row["must_not_contain"] if s in article.text]


@pytest.mark.skipif(not EXPECTED, reason="../shared/bench/html is not here")
def test_real_news_pages_keep_their_article_text():
    texts = {row["page"]: next(iter(load_articles([BENCH / "pages" / row["page"]]))).text for row in EXPECTED}
    wanted = [(row["page"], s) for row in EXPECTED for s in row["must_contain"]]
    missing = [(page, s) for page, s in wanted if s not in texts[page]]
    assert len(missing) <= 0.05 * len(wanted), missing


def test_a_page_without_any_text_is_skipped_in_one_line(tmp_path, caplog):
    page = tmp_path / "blank.html"
    page.write_text("<html><head><title></title></head><body><div><img src='x.png'></div></body></html>")
    with caplog.at_level(logging.WARNING, logger="qa"):
        [skipped] = list(load_articles([page]))
    assert str(skipped) == f"skipped {page}: no article text" and not caplog.records
