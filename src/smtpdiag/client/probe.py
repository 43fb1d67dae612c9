"""`probe`: walk through an SMTP conversation step by step and say which step fails, and why.

DNS (MX, implicit MX, null MX) -> connect -> greeting -> EHLO (HELO fallback) -> STARTTLS (with a
separate, verified handshake to tell whether the certificate validates for the name) -> AUTH
(optional) -> MAIL FROM / RCPT TO (optional) -> DATA (optional) -> QUIT. No message is sent unless
`data` is given: without it the transaction is reset before QUIT.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

import dns.asyncresolver

from smtpdiag.client.dns import DNSFailure, MXHost, make_resolver
from smtpdiag.client.explanation import Explanation, explain_reply, explain_text
from smtpdiag.client.route import Target, connect_first, mail_hosts, parse_target
from smtpdiag.client.session import (
    SessionError,
    SMTPSession,
    Timeouts,
    TLSInfo,
    TranscriptEntry,
    local_hostname,
    unverified_context,
    verifying_context,
)
from smtpdiag.reply import Reply

StartTLSMode = Literal["auto", "require", "never"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome: `ok`, or the step that failed, what kind of failure, and why."""

    ok: bool
    step: str  # DNS, CONNECT, BANNER, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, DOT, "" when ok
    kind: str  # reply | nxdomain | nullmx | nomx | noaddress | timeout | servfail | refused | ...
    reason: str  # one human sentence
    transient: bool | None = None  # True: retrying later may help; False: it will not; None: unknown
    reply: Reply | None = None
    explanation: Explanation | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "step": self.step,
            "kind": self.kind,
            "reason": self.reason,
            "transient": self.transient,
            "reply": str(self.reply) if self.reply else None,
            "code": self.reply.code if self.reply else None,
            "enhanced": self.reply.enhanced if self.reply else None,
            "explanation": self.explanation.to_json() if self.explanation else None,
        }


@dataclass(slots=True)
class ProbeResult:
    target: str
    verdict: Verdict
    transcript: list[TranscriptEntry]
    mx: list[MXHost] = field(default_factory=list)
    host: str | None = None
    address: str | None = None
    port: int | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    tls: TLSInfo | None = None
    auth_mechanisms: list[str] = field(default_factory=list)
    recipients: dict[str, str] = field(default_factory=dict)  # rcpt -> reply text

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": self.verdict.to_json(),
            "mx": [m.to_json() for m in self.mx],
            "host": self.host,
            "address": self.address,
            "port": self.port,
            "extensions": self.extensions,
            "tls": self.tls.to_json() if self.tls else None,
            "auth_mechanisms": self.auth_mechanisms,
            "recipients": self.recipients,
            "transcript": [e.to_json() for e in self.transcript],
        }


def _session_failure(exc: SessionError, lang: str | None, implicit_tls: bool = False) -> Verdict:
    transient: bool | None = exc.kind in ("timeout", "refused", "unreachable", "closed")
    explanation = None
    reason = exc.message
    if exc.step == "BANNER" and exc.kind == "timeout" and not implicit_tls:
        reason += (
            "; the server accepted the connection but never greeted: a port that expects TLS from"
            " the first byte (465) does this to a plaintext client - try --tls"
        )
    elif exc.step == "CONNECT" and exc.kind == "tls" and "WRONG_VERSION_NUMBER" in exc.message.upper():
        reason += "; the server answered in plaintext: this port does not use implicit TLS - drop --tls"
    if exc.kind == "protocol":
        transient = None
        summary = explain_text(f"SMTP protocol failure: {exc.message}", lang=lang)
        reason = f"the peer did not speak SMTP correctly: {exc.message}"
        if summary:
            explanation = Explanation(
                summary=summary, reason="networkerror", permanent=None, retry="after-fix"
            )
    elif exc.kind == "tls":
        transient = None
    return Verdict(
        ok=False, step=exc.step, kind=exc.kind, reason=reason, transient=transient, explanation=explanation
    )


