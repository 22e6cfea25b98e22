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
import errno
import hashlib
import io
import ipaddress
import math
import os
import re
import selectors
import socket
import ssl
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import httpcore
import httpx
from lxml import etree

from qa.articles import Article, Skipped
from qa.errors import Cancelled, InputError
from qa.files import looks_binary
from qa.settings import Settings

MAX_RESPONSE_BYTES = 20 * 2**20  # of a body as received, and of each decoding step's output
MAX_CONTENT_ENCODINGS = 3  # stacked Content-Encodings decoded ("gzip, gzip" is legal, and a classic bomb)
MAX_REDIRECTS = 5  # hops followed for one URL, each checked and counted against the budget
MAX_DEPTH = 3  # the URL given is depth 0; the links of a feed or sitemap at this depth are not followed
MAX_SITEMAPS = 50  # nested sitemaps followed in one run: a sitemap index can list thousands
SLICE = 0.25  # seconds a connect, read or write waits at most before it looks at the deadline and the cancel event
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"  # only what _Inflater decodes
_URL = re.compile(r"^https?://\S+$", re.I)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")
_FEED_ROOTS = {"rss", "feed", "RDF"}
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_ALLOW_HINT = "allow it with QA_WEB_ALLOWED_HOSTS"


def user_agent() -> str:
    try:
        release = version("article-qa")
    except PackageNotFoundError:
        release = "dev"
    return f"article-qa/{release} (question answering over news articles; fetches only the pages its user names)"


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


@dataclass(frozen=True)
class Fetched:
    """A fetched document."""

    url: str  # after redirects (with any userinfo: it is the base of relative links; show without_userinfo(url))
    body: bytes
    content_type: str  # media type only, lower case
    charset: str | None


# --- addresses ------------------------------------------------------------------------------------------


