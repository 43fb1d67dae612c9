"""From a target ("example.com", "mx.example.com:2525", "[192.0.2.1]") to an open SMTP session.

A bare domain is looked up in DNS (MX, then the implicit A/AAAA host); a name with an explicit port,
an IP literal or a bracketed address is connected to directly. Hosts are tried in preference order
and each host's addresses in turn; a host that refuses the connection, does not answer in time or
greets with a 4xx reply is skipped for the next one (RFC 5321 §5.1: "try the next MX").
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass

import dns.asyncresolver

from smtpdiag.client.dns import DNSFailure, MXHost, resolve_addresses, resolve_mx
from smtpdiag.client.session import SessionError, SMTPSession
from smtpdiag.reply import Reply

MAX_ADDRESSES_PER_HOST = 4  # bound on connection attempts per MX host


@dataclass(frozen=True, slots=True)
class Target:
    """Where to go: `host` and `port`; `use_mx` when `host` is a mail domain to look up."""

    host: str
    port: int
    use_mx: bool


def parse_target(text: str, *, default_port: int = 25, use_mx: bool | None = None) -> Target:
    """'example.com' / 'host:2525' / '[2001:db8::1]:25' / '192.0.2.1' -> Target. ValueError if bad."""
    raw = text.strip()
    if not raw or any(c.isspace() or c in "/@" for c in raw) or len(raw) > 260:
        raise ValueError(f"not a domain, host or HOST:PORT: {text!r}")
    port: int | None = None
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep:
            raise ValueError(f"unclosed '[' in {text!r}")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"bad port in {text!r}")
            port = int(rest[1:])
        ipaddress.ip_address(host)
        literal = True
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"bad port in {text!r}")
        port = int(port_text)
        literal = _is_ip(host)
    else:
        host = raw
        literal = _is_ip(host)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    if not literal:
        host = _hostname(host, text)
    mx = use_mx if use_mx is not None else (port is None and not literal)
    return Target(host=host, port=port or default_port, use_mx=mx)


def _hostname(host: str, text: str) -> str:
    """A DNS host name in lower-case ASCII (IDNA for international names); ValueError if not one."""
    name = host.rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"not a valid host name: {text!r}") from None
    labels = name.split(".")
    if not name or len(name) > 253 or any(not 0 < len(label) < 64 for label in labels):
        raise ValueError(f"not a valid host name: {text!r}")
    if any(not (c.isascii() and (c.isalnum() or c in "-_")) for label in labels for c in label):
        raise ValueError(f"not a valid host name: {text!r}")
    return name


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def mail_hosts(
    target: Target, resolver: dns.asyncresolver.Resolver, session: SMTPSession
) -> list[MXHost]:
    """The hosts to try for `target`, noted in the transcript. Raises DNSFailure."""
    if not target.use_mx:
        return [MXHost(host=target.host, preference=0, implicit=True)]
    try:
        hosts = await resolve_mx(target.host, resolver)
    except DNSFailure as exc:
        session.error("DNS", exc.message)
        raise
    if hosts and hosts[0].implicit:
        session.note("DNS", f"{target.host}: no MX records; using its A/AAAA address (RFC 5321 §5.1)")
    else:
        listed = ", ".join(f"{h.preference} {h.host}" for h in hosts)
        session.note("DNS", f"MX for {target.host}: {listed}")
    return hosts


async def connect_first(
    session: SMTPSession,
    hosts: list[MXHost],
    port: int,
    resolver: dns.asyncresolver.Resolver,
    *,
    resolve: bool,
    implicit_tls: ssl.SSLContext | None = None,
) -> tuple[MXHost, Reply]:
    """Connect to the first host that answers with a greeting that is not 4xx.

    Returns the host and its greeting (which may be a 5xx refusal). When no host could be used,
    re-raises the last SessionError, or DNSFailure when no host had an address.
    """
    last_error: SessionError | None = None
    last_dns: DNSFailure | None = None
    last_transient: tuple[MXHost, Reply] | None = None
    for index, mx in enumerate(hosts):
        addresses: list[str | None]
        if resolve and not _is_ip(mx.host):
            try:
                found = await resolve_addresses(mx.host, resolver)
            except DNSFailure as exc:
                session.error("DNS", exc.message)
                last_dns = exc
                continue
            if not found:
                last_dns = DNSFailure("noaddress", mx.host)
                session.error("DNS", last_dns.message)
                continue
            addresses = list(found[:MAX_ADDRESSES_PER_HOST])
        else:
            addresses = [None]
        for position, address in enumerate(addresses):
            try:
                banner = await session.connect(mx.host, port, address=address, implicit_tls=implicit_tls)
            except SessionError as exc:
                if exc.kind == "usage":
                    raise
                last_error = exc
                continue
            more = index < len(hosts) - 1 or position < len(addresses) - 1
            if banner.is_transient and more:
                session.note("BANNER", "temporary refusal at the greeting; trying the next address/host")
                last_transient = (mx, banner)
                await session.quit()
                continue
            return mx, banner
    if last_transient is not None:
        return last_transient
    if last_error is not None:
        raise last_error
    if last_dns is not None:
        raise last_dns
    raise DNSFailure("nomx", hosts[0].host if hosts else "?")
