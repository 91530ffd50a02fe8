"""The SSRF guard for webhook URLs: which URLs ARKA may post to.

A webhook URL must be `https` (plain `http` only for an allowlisted host), carry no
user name or password and no fragment, name a host, and be at most 2048 characters.
Every address the host resolves to must be public: loopback, private, link-local,
multicast, reserved, unspecified, shared (100.64.0.0/10), unique-local IPv6 and IPv6
forms that embed an IPv4 address (mapped, translated, NAT64, 6to4) judged by that IPv4
address are all refused, unless the host name or a network holding the address is listed
in `webhooks.allow_private`. Literal addresses, including the legacy numeric forms the
resolver accepts (`127.1`, `0x7f000001`, `2130706433`), are judged the same way. The
check runs when a subscription is made and again before every attempt (`resolve_checked`),
since DNS answers can change in between.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from arka.base.errors import ArkaError

MAX_URL = 2048
SETTING = "webhooks.allow_private"
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_EMBEDDING = (  # IPv6 prefixes whose last 32 bits are an IPv4 address
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 local use
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetError(ArkaError):
    """A webhook URL ARKA refuses to call."""

    code = "E_WEBHOOK_URL"


# ------------------------------------------------------------------ allowlist

def _host_name(text: str) -> str | None:
    """`text` as a lowercase ASCII (IDNA) host name, or None when it is not one."""
    name = text.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        return None
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels) or len(name) > 253:
        return None
    if labels[-1].isdigit() or _legacy_ipv4(name) is not None:
        return None  # numbers are addresses, not names
    return name


def parse_allowlist(items: list[str]) -> tuple[str, ...]:
    """The `webhooks.allow_private` entries normalized: host names lowercase (IDNA),
    networks in `ipaddress` form (a bare address becomes a /32 or /128), duplicates
    dropped. Raises ValueError for an entry that is neither."""
    out: list[str] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else ""
        try:
            out.append(str(_unmap_network(ipaddress.ip_network(text, strict=False))))
            continue
        except ValueError:
            pass
        name = _host_name(text) if text and "/" not in text else None
        if name is None:
            raise ValueError(f"{item!r} is neither a host name nor a network such as "
                             f"127.0.0.1/32")
        out.append(name)
    return tuple(dict.fromkeys(out))


def _networks(allow: tuple[str, ...]) -> list[IPNetwork]:
    nets = []
    for item in allow:
        try:
            nets.append(_unmap_network(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            continue
    return nets


def _unmap_network(net: IPNetwork) -> IPNetwork:
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        v4 = net.network_address.ipv4_mapped
        if v4 is not None:
            return ipaddress.IPv4Network(f"{v4}/{net.prefixlen - 96}")
    return net


# ------------------------------------------------------------------ addresses

def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of a numeric host in any form the C resolver accepts (`127.1`,
    `0x7f000001`, `017700000001`, `2130706433`), or None."""
    if not host or not re.fullmatch(r"[0-9a-fA-FxX.]+", host) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, NAT64, 6to4,
    IPv4-compatible), or None. `::` and `::1` stay IPv6."""
    if int(addr) <= 1:
        return None
    for net in _EMBEDDING:
        if addr in net:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _SIX_TO_FOUR:
        return addr.sixtofour
    return None


def _canonical(addr: IPAddress) -> IPAddress:
    """An IPv6 address that embeds an IPv4 one is judged as that IPv4 address."""
    if isinstance(addr, ipaddress.IPv6Address):
        v4 = _embedded_ipv4(addr)
        if v4 is not None:
            return v4
    return addr


def _not_public(addr: IPAddress) -> str | None:
    """Why the address is not a public unicast address, or None when it is one."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.teredo is not None:
        return "a Teredo tunnel address"
    checks = (("is_unspecified", "an unspecified"), ("is_loopback", "a loopback"),
              ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
              ("is_private", "a private"), ("is_reserved", "a reserved"))
    for attribute, kind in checks:
        if getattr(addr, attribute):
            return f"{kind} address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(addr, ipaddress.IPv6Address) and addr in ipaddress.IPv6Network("fc00::/7"):
        return "a unique-local address"
    if not addr.is_global:
        return "a non-global address"
    return None