class Refused(InputError):
    """A connection to an address that web indexing may not reach (and that Settings.web_allowed_hosts does not
    allow)."""


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``ip`` an address that web indexing refuses ("a loopback address", ...), or None for a public
    one.

    >>> address_kind(ipaddress.ip_address("169.254.169.254")), address_kind(ipaddress.ip_address("93.184.215.14"))
    ('a link-local address', None)
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour  # ::ffff:127.0.0.1 and 2002:7f00:1:: reach IPv4 addresses
        if embedded is not None:
            return address_kind(embedded)
        if ip.is_site_local:
            return "a site-local address"
    for test, kind in (("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
                       ("is_multicast", "a multicast"), ("is_unspecified", "an unspecified"),
                       ("is_reserved", "a reserved"), ("is_private", "a private")):  # fmt: skip
        if getattr(ip, test):
            return f"{kind} address"
    return None if ip.is_global else "a non-public address"


class AddressPolicy:
    """Which addresses web indexing may connect to: public ones, and those ``allowed`` names (host names, IP
    addresses or networks such as 10.0.0.0/8)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            entry = entry.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry:
                    self.names.add(entry)

    def check(self, host: str, addresses: Iterable[str]) -> None:
        """Raise Refused unless every address ``host`` resolved to may be reached."""
        host = host.lower().rstrip(".")
        if host in self.names:
            return
        for address in addresses:
            ip = ipaddress.ip_address(address)
            kind = address_kind(ip)
            plain = getattr(ip, "ipv4_mapped", None) or ip
            if kind is None or any(ip in net or plain in net for net in self.networks):
                continue
            if _ip_literal(host):
                raise Refused(f"refused: {address} is {kind} ({_ALLOW_HINT})")
            raise Refused(f"refused: {host} resolves to {address}, {kind} ({_ALLOW_HINT})")


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


# --- connections ----------------------------------------------------------------------------------------


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend for web indexing: ``connect_tcp`` resolves the host itself, checks every
    address with an AddressPolicy (so what is checked is what is connected to: DNS rebinding cannot slip in
    between), and connects to a checked one. Every connect, read and write waits in slices of ``SLICE`` seconds,
    stops at the request's ``deadline`` (set by WebLoader before each request: headers included, a server that
    drips its answer byte by byte is given up) and raises Cancelled once ``cancel`` is set."""

    def __init__(self, policy: AddressPolicy, cancel: threading.Event | None = None) -> None:
        self.policy, self.cancel = policy, cancel
        self.deadline = math.inf  # time.monotonic() by which the current request must be done

    def wait(self, until: float | None, timeout_error: type[Exception]) -> float:
        """How long the next slice of a wait may last; Cancelled once cancelled, ``timeout_error`` once ``until``
        (the operation's own timeout) or the request's deadline has passed."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("web indexing cancelled")
        left = min(self.deadline, math.inf if until is None else until) - time.monotonic()
        if left <= 0:
            raise timeout_error("timed out")
        return min(SLICE, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:  # fmt: skip
        until = None if timeout is None else time.monotonic() + timeout
        host = host.removeprefix("[").removesuffix("]")
        infos = self._resolve(host, port, until)
        self.policy.check(host, [info[4][0] for info in infos])
        error: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                self._connect(sock, address, until, local_address, socket_options or ())
                return GuardedStream(sock, self)
            except OSError as exc:
                sock.close()
                error = exc
            except BaseException:
                sock.close()
                raise
        raise httpcore.ConnectError(str(error or f"no address for {host}"))

    def _resolve(self, host: str, port: int, until: float | None) -> list[tuple]:
        """getaddrinfo in a thread of its own, waited for in slices: a resolver can take many seconds."""
        if _ip_literal(host):
            try:
                return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:  # an IPv6 zone that does not exist here ("fe80::1%eth9")
                raise httpcore.ConnectError(str(exc)) from None
        found: dict[str, Any] = {}

        def resolve() -> None:
            try:
                found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                found["error"] = exc

        lookup = threading.Thread(target=resolve, name="qa-web-resolve", daemon=True)
        lookup.start()
        while lookup.is_alive():
            lookup.join(self.wait(until, httpcore.ConnectTimeout))
        if "error" in found:
            raise httpcore.ConnectError(str(found["error"]))
        return found["infos"]

    def _connect(self, sock: socket.socket, address: tuple, until: float | None, local_address: str | None,
                 socket_options: Iterable[Any]) -> None:  # fmt: skip
        for option in socket_options:
            sock.setsockopt(*option)
        if local_address:
            sock.bind((local_address, 0))
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EINTR):
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_WRITE)
                while not selector.select(self.wait(until, httpcore.ConnectTimeout)):
                    pass
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedStream(httpcore.NetworkStream):
    """A connection made by GuardedBackend: its reads, writes and TLS handshake wait in slices (see there)."""

    def __init__(self, sock: socket.socket, backend: GuardedBackend) -> None:
        self._sock, self._backend = sock, backend

    def _slices(self, timeout: float | None, timeout_error: type[Exception]) -> Iterator[float]:
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            yield self._backend.wait(until, timeout_error)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        for wait in self._slices(timeout, httpcore.ReadTimeout):
            self._sock.settimeout(wait)
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue
            except OSError as exc:
                raise httpcore.ReadError(str(exc)) from exc
        raise AssertionError("unreachable")

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        slices = self._slices(timeout, httpcore.WriteTimeout)
        while buffer:
            self._sock.settimeout(next(slices))
            try:
                buffer = buffer[self._sock.send(buffer) :]
            except TimeoutError:
                continue  # TLS: the same buffer is written again, as OpenSSL requires
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:  # fmt: skip
        try:
            sock = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname, do_handshake_on_connect=False)
            for wait in self._slices(timeout, httpcore.ConnectTimeout):
                sock.settimeout(wait)
                try:
                    sock.do_handshake()
                    break
                except TimeoutError:
                    continue
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            self.close()
            raise
        return GuardedStream(sock, self._backend)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._sock._sslobj if isinstance(self._sock, ssl.SSLSocket) else None  # as httpcore's SyncStream
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":  # an idle keep-alive connection that is readable was closed by the server
            if self._sock.fileno() < 0:
                return True
            with selectors.DefaultSelector() as selector:
                selector.register(self._sock, selectors.EVENT_READ)
                return bool(selector.select(0))
        return None


# --- bodies ---------------------------------------------------------------------------------------------


class _Inflater:
    """One Content-Encoding step (gzip or deflate) undone as the body arrives, its output limited to
    MAX_RESPONSE_BYTES in all (zlib's max_length: nothing beyond the limit is ever produced)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.produced = 0
        self._head = b""  # deflate: the first two bytes tell a zlib stream from a raw one (servers send both)
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "deflate" else None

    def decompress(self, data: bytes) -> bytes:
        if self._z is None:
            data, self._head = self._head + data, b""
            if len(data) < 2:
                self._head = data
                return b""
            cmf, flg = data[0], data[1]
            zlib_header = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            self._z = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        out = []
        while data and not self._z.eof:
            try:
                chunk = self._z.decompress(data, MAX_RESPONSE_BYTES + 1 - self.produced)
            except zlib.error:
                raise InputError(f"damaged {self.encoding} content encoding") from None
            self.produced += len(chunk)
            if self.produced > MAX_RESPONSE_BYTES:  # also the only way output can be left pending in zlib
                raise InputError(f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB uncompressed")
            out.append(chunk)
            data = self._z.unconsumed_tail
        return b"".join(out)

    def flush(self) -> bytes:
        rest = b""
        if self._z is None:  # a deflate body of less than two bytes
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            rest = self.decompress(self._head)
        try:
            return rest + self._z.flush()
        except zlib.error:
            raise InputError(f"damaged {self.encoding} content encoding") from None


class _ContentDecoder:
    """The Content-Encodings of a response undone, the last applied first."""

    def __init__(self, encodings: list[str]) -> None:
        steps = [e.strip().lower() for e in encodings if e.strip() and e.strip().lower() != "identity"]
        for encoding in steps:
            if encoding not in ("gzip", "x-gzip", "deflate"):
                raise InputError(f"unsupported content encoding {re.sub(r'[^!-~]', '?', encoding)[:40]}")
        if len(steps) > MAX_CONTENT_ENCODINGS:
            raise InputError(f"more than {MAX_CONTENT_ENCODINGS} content encodings ({', '.join(steps)})")
        self._steps = [_Inflater(e) for e in reversed(steps)]

    def decode(self, data: bytes) -> bytes:
        for step in self._steps:
            data = step.decompress(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for step in self._steps:
            data = (step.decompress(data) if data else b"") + step.flush()
        return data


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
        if _key(url) in self._seen:
            return
        self._seen.add(_key(url))
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
            if kind == "sitemap" and _key(link) not in self._reserved:
                if self._sitemaps >= MAX_SITEMAPS:
                    yield Skipped(shown, f"not read: at most {MAX_SITEMAPS} sitemaps are followed in one run")
                    continue
                self._sitemaps += 1
            links = feed_links(response) if kind == "feed" else sitemap_links(response)
            new = [x for x in links if _key(x) not in self._seen]
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
                self._reserved.update(map(_key, new))
            if not links:
                yield Skipped(shown, "lists no pages")
            elif not new:
                yield Skipped(shown, "lists no page that was not already read")
            elif depth >= MAX_DEPTH:
                yield Skipped(shown, f"{len(new)} listed link(s) not followed: feeds and sitemaps are followed "
                                     f"{MAX_DEPTH} levels deep at most")  # fmt: skip
            else:
                self._seen.update(map(_key, new))
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
        decoder = _ContentDecoder(r.headers.get_list("content-encoding", split_commas=True))
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
        return Fetched(str(r.url), _gunzipped(b"".join(chunks)), media_type, r.charset_encoding)


def _key(url: str) -> str:
    """What makes two URLs the same document: all but the fragment and the userinfo."""
    return without_userinfo(urldefrag(url)[0])


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


def __getattr__(name: str):
    # ``load_inputs`` moved to qa.loaders (which imports this module); it stays importable from here, looked up
    # only when asked for, so qa.web itself depends on no loader.
    if name == "load_inputs":
        import importlib

        return importlib.import_module("qa.loaders").load_inputs
    raise AttributeError(f"module 'qa.web' has no attribute {name!r}")
