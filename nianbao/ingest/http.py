"""One HTTP GET with every limit: connect, read and total deadlines, and a policy on where it may go.

``urllib`` follows redirects to any host, resolves names itself (so a check before the request can be
fooled by a second DNS answer) and has no total deadline (a server that sends a byte every few seconds
never trips a read timeout). So nianbao opens the connection itself:

* **Schemes**: http and https only, for the URL and every redirect (``ftp://``, ``file://`` ... refused).
* **Addresses**: the host name is resolved once; every address it resolves to must be public — not
  loopback, link-local (169.254.0.0/16: cloud metadata), private (10/8, 172.16/12, 192.168/16, fc00::/7),
  multicast, reserved or unspecified — unless the host is listed in the setting
  ``download_allow_private`` (``host:port`` or ``host``, comma-separated; matched against the URL's host
  name or the resolved address). The connection goes to the address that was checked, never to a second
  resolution. Each redirect is checked the same way, before it is followed (at most 5).
* **Deadlines**: ``connect`` for the TCP (and TLS) handshake, ``read`` for any single wait for bytes, and
  an absolute ``deadline`` (``time.monotonic()``) for everything, redirects included: every socket wait is
  bounded by what is left of it.

Proxies from the environment are not used: a proxy would resolve the name itself and the checks above
could not be made. Pure: no prefect.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from nianbao.errors import NianbaoError

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


class RefusedUrlError(NianbaoError):
    """A URL (or a redirect) nianbao will not fetch: another scheme, or a non-public address."""

    code = "refused_url"
    hint = ("Only http(s) URLs of public hosts are fetched; list an intranet host in the setting "
            "`download_allow_private` (host:port) if it is intended")


class DeadlineError(TimeoutError):
    """The download's total deadline passed."""


@dataclass(frozen=True)
class Policy:
    """Which non-public hosts may be reached: ``(host, port)`` pairs; port None: any port."""

    allowed: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def from_setting(cls, value: str | None) -> Policy:
        """Given ``download_allow_private`` (``"10.0.0.5:8080, mirror.local"``), return the policy."""
        out: set[tuple[str, int | None]] = set()
        for entry in (value or "").split(","):
            entry = entry.strip().lower()
            if not entry:
                continue
            host, port = entry, None
            if entry.startswith("["):  # [::1]:8080
                host, _, rest = entry[1:].partition("]")
                port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
            elif entry.count(":") == 1:
                h, _, p = entry.partition(":")
                if p.isdigit():
                    host, port = h, int(p)
            out.add((host, port))
        return cls(frozenset(out))

    def allows(self, host: str, address: str, port: int) -> bool:
        return any(h in (host.lower(), address) and (p is None or p == port) for h, p in self.allowed)


def non_public(address: str) -> str | None:
    """Given an IP address, return why it is not public (``"loopback"``, ``"private"`` ...), else None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "shared (carrier-grade NAT)"
    return None


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineError("the download's total deadline passed")
    return left


def resolve_checked(url: str, policy: Policy) -> tuple[str, str, int, str]:
    """Given a URL, return ``(scheme, host, port, address)`` with the address it may connect to, or raise
    ``RefusedUrlError``. ``OSError`` when the name does not resolve (a transient fault)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedUrlError(f"scheme {scheme or '(none)'}:// is not fetched (only http and https)", source=url)
    host = parts.hostname
    if not host:
        raise RefusedUrlError("the URL has no host", source=url)
    port = parts.port or (443 if scheme == "https" else 80)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} does not resolve")
    for address in addresses:
        why = non_public(address)
        if why is not None and not policy.allows(host, address, port):
            raise RefusedUrlError(f"{host}:{port} resolves to {address}, a {why} address: not fetched", source=url)
    return scheme, host, port, addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand (the Host header keeps the name)."""

    def __init__(self, host: str, port: int, address: str, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=connect_timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass
class Opened:
    """An open response (status < 300 or an error status) and the URL that gave it."""

    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection
    sock: socket.socket  # kept here: the connection drops its reference when the response will close it
    url: str
    redirects: int

    def set_wait(self, read_timeout: float, deadline: float) -> None:
        """Bound the next socket wait by the read timeout and what is left of the deadline."""
        self.sock.settimeout(min(read_timeout, _left(deadline)))

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def open_url(url: str, *, policy: Policy, headers: dict[str, str], connect_timeout: float, read_timeout: float,
             deadline: float) -> Opened:
    """GET ``url`` following at most ``MAX_REDIRECTS`` checked redirects; return the final response with
    its headers read. Raises ``RefusedUrlError`` (scheme, address, too many redirects),
    ``DeadlineError``, and ``OSError`` / ``http.client.HTTPException`` for network faults."""
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, address = resolve_checked(current, policy)
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = cls(host, port, address, min(connect_timeout, _left(deadline)))
        try:
            conn.connect()
            sock = conn.sock
            assert sock is not None
            sock.settimeout(min(read_timeout, _left(deadline)))
            parts = urlsplit(current)
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
            sock.settimeout(min(read_timeout, _left(deadline)))
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        location = resp.getheader("Location")
        if resp.status in REDIRECTS and location:
            resp.close()
            conn.close()
            current = urljoin(current, location.strip())
            continue
        return Opened(resp, conn, sock, current, hop)
    raise RefusedUrlError(f"more than {MAX_REDIRECTS} redirects", source=url)
