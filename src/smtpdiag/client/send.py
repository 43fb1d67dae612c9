"""`send`: deliver one message and tell the truth about every recipient.

Each recipient ends `accepted`, `transient` (4xx, timeouts, lost connections, DNS trouble that may
pass) or `permanent` (5xx, a domain that does not exist or takes no mail). A partly accepted
message is never reported as plain success: `SendResult.ok` is true only when every recipient was
accepted, and `SendResult.exit_code` follows sysexits.h (see docs/client.md).

Without `server`, recipients are grouped by domain and each domain's MX hosts are used (RFC 5321
§5.1); with `server` ("HOST:PORT"), every recipient goes through that one server (a relay or
submission server).
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any, Literal

import dns.asyncresolver

from smtpdiag.client.dns import DNSFailure, make_resolver
from smtpdiag.client.exitcodes import EX_NOHOST, EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE
from smtpdiag.client.explanation import Explanation, explain_reply
from smtpdiag.client.route import Target, connect_first, mail_hosts, parse_target
from smtpdiag.client.session import (
    SessionError,
    SMTPSession,
    Timeouts,
    TranscriptEntry,
    local_hostname,
    unverified_context,
    verifying_context,
)
from smtpdiag.reply import Reply

RecipientStatus = Literal["accepted", "transient", "permanent"]
StartTLSMode = Literal["auto", "require", "never"]

MAX_MESSAGE_OCTETS = 64 * 1024 * 1024  # refuse to read/send messages larger than this
MAX_LINE_OCTETS = 998  # RFC 5322 §2.1.1, excluding CRLF
MAX_RECIPIENTS = 1000  # per call; RFC 5321 §4.5.3.1.8 requires servers to take at least 100


class MessageError(ValueError):
    """The message given to send is not something we can send (bad input: exit 65)."""


class AddressError(ValueError):
    """An envelope address is unusable (bad input: exit 64)."""


@dataclass(slots=True)
class RecipientResult:
    """What happened to one recipient."""

    recipient: str
    status: RecipientStatus
    step: str  # the step that decided: DNS, CONNECT, BANNER, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, DOT
    reply: Reply | None = None
    detail: str = ""  # human text when there is no reply (DNS failure, timeout, ...)
    explanation: Explanation | None = None
    server: str = ""  # the host that gave the answer
    enhanced_status: str = ""  # RFC 3463 status for DSNs: the reply's, or derived

    @property
    def text(self) -> str:
        return str(self.reply) if self.reply is not None else self.detail

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "status": self.status,
            "step": self.step,
            "reply": str(self.reply) if self.reply else None,
            "code": self.reply.code if self.reply else None,
            "enhanced": self.enhanced_status or None,
            "detail": self.detail,
            "server": self.server,
            "explanation": self.explanation.to_json() if self.explanation else None,
        }


@dataclass(slots=True)
class SendResult:
    """Per-recipient results of one send, plus the transcript of every session."""

    sender: str
    recipients: list[RecipientResult]
    transcript: list[TranscriptEntry] = field(default_factory=list)
    message_id: str = ""
    size: int = 0

    @property
    def accepted(self) -> list[RecipientResult]:
        return [r for r in self.recipients if r.status == "accepted"]

    @property
    def transient(self) -> list[RecipientResult]:
        return [r for r in self.recipients if r.status == "transient"]

    @property
    def permanent(self) -> list[RecipientResult]:
        return [r for r in self.recipients if r.status == "permanent"]

    @property
    def ok(self) -> bool:
        """True only when every recipient was accepted."""
        return bool(self.recipients) and len(self.accepted) == len(self.recipients)

    @property
    def partial(self) -> bool:
        """Some recipients accepted, others not: NOT a success."""
        return bool(self.accepted) and not self.ok

    @property
    def outcome(self) -> str:
        if self.ok:
            return "delivered"
        if self.partial:
            return "partial"
        if self.transient:
            return "deferred"
        return "failed"

    @property
    def exit_code(self) -> int:
        """0 all accepted; 75 any transient failure; 68 only 'no such host' failures; 69 otherwise."""
        if self.ok:
            return EX_OK
        if self.transient:
            return EX_TEMPFAIL
        if self.permanent and all(r.step == "DNS" for r in self.permanent):
            return EX_NOHOST
        return EX_UNAVAILABLE

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "message_id": self.message_id,
            "size": self.size,
            "outcome": self.outcome,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "recipients": [r.to_json() for r in self.recipients],
            "transcript": [e.to_json() for e in self.transcript],
        }


def check_address(address: str, *, allow_empty: bool = False) -> str:
    """Return the address if usable in MAIL/RCPT, else raise AddressError."""
    if address == "" and allow_empty:
        return address
    if len(address) > 254 or any(c in address for c in "<>\r\n\x00 \t,"):
        raise AddressError(f"not a usable mail address: {address!r}")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not a usable mail address (need local@domain): {address!r}")
    return address


def check_message(message: bytes) -> None:
    """Refuse input that is not an RFC 5322 message we can send honestly (raises MessageError)."""
    if not message.strip():
        raise MessageError("the message is empty")
    if len(message) > MAX_MESSAGE_OCTETS:
        raise MessageError(f"the message is larger than {MAX_MESSAGE_OCTETS} octets")
    if b"\x00" in message:
        raise MessageError("the message contains NUL bytes (binary data is not a mail message)")
    head, sep, _body = message.replace(b"\r\n", b"\n").partition(b"\n\n")
    first = head.split(b"\n", 1)[0]
    if b":" not in first or first[:1] in (b" ", b"\t"):
        raise MessageError("the message does not start with a header field (Name: value)")
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\n\n")
    if headers.defects:
        raise MessageError(f"malformed header section: {headers.defects[0].__class__.__name__}")
    for number, line in enumerate(message.split(b"\n"), 1):
        if len(line.rstrip(b"\r")) > MAX_LINE_OCTETS:
            raise MessageError(f"line {number} is longer than {MAX_LINE_OCTETS} octets (RFC 5322 §2.1.1)")
    del sep


def sample_message(sender: str, recipients: Sequence[str], *, subject: str | None = None) -> bytes:
    """A small, valid message for when no message is given."""
    msg = EmailMessage()
    msg["From"] = sender or "smtpdiag@localhost"
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject or "smtpdiag test message"
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain=(sender.rpartition("@")[2] or "smtpdiag.invalid"))
    msg.set_content("This is a test message sent by smtpdiag to check that mail gets through.\n")
    return msg.as_bytes(policy=email.policy.SMTP)


def _status_of(reply: Reply) -> RecipientStatus:
    if reply.is_positive:
        return "accepted"
    return "transient" if reply.is_transient else "permanent"


def _enhanced(reply: Reply | None, fallback_transient: bool) -> str:
    if reply is not None and reply.enhanced:
        return reply.enhanced
    if reply is not None and not reply.is_positive:
        return f"{str(reply.code)[0]}.0.0"
    if reply is not None:
        return "2.0.0"
    return "4.4.1" if fallback_transient else "5.0.0"


def _from_reply(rcpt: str, step: str, reply: Reply, server: str, lang: str | None) -> RecipientResult:
    return RecipientResult(
        recipient=rcpt,
        status=_status_of(reply),
        step=step,
        reply=reply,
        explanation=None if reply.is_positive else explain_reply(reply, command=step, lang=lang),
        server=server,
        enhanced_status=_enhanced(reply, reply.is_transient),
    )


def _from_session_error(rcpt: str, exc: SessionError, server: str) -> RecipientResult:
    # An SMTP client treats a lost or silent connection as a temporary failure and tries again
    # later (RFC 5321 §4.5.4.1); a TLS failure as well (Postfix does the same).
    status: RecipientStatus = "permanent" if exc.kind == "usage" else "transient"
    status_code = {"timeout": "4.4.2", "closed": "4.4.2", "refused": "4.4.1", "unreachable": "4.4.1"}.get(
        exc.kind, "4.7.0" if exc.kind == "tls" else "4.5.0" if exc.kind == "protocol" else "5.5.0"
    )
    return RecipientResult(
        recipient=rcpt,
        status=status,
        step=exc.step,
        detail=exc.message,
        server=server,
        enhanced_status=status_code,
    )


def _from_dns(rcpt: str, exc: DNSFailure) -> RecipientResult:
    return RecipientResult(
        recipient=rcpt,
        status="permanent" if exc.permanent else "transient",
        step="DNS",
        detail=exc.message,
        enhanced_status=exc.status,
    )


def _mail_params(session: SMTPSession, sender: str, recipients: Sequence[str], message: bytes) -> str:
    params: list[str] = []
    if "SIZE" in session.extensions:
        params.append(f"SIZE={len(message)}")
    if "8BITMIME" in session.extensions and any(b > 127 for b in message):
        params.append("BODY=8BITMIME")
    if "SMTPUTF8" in session.extensions and not all(a.isascii() for a in (sender, *recipients)):
        params.append("SMTPUTF8")
    return " ".join(params)


@dataclass(frozen=True, slots=True)
class _Options:
    helo: str
    starttls: StartTLSMode
    implicit_tls: bool
    tls_verify: bool
    cafile: str | None
    auth_user: str | None
    auth_password: str | None
    allow_insecure_auth: bool
    lang: str | None


async def _deliver(
    session: SMTPSession,
    target: Target,
    resolver: dns.asyncresolver.Resolver,
    sender: str,
    recipients: list[str],
    message: bytes,
    opts: _Options,
    on_final: Callable[[list[RecipientResult]], None] | None,
) -> list[RecipientResult]:
    """One SMTP transaction for `recipients` via `target`. Never raises for network trouble."""
    decided: dict[str, RecipientResult] = {}
    server = target.host

    def rest(make: Callable[[str], RecipientResult]) -> list[RecipientResult]:
        return [decided.get(r) or make(r) for r in recipients]

    def all_from(step: str, reply: Reply) -> list[RecipientResult]:
        return rest(lambda r: _from_reply(r, step, reply, server, opts.lang))

    try:
        hosts = await mail_hosts(target, resolver, session)
        tls_context = verifying_context(opts.cafile) if opts.tls_verify else unverified_context()
        mx, banner = await connect_first(
            session,
            hosts,
            target.port,
            resolver,
            resolve=target.use_mx,
            implicit_tls=tls_context if opts.implicit_tls else None,
        )
        server = mx.host
        if banner.code != 220:
            return all_from("BANNER", banner)
        reply = await session.hello(opts.helo)
        if not reply.is_positive:
            return all_from("EHLO", reply)
        if opts.starttls != "never" and not opts.implicit_tls:
            if "STARTTLS" in session.extensions:
                reply = await session.starttls(tls_context, server_hostname=mx.host)
                if reply.code == 220:
                    reply = await session.hello(opts.helo)
                    if not reply.is_positive:
                        return all_from("EHLO", reply)
                elif opts.starttls == "require":
                    return all_from("STARTTLS", reply)
                else:
                    session.note("STARTTLS", "STARTTLS refused; continuing without TLS")
            elif opts.starttls == "require":
                detail = "the server does not offer STARTTLS, and TLS was required (--starttls)"
                session.error("STARTTLS", detail)
                return rest(
                    lambda r: RecipientResult(
                        r, "transient", "STARTTLS", detail=detail, server=server, enhanced_status="4.7.4"
                    )
                )
        if opts.auth_user is not None:
            if session.tls is None and not opts.allow_insecure_auth:
                detail = "refusing to send a password over an unencrypted connection"
                session.error("AUTH", detail)
                return rest(
                    lambda r: RecipientResult(
                        r, "permanent", "AUTH", detail=detail, server=server, enhanced_status="5.7.11"
                    )
                )
            reply = await session.auth(opts.auth_user, opts.auth_password or "")
            if reply.code != 235:
                return all_from("AUTH", reply)
        reply = await session.mail(sender, _mail_params(session, sender, recipients, message))
        if not reply.is_positive:
            return all_from("MAIL", reply)
        accepted: list[str] = []
        for rcpt in recipients:
            reply = await session.rcpt(rcpt)
            if reply.is_positive:
                accepted.append(rcpt)
            else:
                decided[rcpt] = _from_reply(rcpt, "RCPT", reply, server, opts.lang)
        if not accepted:
            await session.rset()
            return rest(lambda r: decided[r])
        first, final = await session.data(message)
        if final is None:
            return all_from("DATA", first)
        results = all_from("DOT", final)
        if on_final is not None:
            on_final(results)  # e.g. the queue commits "delivered" before anything else can fail
        return results
    except DNSFailure as exc:
        dns_failure = exc
        return rest(lambda r: _from_dns(r, dns_failure))
    except SessionError as exc:
        session_failure = exc
        return rest(lambda r: _from_session_error(r, session_failure, server))
    finally:
        await session.quit()
        await session.close()


async def send_async(
    message: bytes | EmailMessage | None,
    *,
    sender: str,
    recipients: Sequence[str],
    server: str | None = None,
    port: int = 25,
    starttls: StartTLSMode = "auto",
    implicit_tls: bool = False,
    tls_verify: bool = False,
    cafile: str | None = None,
    auth_user: str | None = None,
    auth_password: str | None = None,
    allow_insecure_auth: bool = False,
    helo: str | None = None,
    timeouts: Timeouts | None = None,
    resolver: dns.asyncresolver.Resolver | None = None,
    dns_server: str | None = None,
    lang: str | None = None,
    on_final: Callable[[list[RecipientResult]], None] | None = None,
) -> SendResult:
    """Send `message` (None: a generated test message) from `sender` to `recipients`.

    `starttls`: "auto" uses STARTTLS when offered (opportunistic, RFC 3207), "require" makes a server
    without it a (temporary) failure, "never" skips it. The certificate is validated only with
    `tls_verify` (against `cafile` or the system CAs); otherwise TLS only encrypts.

    Raises AddressError / MessageError for bad input (nothing is sent then); network and SMTP
    failures are never raised: they are in the per-recipient results. `on_final` is called with the
    results of each transaction as soon as the server answered the end of data, before QUIT.
    """
    check_address(sender, allow_empty=True)
    if not recipients:
        raise AddressError("no recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise AddressError(f"more than {MAX_RECIPIENTS} recipients")
    for rcpt in recipients:
        check_address(rcpt)
    if message is None:
        raw = sample_message(sender, recipients)
    elif isinstance(message, EmailMessage):
        raw = message.as_bytes(policy=email.policy.SMTP)
    else:
        raw = bytes(message)
    check_message(raw)
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    opts = _Options(
        helo=helo or local_hostname(),
        starttls=starttls,
        implicit_tls=implicit_tls,
        tls_verify=tls_verify,
        cafile=cafile,
        auth_user=auth_user,
        auth_password=auth_password,
        allow_insecure_auth=allow_insecure_auth,
        lang=lang,
    )
    resolver = resolver or make_resolver(dns_server)
    timeouts = timeouts or Timeouts()
    routes: dict[Target, list[str]] = {}
    unique = list(dict.fromkeys(recipients))
    try:
        if server is not None:
            routes[parse_target(server, default_port=port, use_mx=False)] = unique
        else:
            for rcpt in unique:
                domain = rcpt.rpartition("@")[2].lower()
                target = parse_target(domain, default_port=port, use_mx=not domain.startswith("["))
                routes.setdefault(target, []).append(rcpt)
    except ValueError as exc:
        raise AddressError(str(exc)) from None
    session = SMTPSession(timeouts=timeouts, lang=lang)
    results: dict[str, RecipientResult] = {}
    for target, rcpts in routes.items():
        for res in await _deliver(session, target, resolver, sender, rcpts, raw, opts, on_final):
            results[res.recipient] = res
    return SendResult(
        sender=sender,
        recipients=[results[r] for r in unique],
        transcript=session.transcript,
        message_id=str(headers.get("Message-ID", "") or "").strip(),
        size=len(raw),
    )


def send(message: bytes | EmailMessage | None, **kwargs: Any) -> SendResult:
    """Synchronous `send_async` (same arguments)."""
    return asyncio.run(send_async(message, **kwargs))
