"""Articles from the web: article pages, RSS/Atom feeds and sitemaps, fetched politely.

A run fetches one page at a time, each at most once (a page named twice, or listed by two feeds, is fetched
once), with a timeout and a User-Agent naming the project, and at most ``Settings.web_max_pages`` pages (feeds
and sitemaps themselves are not counted). A URL that cannot be fetched or read is reported in one line and the
others go on. The URL is the article's identity: the article id is derived from it, so a page fetched again is
compared with what is stored and, unchanged, not embedded again.

>>> article_id_for_url("https://www.example.com/news/2024/bridge-opens.html?ref=rss#top")
'example-com-news-2024-bridge-opens-html-12a46b0ca0'
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from lxml import etree

from qa.articles import Article, Skipped, load_articles
from qa.errors import InputError
from qa.settings import Settings

MAX_RESPONSE_BYTES = 20 * 2**20
MAX_SITEMAPS = 50  # nested sitemaps followed in one run: a sitemap index can list thousands
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"
_URL = re.compile(r"^https?://\S+$", re.I)
_FEED_ROOTS = {"rss", "feed", "RDF"}
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}


def user_agent() -> str:
    try:
        release = version("article-qa")
    except PackageNotFoundError:
        release = "dev"
    return f"article-qa/{release} (question answering over news articles; fetches only the pages its user names)"


def is_url(value: object) -> bool:
    """Whether an input names a web address (http or https) rather than a file or folder."""
    return isinstance(value, str) and bool(_URL.match(value.strip()))


def article_id_for_url(url: str) -> str:
    """A stable, readable article id: host and path as a slug, and a hash of the whole URL (without its fragment)
    so that two URLs never share an id."""
    url = urldefrag(url.strip())[0]
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{host}{parts.path}").strip("-").lower()[:80].rstrip("-")
    return f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Fetched:
    """A fetched document."""

    url: str  # after redirects
    body: bytes
    content_type: str  # media type only, lower case
    charset: str | None


class WebLoader:
    """Fetches article pages, and the pages that feeds and sitemaps list, for one index run."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.web_timeout
        self.max_pages = settings.web_max_pages
        self.pages = 0  # article pages fetched this run
        self._seen: set[str] = set()
        self._sitemaps = 0
        self._client: httpx.Client | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def articles(self, url: str) -> Iterator[Article | Skipped]:
        """The article at ``url``, or the articles a feed or sitemap at ``url`` lists."""
        url = urldefrag(url.strip())[0]
        if url in self._seen:
            return
        if self.pages >= self.max_pages:
            yield Skipped(url, f"not fetched: {self._limit}")
            return
        self._seen.add(url)
        try:
            response = self.get(url)
            kind = document_kind(response)
        except InputError as exc:
            yield Skipped(url, str(exc))
            return
        if kind == "page":
            self.pages += 1
            yield self._article(url, response)
        elif kind == "feed":
            yield from self._listed(url, feed_links(response))
        elif self._sitemaps >= MAX_SITEMAPS:
            yield Skipped(url, f"not read: at most {MAX_SITEMAPS} sitemaps are followed in one run")
        else:
            self._sitemaps += 1
            yield from self._listed(url, sitemap_links(response))

    def _listed(self, source: str, links: list[str]) -> Iterator[Article | Skipped]:
        """The articles behind the links of a feed or sitemap, up to the page limit."""
        if not links:
            yield Skipped(source, "lists no pages")
        for n, link in enumerate(links):
            if self.pages >= self.max_pages:
                left = len([x for x in links[n:] if x not in self._seen])
                yield Skipped(source, f"{left} listed page(s) not fetched: {self._limit}")
                return
            yield from self.articles(link)

    @property
    def _limit(self) -> str:
        return f"at most {self.max_pages} pages a run (QA_WEB_MAX_PAGES)"

    def _article(self, url: str, response: Fetched) -> Article | Skipped:
        from qa.html_extraction import html_to_article

        body = response.body.decode(response.charset, "replace") if _known_charset(response.charset) else response.body
        try:
            return html_to_article(body, article_id=article_id_for_url(url), origin=url, url=response.url)
        except InputError as exc:
            return Skipped(url, str(exc))

    def get(self, url: str) -> Fetched:
        """GET ``url`` (redirects followed), or an InputError in one line: no answer, HTTP error, too large."""
        if self._client is None:
            self._client = httpx.Client(
                headers={"User-Agent": user_agent(), "Accept": ACCEPT}, timeout=self.timeout, follow_redirects=True
            )
        deadline = time.monotonic() + self.timeout  # httpx's timeout is per read: a trickle could last for ever
        try:
            with self._client.stream("GET", url) as r:
                r.raise_for_status()
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                    raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB")
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB")
                    if time.monotonic() > deadline:
                        raise InputError(f"not fully received within {self.timeout:g} s")
                    chunks.append(chunk)
                media_type = r.headers.get("content-type", "").split(";")[0].strip().lower()
                return Fetched(str(r.url), _gunzipped(b"".join(chunks)), media_type, r.charset_encoding)
        except httpx.HTTPStatusError as exc:
            raise InputError(f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".strip()) from None
        except httpx.TimeoutException:
            raise InputError(f"no answer within {self.timeout:g} s") from None
        except httpx.TooManyRedirects:
            raise InputError("too many redirects") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise InputError("not a valid http(s) URL") from None
        except httpx.ConnectError as exc:
            raise InputError(f"cannot connect ({_first_line(exc) or 'no route to the server'})") from None
        except httpx.HTTPError as exc:
            raise InputError(f"download failed ({exc.__class__.__name__}: {_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0][:160]


def _known_charset(name: str | None) -> bool:
    try:
        return bool(name) and bool(codecs.lookup(name))
    except LookupError:
        return False


def _gunzipped(body: bytes) -> bytes:
    """A gzipped file (sitemaps are often sitemap.xml.gz) decompressed, within the size limit: a few kilobytes of
    gzip can expand to gigabytes."""
    if body[:2] != b"\x1f\x8b":
        return body
    inflater = zlib.decompressobj(31)  # 31: gzip header
    try:
        data = inflater.decompress(body, MAX_RESPONSE_BYTES)
    except zlib.error:
        raise InputError("damaged gzip file") from None
    if inflater.unconsumed_tail:
        raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB uncompressed")
    return data


def document_kind(response: Fetched) -> str:
    """The kind of document: "page", "feed" or "sitemap", from the media type and, for XML (feeds are often
    served as text/xml), the root element."""
    if "html" in response.content_type and "xml" not in response.content_type:
        return "page"
    root = _xml_root(response.body)
    if root is not None:
        name = root.tag.rpartition("}")[2] if isinstance(root.tag, str) else ""
        if name in _FEED_ROOTS:
            return "feed"
        if name in _SITEMAP_ROOTS:
            return "sitemap"
        if name == "html":
            return "page"
    if response.content_type in ("", "application/xhtml+xml") and b"<html" in response.body[:2048].lower():
        return "page"
    raise InputError(f"not a web page, feed or sitemap ({response.content_type or 'no content type'})")


def _xml_root(body: bytes) -> etree._Element | None:
    if body.lstrip()[:1] != b"<":
        return None
    # Entities are not expanded and nothing is fetched: an XML document from the web is untrusted.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        return etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return None


def feed_links(response: Fetched) -> list[str]:
    """The entry links of an RSS or Atom feed, in the feed's order (newest first, usually)."""
    import feedparser

    # A file-like object: feedparser would itself fetch a string that looks like a URL or open one like a path.
    feed = feedparser.parse(io.BytesIO(response.body), response_headers={"content-location": response.url})
    return _web_links(response.url, [entry.get("link", "") for entry in feed.entries])


def sitemap_links(response: Fetched) -> list[str]:
    """The page URLs of a sitemap, or the sitemap URLs of a sitemap index."""
    root = _xml_root(response.body)
    locs = root.iterfind("{*}url/{*}loc") if root.tag.endswith("urlset") else root.iterfind("{*}sitemap/{*}loc")
    return _web_links(response.url, [loc.text or "" for loc in locs])


def _web_links(base: str, links: list[str]) -> list[str]:
    absolute = (urldefrag(urljoin(base, link.strip()))[0] for link in links if link and link.strip())
    return list(dict.fromkeys(link for link in absolute if is_url(link)))


def load_inputs(inputs: Iterable[str | Path], settings: Settings) -> Iterator[Article | Skipped]:
    """Every article of the given files, folders and web addresses, in the order given."""
    web = WebLoader(settings)
    try:
        for item in inputs:
            if is_url(item):
                yield from web.articles(str(item))
            else:
                yield from load_articles([Path(item)])
    finally:
        web.close()