def _reply_failure(step: str, reply: Reply, lang: str | None, what: str = "") -> Verdict:
    explanation = explain_reply(reply, command=step, lang=lang)
    kind = "temporary" if reply.is_transient else "permanent"
    reason = f"{kind} refusal at {step}{what}: {reply}"
    return Verdict(
        ok=False,
        step=step,
        kind="reply",
        reason=reason,
        transient=reply.is_transient,
        reply=reply,
        explanation=explanation,
    )


def _dns_failure(exc: DNSFailure) -> Verdict:
    return Verdict(ok=False, step="DNS", kind=exc.kind, reason=exc.message, transient=not exc.permanent)


async def check_certificate(
    host: str,
    port: int,
    address: str | None,
    *,
    context: ssl.SSLContext,
    helo: str,
    timeouts: Timeouts,
    implicit: bool,
) -> tuple[bool, str | None]:
    """A second connection whose handshake validates chain and name: (valid, why not)."""
    session = SMTPSession(timeouts=timeouts, explain=False)
    try:
        if implicit:
            await session.connect(host, port, address=address, implicit_tls=context)
            return True, None
        banner = await session.connect(host, port, address=address)
        if banner.code != 220:
            return False, f"could not re-check: greeting {banner}"
        if not (await session.hello(helo)).is_positive:
            return False, "could not re-check: EHLO refused"
        reply = await session.starttls(context, server_hostname=host)
        if reply.code != 220:
            return False, f"could not re-check: STARTTLS answered {reply}"
        return True, None
    except SessionError as exc:
        return False, exc.message.removeprefix("certificate verification failed: ")
    finally:
        await session.quit()
        await session.close()


async def probe_async(
    target: str,
    *,
    port: int = 25,
    resolver: dns.asyncresolver.Resolver | None = None,
    dns_server: str | None = None,
    helo: str | None = None,
    starttls: StartTLSMode = "auto",
    implicit_tls: bool = False,
    cafile: str | None = None,
    auth_user: str | None = None,
    auth_password: str | None = None,
    allow_insecure_auth: bool = False,
    mail_from: str | None = None,
    rcpts: tuple[str, ...] | list[str] = (),
    data: bytes | None = None,
    timeouts: Timeouts | None = None,
    lang: str | None = None,
) -> ProbeResult:
    """Probe `target` (a mail domain, HOST:PORT or [IP]); never raises for network trouble."""
    timeouts = timeouts or Timeouts()
    parsed: Target = parse_target(target, default_port=port)
    resolver = resolver or make_resolver(dns_server)
    helo_name = helo or local_hostname()
    session = SMTPSession(timeouts=timeouts, lang=lang)
    result = ProbeResult(target=target, verdict=Verdict(True, "", "ok", "ok"), transcript=session.transcript)
    try:
        result.verdict = await _run(
            session,
            result,
            parsed,
            resolver,
            helo_name,
            starttls,
            implicit_tls,
            cafile,
            auth_user,
            auth_password,
            allow_insecure_auth,
            mail_from,
            list(rcpts),
            data,
            timeouts,
            lang,
        )
    except DNSFailure as exc:
        result.verdict = _dns_failure(exc)
    except SessionError as exc:
        result.verdict = _session_failure(exc, lang, implicit_tls)
    finally:
        await session.quit()
        await session.close()
    return result


