"""Web addresses as the loaders use them: what is a URL, the article id a URL gives, and a URL (or a message
naming one) without ``user:password@``, which is sent to its server but never stored nor shown.

>>> article_id_for_url("https://www.example.com/news/2024/bridge-opens.html?ref=rss#top")
'example-com-news-2024-bridge-opens-html-12a46b0ca0'
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urldefrag, urlsplit, urlunsplit

_URL = re.compile(r"^https?://\S+$", re.I)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def is_url(value: object) -> bool:
    """Whether an input names a web address (http or https) rather than a file or folder."""
    return isinstance(value, str) and bool(_URL.match(value.strip()))


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``: what is stored and shown of a URL.

    >>> without_userinfo("https://ann:s3cret@news.example.org:8443/a?b=1")
    'https://news.example.org:8443/a?b=1'
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrubbed(text: str) -> str:
    """A message with the userinfo of any URL in it removed.

    >>> scrubbed("skipped http://u:p@h/x: redirected to ftp://a@b/c")
    'skipped http://h/x: redirected to ftp://b/c'
    """
    return _USERINFO.sub(r"\1", text)


def article_id_for_url(url: str) -> str:
    """A stable, readable article id: host and path as a slug, and a hash of the whole URL (without its fragment
    and userinfo) so that two URLs never share an id."""
    url = without_userinfo(urldefrag(url.strip())[0])
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{host}{parts.path}").strip("-").lower()[:80].rstrip("-")
    return f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:10]}"


def url_key(url: str) -> str:
    """What makes two URLs the same document: all but the fragment and the userinfo."""
    return without_userinfo(urldefrag(url)[0])
