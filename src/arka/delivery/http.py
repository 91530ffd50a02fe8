"""Posting one webhook: a shared HTTP client that re-checks the target before every
attempt, connects to the address it checked, follows no redirects and reads a bounded
part of the answer. Every result, refusals included, is an `Outcome`."""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from arka.delivery import targets

MAX_RESPONSE = 64 * 1024  # bytes of a response read (the rest is dropped)
SNIPPET = 200  # characters of a failed response's body kept in the error
USER_AGENT = "arka-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt (webhook or e-mail): `ok`, the HTTP status or
    SMTP reply code when there was one, a one-line error when not ok, seconds taken."""

    ok: bool
    status: int | None
    error: str | None
    duration: float


def _one_line(text: str, limit: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _pinned(url: str, address: str) -> tuple[str, str, str]:
    """The URL with its host replaced by the checked address, the Host header, and the
    name TLS verifies the certificate against (the original host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = ipaddress.ip_address(address)
    netloc_ip = f"[{ip}]" if ip.version == 6 else str(ip)
    port = f":{parts.port}" if parts.port is not None else ""
    host_header = (f"[{host}]" if ":" in host else host) + port
    pinned = urlunsplit((parts.scheme, netloc_ip + port, parts.path or "/", parts.query, ""))
    return pinned, host_header, host


class Sender:
    """One shared `httpx.Client` for all webhook posts; safe to use from many threads."""

    def __init__(self, *, verify: bool | ssl.SSLContext = True) -> None:
        """`verify`: how TLS certificates are checked (the system's CAs by default)."""
        # No kept-alive connections: a pooled connection is keyed by the address only, so
        # it could carry a request for another host name than the one its TLS verified.
        self._client = httpx.Client(follow_redirects=False, trust_env=False, verify=verify,
                                    headers={"user-agent": USER_AGENT},
                                    limits=httpx.Limits(max_keepalive_connections=0))
        self._lock = threading.Lock()
        self._closed = False

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float,
             allow: tuple[str, ...]) -> Outcome:
        """POST `body` to `url` with `headers`, within `timeout` seconds. The target is
        checked again first (`targets.resolve_checked`) and the connection goes to the
        address that passed, so a DNS change cannot redirect it; ok means a 2xx answer."""
        start = time.monotonic()
        try:
            normalized = targets.check_url(url, allow, resolve=False)
            addresses = targets.resolve_checked(url, allow)
        except targets.TargetError as exc:
            return Outcome(False, None, exc.message, time.monotonic() - start)
        if self._closed:
            return Outcome(False, None, "the webhook sender is closed", 0.0)
        errors = []
        for address in addresses:
            outcome = self._attempt(normalized, address, body, headers, timeout, start)
            if isinstance(outcome, Outcome):
                return outcome
            errors.append(f"{address}: {outcome}")
        return Outcome(False, None, _one_line("could not connect to " + "; ".join(errors)),
                       time.monotonic() - start)

    def _attempt(self, url: str, address: str, body: bytes, headers: dict[str, str],
                 timeout: float, start: float) -> Outcome | str:
        """One try at one address; the error text when no connection could be made (the
        next address is tried)."""
        pinned, host_header, server_name = _pinned(url, address)
        remaining = max(0.001, timeout - (time.monotonic() - start))
        extensions = {"sni_hostname": server_name} if url.startswith("https:") else {}
        sent = {**headers, "host": host_header}
        try:
            with self._client.stream("POST", pinned, content=body, headers=sent,
                                     timeout=httpx.Timeout(remaining),
                                     extensions=extensions) as response:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk[:MAX_RESPONSE - len(received)]
                    if len(received) >= MAX_RESPONSE:
                        break
                    if time.monotonic() - start > timeout:
                        return Outcome(False, response.status_code,
                                       f"the response took longer than {timeout:g} s",
                                       time.monotonic() - start)
                status = response.status_code
                location = response.headers.get("location", "")
        except httpx.ConnectError as exc:
            return str(exc) or type(exc).__name__
        except httpx.TimeoutException:
            return Outcome(False, None, f"timed out after {timeout:g} s",
                           time.monotonic() - start)
        except httpx.HTTPError as exc:
            return Outcome(False, None, _one_line(f"{type(exc).__name__}: {exc}"),
                           time.monotonic() - start)
        duration = time.monotonic() - start
        if 200 <= status < 300:
            return Outcome(True, status, None, duration)
        if 300 <= status < 400:
            where = f" (Location: {_one_line(location, 120)})" if location else ""
            return Outcome(False, status, f"HTTP {status}: redirects are not followed; "
                           f"point the webhook at the final URL{where}", duration)
        text = _one_line(bytes(received).decode("utf-8", "replace"))
        return Outcome(False, status, f"HTTP {status}" + (f": {text}" if text else ""),
                       duration)

    def close(self) -> None:
        """Close the connections; later posts fail with an Outcome."""
        with self._lock:
            self._closed = True
            self._client.close()
