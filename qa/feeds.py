"""Feeds and sitemaps: what kind of document a response is (page, feed, sitemap) and the links a feed or
sitemap lists, as absolute web addresses in their listed order, each once."""

from __future__ import annotations

import io
from urllib.parse import urldefrag, urljoin

from lxml import etree

from qa.errors import InputError
from qa.fetch import Fetched
from qa.urls import is_url

_FEED_ROOTS = {"rss", "feed", "RDF"}
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}


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


def is_sitemap_index(response: Fetched) -> bool:
    """Whether a sitemap lists sitemaps (a sitemap index) rather than pages."""
    root = _xml_root(response.body)
    return root is not None and isinstance(root.tag, str) and root.tag.endswith("sitemapindex")


def sitemap_links(response: Fetched) -> list[str]:
    """The page URLs of a sitemap, or the sitemap URLs of a sitemap index."""
    root = _xml_root(response.body)
    locs = root.iterfind("{*}url/{*}loc") if root.tag.endswith("urlset") else root.iterfind("{*}sitemap/{*}loc")
    return _web_links(response.url, [loc.text or "" for loc in locs])


def _web_links(base: str, links: list[str]) -> list[str]:
    absolute = (urldefrag(urljoin(base, link.strip()))[0] for link in links if link and link.strip())
    return list(dict.fromkeys(link for link in absolute if is_url(link)))