def _resolve(host: str, port: int, shown: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise TargetError(f"webhook URL {shown}: the host {host!r} does not resolve "
                          f"({exc}); check the spelling and that it has a public DNS "
                          f"record") from None
    found: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue
        if addr not in found:
            found.append(addr)
    if not found:
        raise TargetError(f"webhook URL {shown}: the host {host!r} does not resolve to an "
                          f"IP address")
    return found


# ------------------------------------------------------------------ URLs

def _shown(url: str) -> str:
    """The URL for an error message: without any user information, cut to 120 chars."""
    text = re.sub(r"//[^/?#@]*@", "//", url)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _refuse(shown: str, problem: str, fix: str) -> TargetError:
    return TargetError(f"webhook URL {shown}: {problem}; {fix}")


def _check(url: str, allow: tuple[str, ...], resolve: bool) -> tuple[str, list[str]]:
    if not isinstance(url, str):
        raise TargetError(f"a webhook URL is a string such as 'https://example.com/hook', "
                          f"not {type(url).__name__}")
    shown = _shown(url)
    if len(url) > MAX_URL:
        raise _refuse(shown, f"{len(url)} characters long", f"use at most {MAX_URL}")
    if not url.strip():
        raise TargetError("the webhook URL is empty; give one such as "
                          "'https://example.com/hook'")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise _refuse(shown, "it contains whitespace or control characters",
                      "percent-encode them (%20) or remove them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(shown, f"it is not a valid URL ({exc})",
                      "use the form https://host[:port]/path") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _refuse(shown, f"the scheme {parts.scheme or '(none)'!r} is not supported",
                      "webhooks use https:// URLs")
    if "@" in parts.netloc:
        raise _refuse(shown, "it carries a user name or password",
                      "remove them: deliveries are authenticated by their signature")
    if "#" in url:
        raise _refuse(shown, "it has a fragment (#...)",
                      "remove it: a fragment is never sent to the server")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise _refuse(shown, "it names no host", "use the form https://host[:port]/path")
    if port == 0:
        raise _refuse(shown, "port 0 is not a valid port", "use a port from 1 to 65535")
    literal: IPAddress | None = None
    if parts.netloc.rpartition("@")[2].startswith("["):
        try:
            if "%" in raw_host:
                raise ValueError("zone")
            literal = ipaddress.IPv6Address(raw_host)
        except ValueError:
            raise _refuse(shown, f"[{raw_host}] is not an IPv6 address",
                          "write IPv6 addresses as [2001:db8::1], without a zone") from None
        host = str(literal)
    else:
        legacy = _legacy_ipv4(raw_host)
        if legacy is not None:
            literal, host = legacy, str(legacy)
        else:
            name = _host_name(raw_host)
            if name is None:
                raise _refuse(shown, f"{raw_host!r} is not a valid host name",
                              "use letters, digits and hyphens (internationalized names "
                              "are IDNA-encoded)")
            host = name
    effective_port = port or DEFAULT_PORTS[scheme]
    nets = _networks(allow)
    by_name = literal is None and host in allow
    if not by_name and literal is None and (host == "localhost"
                                            or host.endswith(".localhost")):
        raise _refuse(shown, f"{host!r} is this machine", f"to allow it, add it to `{SETTING}`")
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    elif resolve:
        addresses = _resolve(host, effective_port, shown)
    else:
        addresses = []
    if not by_name:
        for addr in addresses:
            judged = _canonical(addr)
            why = _not_public(judged)
            if why is not None and not any(judged in net for net in nets
                                           if net.version == judged.version):
                suffix = 32 if judged.version == 4 else 128
                via = "" if literal is not None else f"{host!r} resolves to "
                raise _refuse(shown, f"{via}{addr} is {why}; webhooks go to public "
                              f"addresses only",
                              f"to allow it, add the host or a network holding it to "
                              f"`{SETTING}` (e.g. {judged}/{suffix})")
    if scheme == "http" and not by_name:
        inside = bool(addresses) and all(
            any(_canonical(a) in net for net in nets if net.version == _canonical(a).version)
            for a in addresses)
        if not inside:
            raise _refuse(shown, "plain http is refused (the payload would travel "
                          "unencrypted)", f"use https://, or add the host to `{SETTING}`")
    netloc = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    normalized = f"{scheme}://{netloc}{parts.path or '/'}"
    if parts.query:
        normalized += f"?{parts.query}"
    return normalized, [str(a) for a in addresses]


def check_url(url: str, allow: tuple[str, ...], resolve: bool = True) -> str:
    """The URL normalized (lowercase scheme and host, IDNA host, default port dropped,
    `/` for an empty path) when ARKA may post to it; else TargetError saying what is
    wrong and how to fix it. `allow` is a `parse_allowlist` result. Without `resolve`
    only literal addresses are judged (a name's addresses are judged when it is sent
    to)."""
    return _check(url, allow, resolve)[0]


def resolve_checked(url: str, allow: tuple[str, ...]) -> list[str]:
    """The addresses the URL's host resolves to now, each checked as `check_url` does;
    TargetError when any is refused."""
    return _check(url, allow, True)[1]
