"""Where does mail for a domain go? MX resolution per RFC 5321 §5.1 and RFC 7505, on dnspython.

* MX records are tried in order of preference (lowest first); hosts of equal preference are
  shuffled, as §5.1 asks, so that load spreads.
* No MX records (the name exists but has no MX): the domain itself is the one "implicit MX" host
  with preference 0, if it has an A or AAAA record (§5.1).
* A single MX of preference 0 with the exchange "." is a null MX (RFC 7505): the domain accepts no
  mail at all; that is a permanent failure, not a reason to fall back to A/AAAA.
* NXDOMAIN: the domain does not exist (permanent). A timeout or SERVFAIL is temporary.

Every failure is a `DNSFailure` whose `kind` is one of `nxdomain`, `nullmx`, `nomx` (no MX and no
address), `noaddress` (an MX host without addresses), `timeout`, `servfail`; `permanent` tells
whether retrying later can help.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

DNSFailureKind = Literal["nxdomain", "nullmx", "nomx", "noaddress", "timeout", "servfail"]
DEFAULT_DNS_TIMEOUT = 10.0  # seconds for one lookup (all retries to all nameservers)
MAX_MX_HOSTS = 20  # more MX hosts than this are not tried (a bound on work; real domains have < 10)

_PERMANENT: dict[str, bool] = {
    "nxdomain": True,
    "nullmx": True,
    "nomx": True,
    "noaddress": True,
    "timeout": False,
    "servfail": False,
}

_MESSAGES: dict[str, str] = {
    "nxdomain": "the domain {name} does not exist (DNS NXDOMAIN)",
    "nullmx": "the domain {name} publishes a null MX (RFC 7505): it accepts no mail",
    "nomx": "the domain {name} has no MX record and no A/AAAA address to fall back to",
    "noaddress": "the mail host {name} has no A/AAAA address",
    "timeout": "DNS lookup for {name} timed out",
    "servfail": "DNS lookup for {name} failed (no nameserver gave an answer: SERVFAIL or refused)",
}


class DNSFailure(Exception):
    """A DNS answer (or the lack of one) that stops delivery to a domain."""

    def __init__(self, kind: DNSFailureKind, name: str, detail: str = "") -> None:
        self.kind = kind
        self.name = name
        self.permanent = _PERMANENT[kind]
        self.message = _MESSAGES[kind].format(name=name) + (f" ({detail})" if detail else "")
        super().__init__(self.message)

    @property
    def status(self) -> str:
        """The RFC 3463 status a DSN reports for this failure."""
        return {
            "nxdomain": "5.1.2",
            "nullmx": "5.1.10",
            "nomx": "5.1.2",
            "noaddress": "5.4.4",
            "timeout": "4.4.3",
            "servfail": "4.4.3",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class MXHost:
    """One mail host for a domain, in the order it should be tried."""

    host: str
    preference: int
    implicit: bool = False  # True: no MX records, the domain itself (RFC 5321 §5.1)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "preference": self.preference, "implicit": self.implicit}


def make_resolver(
    server: str | None = None, *, timeout: float = DEFAULT_DNS_TIMEOUT
) -> dns.asyncresolver.Resolver:
    """A resolver using the system configuration, or only `server` ("IP" or "IP:PORT", "[v6]:PORT")."""
    if server is None:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    else:
        address, port = parse_server(server)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    return resolver


def parse_server(server: str) -> tuple[str, int]:
    """'IP', 'IP:PORT', '[IPv6]:PORT' -> (ip, port); ValueError on anything else."""
    text = server.strip()
    port = 53
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"unclosed '[' in DNS server {server!r}")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad DNS server {server!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        host = text
    ipaddress.ip_address(host)  # raises ValueError for a name
    if not 0 < port < 65536:
        raise ValueError(f"bad port in DNS server {server!r}")
    return host, port


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


async def _query(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> list[Any] | None:
    """The rdata of an answer; None for 'the name exists but has no such record'."""
    try:
        answer = await resolver.resolve(_absolute(name), rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        raise DNSFailure("nxdomain", name) from None
    except dns.resolver.NoAnswer:
        return None
    except dns.exception.Timeout:
        raise DNSFailure("timeout", name) from None
    except dns.resolver.NoNameservers as exc:
        raise DNSFailure("servfail", name, str(exc)[:200]) from None
    except dns.name.NameTooLong:
        raise DNSFailure("nxdomain", name, "name too long") from None
    return list(answer)


async def resolve_addresses(host: str, resolver: dns.asyncresolver.Resolver) -> list[str]:
    """IPv4 then IPv6 addresses of `host` (IP literals are returned as they are)."""
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    found: list[str] = []
    nx = 0
    for rdtype in ("A", "AAAA"):
        try:
            rdata = await _query(resolver, host, rdtype)
        except DNSFailure as exc:
            if exc.kind != "nxdomain":
                raise
            nx += 1
            continue
        found.extend(str(r.address) for r in rdata or ())
    if nx == 2:
        raise DNSFailure("nxdomain", host)
    return found


async def resolve_mx(
    domain: str,
    resolver: dns.asyncresolver.Resolver | None = None,
    *,
    rng: random.Random | None = None,
) -> list[MXHost]:
    """The mail hosts for `domain` in the order to try them. Raises DNSFailure."""
    resolver = resolver or make_resolver()
    rng = rng or random.Random()
    name = domain.strip().rstrip(".").lower()
    if not name:
        raise DNSFailure("nxdomain", domain, "empty domain")
    rdata = await _query(resolver, name, "MX")
    if rdata is None:
        addresses = await resolve_addresses(name, resolver)
        if not addresses:
            raise DNSFailure("nomx", name)
        return [MXHost(host=name, preference=0, implicit=True)]
    records = [(int(r.preference), str(r.exchange).rstrip(".").lower()) for r in rdata]
    if any(host == "" for _pref, host in records):
        real = [(pref, host) for pref, host in records if host]
        if not real:
            raise DNSFailure("nullmx", name)
        records = real  # RFC 7505 §3: a null MX mixed with others is ignored
    by_pref: dict[int, list[str]] = {}
    for pref, host in records:
        by_pref.setdefault(pref, []).append(host)
    hosts: list[MXHost] = []
    for pref in sorted(by_pref):
        group = sorted(set(by_pref[pref]))
        rng.shuffle(group)
        hosts.extend(MXHost(host=h, preference=pref) for h in group)
    return hosts[:MAX_MX_HOSTS]
