"""Guarded HTTP for the web loader: every connection goes to an address checked when connecting, every wait
is cut into slices that watch a deadline and a cancel event, and every body is decoded within a size limit.

See qa.web for the rules this serves; qa.web.WebLoader is the one user of this module.
"""

from __future__ import annotations

import errno
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore

from qa.errors import Cancelled, InputError

MAX_RESPONSE_BYTES = 20 * 2**20  # of a body as received, and of each decoding step's output
MAX_CONTENT_ENCODINGS = 3  # stacked Content-Encodings decoded ("gzip, gzip" is legal, and a classic bomb)
SLICE = 0.25  # seconds a connect, read or write waits at most before it looks at the deadline and the cancel event
ACCEPT_ENCODING = "gzip, deflate"  # only what _Inflater decodes
_ALLOW_HINT = "allow it with QA_WEB_ALLOWED_HOSTS"


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


class ContentDecoder:
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


def gunzipped(body: bytes) -> bytes:
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
