"""Articles from the web: article pages, RSS/Atom feeds and sitemaps, fetched politely and defensively.

A run fetches one document at a time, each at most once (a page named twice, or listed by two feeds, is fetched
once), with a User-Agent naming the project. The web is untrusted, and so is whoever types a URL into the chat:

* one budget, ``Settings.web_max_pages``, counts every request of a run (pages, feeds, sitemaps, redirects and
  failed requests alike); feeds and sitemaps are followed breadth-first, at most ``MAX_DEPTH`` levels below the
  address given, and what the budget or the depth leaves out is said in one line;
* every connection goes to an address checked when connecting (after DNS resolution, at every redirect hop):
  loopback, private, link-local, multicast, unspecified and reserved addresses are refused unless
  ``Settings.web_allowed_hosts`` names the host, the address or its network; proxies from the environment are
  not used (they would connect on our behalf, past that check);
* a request has one deadline, ``Settings.web_timeout``, headers included; reads and connects are done in slices
  of ``SLICE`` seconds, so a ``cancel`` event set from another thread stops a fetch within a second;
* bodies are read raw and decoded here (gzip and deflate, at most ``MAX_CONTENT_ENCODINGS`` stacked), every step
  limited to ``MAX_RESPONSE_BYTES`` of output: a few kilobytes of stacked gzip could otherwise expand to gigabytes;
* ``user:password@`` in a URL is sent to that server but never stored in an article nor shown in a message.

A URL that cannot be fetched or read is reported in one line and the others go on. The URL is the article's
identity: the article id is derived from it, so a page fetched again is compared with what is stored and,
unchanged, not embedded again.

>>> article_id_for_url("https://www.example.com/news/2024/bridge-opens.html?ref=rss#top")
'example-com-news-2024-bridge-opens-html-12a46b0ca0'
"""

from __future__ import annotations

import codecs
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx

from qa.articles import Article, Skipped
from qa.errors import Cancelled, InputError
from qa.feeds import document_kind, feed_links, is_sitemap_index, sitemap_links
from qa.fetch import (  # noqa: F401 (the guard's names stay importable from here: tests and bench use them)
    ACCEPT_ENCODING,
    MAX_RESPONSE_BYTES,
    AddressPolicy,
    ContentDecoder,
    Fetched,
    GuardedBackend,
    Refused,
    address_kind,
    gunzipped,
)
from qa.files import looks_binary
from qa.settings import Settings
from qa.urls import article_id_for_url, is_url, scrubbed, url_key, without_userinfo  # noqa: F401

MAX_REDIRECTS = 5  # hops followed for one URL, each checked and counted against the budget
MAX_DEPTH = 3  # the URL given is depth 0; the links of a feed or sitemap at this depth are not followed
MAX_SITEMAPS = 50  # nested sitemaps followed in one run: a sitemap index can list thousands
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"


def user_agent() -> str:
    try:
        release = version("article-qa")
    except PackageNotFoundError:
        release = "dev"
    return f"article-qa/{release} (question answering over news articles; fetches only the pages its user names)"


# --- the loader -----------------------------------------------------------------------------------------