async def _run(
    session: SMTPSession,
    result: ProbeResult,
    target: Target,
    resolver: dns.asyncresolver.Resolver,
    helo: str,
    starttls: StartTLSMode,
    implicit_tls: bool,
    cafile: str | None,
    auth_user: str | None,
    auth_password: str | None,
    allow_insecure_auth: bool,
    mail_from: str | None,
    rcpts: list[str],
    data: bytes | None,
    timeouts: Timeouts,
    lang: str | None,
) -> Verdict:
    result.mx = await mail_hosts(target, resolver, session)
    result.port = target.port
    mx, banner = await connect_first(
        session,
        result.mx,
        target.port,
        resolver,
        resolve=target.use_mx,
        implicit_tls=unverified_context() if implicit_tls else None,
    )
    result.host = mx.host
    result.address = session.peer[0] if session.peer else None
    if banner.code != 220:
        return _reply_failure("BANNER", banner, lang, " (the greeting)")
    reply = await session.hello(helo)
    if not reply.is_positive:
        return _reply_failure("HELO" if session.transcript[-1].step == "HELO" else "EHLO", reply, lang)
    result.extensions = dict(session.extensions)
    tls_done = implicit_tls
    if not implicit_tls and starttls != "never":
        if "STARTTLS" in session.extensions:
            reply = await session.starttls(unverified_context(), server_hostname=mx.host)
            if reply.code != 220:
                if starttls == "require":
                    return _reply_failure("STARTTLS", reply, lang)
                session.note("STARTTLS", "STARTTLS refused; continuing without TLS")
            else:
                tls_done = True
                reply = await session.hello(helo)
                if not reply.is_positive:
                    return _reply_failure("EHLO", reply, lang, " (after STARTTLS)")
                result.extensions = dict(session.extensions)
        elif starttls == "require":
            return Verdict(
                ok=False,
                step="STARTTLS",
                kind="tls",
                reason="the server does not offer STARTTLS, and TLS was required",
                transient=False,
            )
        else:
            session.note("STARTTLS", "the server does not offer STARTTLS: mail to it travels unencrypted")
    if tls_done and session.tls is not None:
        valid, why = await check_certificate(
            mx.host,
            target.port,
            result.address,
            context=verifying_context(cafile),
            helo=helo,
            timeouts=timeouts,
            implicit=implicit_tls,
        )
        tls = session.tls
        result.tls = TLSInfo(
            version=tls.version,
            cipher=tls.cipher,
            bits=tls.bits,
            subject=tls.subject,
            issuer=tls.issuer,
            not_before=tls.not_before,
            not_after=tls.not_after,
            dns_names=tls.dns_names,
            self_signed=tls.self_signed,
            verified=valid,
            verify_error=why,
        )
        if valid:
            session.note("TLS", f"certificate valid for {mx.host}")
        else:
            session.note("TLS", f"certificate does NOT validate for {mx.host}: {why}")
    result.auth_mechanisms = session.auth_mechanisms()
    if auth_user is not None:
        if not tls_done and not allow_insecure_auth:
            return Verdict(
                ok=False,
                step="AUTH",
                kind="usage",
                reason="refusing to send a password over an unencrypted connection (allow it explicitly)",
                transient=False,
            )
        if "AUTH" not in session.extensions:
            return Verdict(
                ok=False, step="AUTH", kind="auth", reason="the server does not offer AUTH", transient=False
            )
        reply = await session.auth(auth_user, auth_password or "")
        if reply.code != 235:
            return _reply_failure("AUTH", reply, lang)
    if mail_from is None and not rcpts and data is None:
        return Verdict(ok=True, step="", kind="ok", reason="the server accepts connections and speaks SMTP")
    reply = await session.mail(mail_from or "")
    if not reply.is_positive:
        return _reply_failure("MAIL", reply, lang)
    failures: list[Verdict] = []
    accepted = 0
    for rcpt in rcpts:
        reply = await session.rcpt(rcpt)
        result.recipients[rcpt] = str(reply)
        if reply.is_positive:
            accepted += 1
        else:
            failures.append(_reply_failure("RCPT", reply, lang, f" for <{rcpt}>"))
    if data is not None and accepted:
        first, final = await session.data(data)
        if first.code != 354:
            return _reply_failure("DATA", first, lang)
        assert final is not None
        if not final.is_positive:
            return _reply_failure("DOT", final, lang, " (end of message data)")
    else:
        await session.rset()
    if failures:
        if len(failures) == 1:
            return failures[0]
        worst = next((f for f in failures if f.transient is False), failures[0])
        names = ", ".join(r for r, text in result.recipients.items() if text[:1] not in "23")
        return Verdict(
            ok=False,
            step="RCPT",
            kind="reply",
            reason=f"{len(failures)} recipients refused ({names}); first: {worst.reason}",
            transient=all(f.transient for f in failures),
            reply=worst.reply,
            explanation=worst.explanation,
        )
    what = "accepted the message" if data is not None else "would accept the mail (no message was sent)"
    return Verdict(ok=True, step="", kind="ok", reason=f"the server {what}")


def probe(target: str, **kwargs: Any) -> ProbeResult:
    """Synchronous `probe_async`."""
    return asyncio.run(probe_async(target, **kwargs))
