"""Web pages to articles: the main text and metadata of a news page, through trafilatura.

trafilatura keeps the article's paragraphs (one line each, inline links inside their sentence) and drops menus,
comments, related and follow-on stories; its metadata comes from JSON-LD, meta tags and the page. A byline or
date the page states in a labelled field ("Author Julian Tompkin", "Date 10.06.2013") is what the reader sees,
so it wins over what trafilatura guessed. The text is then cleaned line by line like any article (captions,
"Advertisement" lines), and citations point into that stored text.

Where trafilatura finds no main text the older BeautifulSoup parser is used, with a warning naming the page.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from bs4.dammit import UnicodeDammit
from htmldate.extractors import try_date_expr  # htmldate's date parser: it reads 10.06.2013 as 10 June, as pages mean
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import load_html

from qa.articles import Article, article_from_body
from qa.errors import InputError

log = logging.getLogger("qa")
# We report each unusable page in one line ourselves; the libraries' own logging would repeat it as noise.
for _name in ("trafilatura", "htmldate", "courlan"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_AUTHOR_LABEL = re.compile(r"^(?:authors?|by|written by|reporter|words by)\s*:?$", re.I)
_DATE_LABEL = re.compile(r"^(?:date|published(?: on)?|posted(?: on)?|first published)\s*:?$", re.I)
_LABEL_TAGS = ("strong", "b", "dt", "th", "span", "label", "em")
# profile URLs and paths, @handles, e-mail addresses (but "Jane Doe/AP" is a name and its agency)
_NOT_A_NAME = re.compile(r"https?://|www\.|^/|\.[a-z]{2,}/|^@|\S+@\S+", re.I)
_BYLINE_PREFIX = re.compile(r"^by\s+", re.I)
_SITE_NOISE = re.compile(r"^the\s+|\.(?:com|org|net|co\.uk)$|\W", re.I)  # "The Guardian" = "guardian.co.uk"


MAX_HTML_BYTES = 2 * 2**20  # the largest saved news page of ../shared/bench/html is 0.7 MiB; pages of links cost most


def html_to_article(html: str | bytes, *, article_id: str, origin: str = "", url: str = "") -> Article:
    """The article of a web page: main text, title, author, date (YYYY-MM-DD), site name and canonical URL.

    ``url`` is where the page was fetched from (if it was): it helps resolve relative links and is kept when
    the page names no canonical URL.
    """
    if len(html) > MAX_HTML_BYTES:  # trafilatura takes about 50 times a page's size in memory, and minutes
        raise InputError(f"a page of {len(html) / 2**20:.1f} MiB; at most {MAX_HTML_BYTES // 2**20} MiB of HTML is "
                         "read (news pages are rarely over 1 MiB)")  # fmt: skip
    if isinstance(html, bytes):  # the encoding the page declares, else a guess from its bytes
        html = UnicodeDammit(html, is_html=True).unicode_markup or ""
    tree = load_html(html)
    doc = None if tree is None else bare_extraction(tree, url=url or None, with_metadata=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        article = soup_html_to_article(html, article_id=article_id, origin=origin)  # a page without text is skipped
        log.warning("%s: trafilatura found no main text; read with the simple HTML parser", origin or article_id)
        return article
    labelled = labelled_fields(tree)
    site = doc.sitename or _hostname(doc.url or url)
    return article_from_body(
        doc.text,
        article_id=article_id,
        origin=origin,
        title=page_title(doc.title or "", site),
        source=site,
        author=author_names(labelled.get("author") or doc.author or ""),
        published=labelled.get("date") or doc.date or "",
        url=doc.url or url,
    )


def labelled_fields(tree: HtmlElement) -> dict[str, str]:
    """The author and date a page states in labelled fields (``<strong>Author</strong> Jane Doe``), where every
    such label on the page gives the same value."""
    found: dict[str, set[str]] = {"author": set(), "date": set()}
    latest = datetime.now() + timedelta(days=1)
    for element in tree.iter(_LABEL_TAGS):
        if len(element) > 2:  # a label is a word or two, not a container
            continue
        label = " ".join(element.text_content().split())
        is_author, is_date = _AUTHOR_LABEL.match(label), _DATE_LABEL.match(label)
        value = _text_after(element) if is_author or is_date else ""
        if not value:
            continue
        if is_author:
            found["author"].add(value)
        elif parsed := try_date_expr(value, "%Y-%m-%d", True, datetime(1990, 1, 1), latest):
            found["date"].add(parsed)
    return {field: values.pop() for field, values in found.items() if len(values) == 1}


def _text_after(label: HtmlElement, limit: int = 80) -> str:
    """The text that follows a label inside its parent, or "" when it is longer than a field value would be."""
    pieces = [label.tail or ""]
    for sibling in label.itersiblings():
        pieces += [sibling.text_content(), sibling.tail or ""]
        if sum(map(len, pieces)) > 4 * limit:
            break
    value = " ".join("".join(pieces).split())
    return value if len(value) <= limit else ""


def author_names(authors: str) -> str:
    """Names only: ``"By Jane Doe; @jdoe; https://site/author/jdoe"`` -> ``"Jane Doe"``; several are comma-separated."""
    names = []
    for part in re.split(r"\s*[;|]\s*", authors):
        name = _BYLINE_PREFIX.sub("", part.strip())
        if name and not _NOT_A_NAME.search(name) and name.lower() not in (n.lower() for n in names):
            names.append(name)
    return ", ".join(names)


def page_title(title: str, site: str) -> str:
    """The headline without the site name and section around it: ``"Story | Section | Site"`` -> ``"Story"``."""
    parts = [p.strip() for p in title.split(" | ") if p.strip()]
    if len(parts) > 1:
        title = max(parts, key=len)
    head, sep, tail = title.rpartition(" - ")
    if sep and site and _same_site(tail, site):
        title = head
    return title.strip()


def _same_site(name: str, site: str) -> bool:
    return _SITE_NOISE.sub("", name).lower() == _SITE_NOISE.sub("", site).lower()


def _hostname(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def soup_html_to_article(html: str | bytes, *, article_id: str, origin: str = "") -> Article:
    """The simple parser: metadata from <meta>, text from the <article> (or the body) block by block."""
    soup = BeautifulSoup(html, "html.parser")

    def meta(*names: str) -> str:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            if tag and tag.get("content"):
                return str(tag["content"]).strip()
        return ""

    canonical = soup.find("link", rel="canonical")
    title = meta("og:title") or (soup.title.get_text(strip=True) if soup.title else "")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "figure", "iframe"]):
        tag.decompose()
    root = soup.find("article") or soup.body or soup
    lines = (" ".join(line.split()) for line in root.get_text("\n").split("\n"))
    text = "\n".join(line for line in lines if line)
    if not title:
        h1 = root.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    return article_from_body(
        text,
        article_id=article_id,
        origin=origin,
        title=title,
        source=meta("og:site_name", "publisher"),
        author=author_names(meta("author", "article:author")),
        published=meta("article:published_time", "date", "pubdate"),
        url=meta("og:url") or (canonical.get("href", "") if canonical else ""),
    )