class WebLoader:
    """Fetches article pages, and the pages that feeds and sitemaps list, for one index run.

    ``cancel``, set from another thread, stops the fetch in progress within a second with Cancelled."""

    def __init__(self, settings: Settings, cancel: threading.Event | None = None) -> None:
        self.timeout = settings.web_timeout
        self.max_requests = settings.web_max_pages
        self.requests = 0  # web requests made this run: pages, feeds, sitemaps, redirects, failures
        self.cancel = cancel
        self._policy = AddressPolicy(settings.web_allowed_hosts)
        self._seen: set[str] = set()  # URLs without fragment and userinfo, fetched or queued
        self._sitemaps = 0  # sitemaps read, or listed by a sitemap index and about to be
        self._reserved: set[str] = set()  # the sitemaps a sitemap index listed, counted in _sitemaps already
        self._backend: GuardedBackend | None = None
        self._client: httpx.Client | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def articles(self, url: str) -> Iterator[Article | Skipped]:
        """The article at ``url``, or the articles a feed or sitemap at ``url`` lists (breadth-first, those of
        feeds and sitemaps it lists too, down to MAX_DEPTH)."""
        url = urldefrag(url.strip())[0]
        if url_key(url) in self._seen:
            return
        self._seen.add(url_key(url))
        queue: deque[tuple[str, int, str | None]] = deque([(url, 0, None)])  # URL, depth, the listing it is from
        while queue:
            self._check_cancel()
            if self.requests >= self.max_requests:
                yield from self._not_fetched(queue)
                return
            link, depth, _ = queue.popleft()
            shown = without_userinfo(link)
            try:
                response = self.get(link)
                kind = document_kind(response)
            except InputError as exc:
                yield Skipped(shown, scrubbed(str(exc)))
                continue
            if kind == "page":
                yield self._article(link, response)
                continue
            if kind == "sitemap" and url_key(link) not in self._reserved:
                if self._sitemaps >= MAX_SITEMAPS:
                    yield Skipped(shown, f"not read: at most {MAX_SITEMAPS} sitemaps are followed in one run")
                    continue
                self._sitemaps += 1
            links = feed_links(response) if kind == "feed" else sitemap_links(response)
            new = [x for x in links if url_key(x) not in self._seen]
            if kind == "sitemap" and new and is_sitemap_index(response):
                # its links are sitemaps: only as many as may still be read are fetched (one line for the rest)
                room = max(0, MAX_SITEMAPS - self._sitemaps)
                if len(new) > room:
                    yield Skipped(shown, f"{len(new) - room} listed sitemap(s) not read: at most {MAX_SITEMAPS} "
                                         "sitemaps are followed in one run")  # fmt: skip
                    new = new[:room]
                if not new:
                    continue
                self._sitemaps += len(new)  # their places are taken now
                self._reserved.update(map(url_key, new))
            if not links:
                yield Skipped(shown, "lists no pages")
            elif not new:
                yield Skipped(shown, "lists no page that was not already read")
            elif depth >= MAX_DEPTH:
                yield Skipped(shown, f"{len(new)} listed link(s) not followed: feeds and sitemaps are followed "
                                     f"{MAX_DEPTH} levels deep at most")  # fmt: skip
            else:
                self._seen.update(map(url_key, new))
                queue.extend((x, depth + 1, link) for x in new)

    def _not_fetched(self, queue: deque[tuple[str, int, str | None]]) -> Iterator[Skipped]:
        """One line per listing (or address given) whose pages the budget left out."""
        left = Counter(source for _, _, source in queue if source is not None)
        for link, _, source in queue:
            if source is None:
                yield Skipped(without_userinfo(link), f"not fetched: {self._limit}")
        for source, n in left.items():
            yield Skipped(without_userinfo(source), f"{n} listed page(s) not fetched: {self._limit}")

    @property
    def _limit(self) -> str:
        return f"at most {self.max_requests} web requests a run (QA_WEB_MAX_PAGES)"

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("web indexing cancelled")

    def _article(self, url: str, response: Fetched) -> Article | Skipped:
        from qa.html_extraction import html_to_article

        shown = without_userinfo(url)
        if looks_binary(response.body):  # served as a web page, but not text: no garbage sentences
            return Skipped(shown, "binary data, not a web page")
        body = response.body.decode(response.charset, "replace") if _known_charset(response.charset) else response.body
        try:
            return html_to_article(body, article_id=article_id_for_url(shown), origin=shown,
                                   url=without_userinfo(response.url))  # fmt: skip
        except InputError as exc:
            return Skipped(shown, scrubbed(str(exc)))

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._backend = GuardedBackend(self._policy, self.cancel)
            # trust_env=False: a proxy from the environment (HTTP_PROXY, ALL_PROXY) would make the connections
            # itself, past the address check; nor does anything else from the environment apply (netrc).
            transport = httpx.HTTPTransport(trust_env=False)
            # HTTPTransport has no parameter for httpcore's network backend, but its connection pool has: replacing
            # the pool (its private _pool, which its handle_request uses) keeps httpx's request and error handling
            # while every connection, for each request and each redirect hop, is made (and its address checked)
            # by GuardedBackend at the moment it connects.
            transport._pool = httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(), network_backend=self._backend, max_connections=10
            )
            self._client = httpx.Client(
                transport=transport, trust_env=False, follow_redirects=False, timeout=self.timeout,
                headers={"User-Agent": user_agent(), "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            )  # fmt: skip
        return self._client

    def get(self, url: str) -> Fetched:
        """GET ``url``, following at most MAX_REDIRECTS redirects (each hop a request of the budget, its address
        checked), or an InputError in one line: refused, no answer, HTTP error, too large, over budget."""
        client = self._http()
        assert self._backend is not None
        current = url
        try:
            for hop in range(MAX_REDIRECTS + 1):
                self._check_cancel()
                if self.requests >= self.max_requests:
                    raise InputError(f"{'redirect not followed' if hop else 'not fetched'}: {self._limit}")
                self.requests += 1
                self._backend.deadline = time.monotonic() + self.timeout  # headers included
                with client.stream("GET", current) as r:
                    if r.is_redirect:
                        target = urldefrag(urljoin(current, r.headers["location"].strip()))[0]
                        if urlsplit(target).scheme.lower() not in ("http", "https"):
                            raise InputError(f"redirected to a non-web address ({scrubbed(target)[:120]})")
                        current = target
                        continue
                    r.raise_for_status()
                    return self._read(r)
            raise InputError(f"too many redirects (more than {MAX_REDIRECTS})")
        except httpx.HTTPStatusError as exc:
            raise InputError(f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".strip()) from None
        except httpx.TimeoutException:
            raise InputError(f"no answer within {self.timeout:g} s") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise InputError("not a valid http(s) URL") from None
        except httpx.ConnectError as exc:
            raise InputError(f"cannot connect ({scrubbed(_first_line(exc)) or 'no route to the server'})") from None
        except httpx.HTTPError as exc:
            raise InputError(f"download failed ({exc.__class__.__name__}: {scrubbed(_first_line(exc))})") from None

    def _read(self, r: httpx.Response) -> Fetched:
        """The body of a successful response, decoded within the limits."""
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB")
        decoder = ContentDecoder(r.headers.get_list("content-encoding", split_commas=True))
        chunks, size = [], 0
        try:
            for raw in r.iter_raw():  # as sent: httpx would decode without a limit
                size += len(raw)
                if size > MAX_RESPONSE_BYTES:
                    raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB")
                chunks.append(decoder.decode(raw))
            chunks.append(decoder.flush())
        except httpx.TimeoutException:
            raise InputError(f"not fully received within {self.timeout:g} s") from None
        media_type = r.headers.get("content-type", "").split(";")[0].strip().lower()
        return Fetched(str(r.url), gunzipped(b"".join(chunks)), media_type, r.charset_encoding)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0][:160]


def _known_charset(name: str | None) -> bool:
    try:
        return bool(name) and bool(codecs.lookup(name))
    except LookupError:
        return False
