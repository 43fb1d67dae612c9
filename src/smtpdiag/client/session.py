"""An asyncio SMTP client session that records every command and reply with timings.

The wire reading is done by the sans-I/O `ReplyReader`; this module only moves bytes, applies the
per-step timeouts and keeps the transcript. Replies that refuse something (4xx/5xx) are returned,
not raised: deciding what a refusal means is the caller's job. Failures that end the session
(connection refused, timeout, connection closed, malformed reply, TLS failure) raise
`SessionError`, which names the step and the kind of failure.

Timeouts (RFC 5321 §4.5.3.2 gives the defaults for the SMTP steps; `connect` is ours):

=============  ========  =================================================================
name           default   what it bounds
=============  ========  =================================================================
connect        30 s      TCP connect (and the TLS handshake of implicit TLS / STARTTLS)
initial        300 s     waiting for the 220 greeting (§4.5.3.2.1)
command        300 s     EHLO/HELO, STARTTLS, AUTH, RSET, NOOP, QUIT (RFC gives none; as MAIL)
mail           300 s     reply to MAIL FROM (§4.5.3.2.2)
rcpt           300 s     reply to each RCPT TO (§4.5.3.2.3)
data_init      120 s     the 354 reply to DATA (§4.5.3.2.4)
data_block     180 s     each block of message data written (§4.5.3.2.5)
data_term      600 s     the reply after the final "." (§4.5.3.2.6)
=============  ========  =================================================================
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from smtpdiag.client.explanation import Explanation, explain_reply
from smtpdiag.client.replies import ReplyError, ReplyReader
from smtpdiag.reply import Reply

READ_CHUNK = 16384
DATA_BLOCK = 65536
# RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF; we refuse to send longer.
MAX_COMMAND_OCTETS = 512

EntryKind = Literal["client", "server", "info", "error"]
FailureKind = Literal[
    "refused", "unreachable", "timeout", "closed", "protocol", "tls", "dns", "auth", "usage"
]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-step timeouts in seconds (see the module docstring for the defaults and their sources)."""

    connect: float = 30.0
    initial: float = 300.0
    command: float = 300.0
    mail: float = 300.0
    rcpt: float = 300.0
    data_init: float = 120.0
    data_block: float = 180.0
    data_term: float = 600.0

    def scaled(self, **overrides: float) -> Timeouts:
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of the transcript: a command sent, a reply read, or a note about the session."""

    at: float  # seconds since the session started
    kind: EntryKind
    step: str  # CONNECT, BANNER, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, DATA, DOT, QUIT, ...
    text: str
    reply: Reply | None = None
    elapsed: float | None = None  # for a reply: seconds between the command and its reply
    explanation: Explanation | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": round(self.at, 4),
            "kind": self.kind,
            "step": self.step,
            "text": self.text,
        }
        if self.reply is not None:
            out["code"] = self.reply.code
            out["enhanced"] = self.reply.enhanced
        if self.elapsed is not None:
            out["elapsed"] = round(self.elapsed, 4)
        if self.explanation is not None:
            out["explanation"] = self.explanation.to_json()
        return out


@dataclass(frozen=True, slots=True)
class TLSInfo:
    """What the TLS handshake gave: protocol, cipher and the server certificate's main fields."""

    version: str
    cipher: str
    bits: int | None
    subject: str = ""
    issuer: str = ""
    not_before: str = ""
    not_after: str = ""
    dns_names: tuple[str, ...] = ()
    self_signed: bool = False
    verified: bool | None = None  # None: not checked; False: see verify_error
    verify_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "dns_names": list(self.dns_names),
            "self_signed": self.self_signed,
            "verified": self.verified,
            "verify_error": self.verify_error,
        }


class SessionError(Exception):
    """A failure that ends the session: which step, what kind, and a human message."""

    def __init__(self, step: str, kind: FailureKind, message: str) -> None:
        self.step = step
        self.kind = kind
        self.message = message
        super().__init__(f"{step}: {message}")


@functools.lru_cache(maxsize=1)
def local_hostname() -> str:
    """This host's name for EHLO and Reporting-MTA (looked up once: getfqdn may ask DNS)."""
    name = socket.getfqdn() or "localhost"
    return name if name.isascii() and " " not in name else "localhost"


@functools.lru_cache(maxsize=1)
def unverified_context() -> ssl.SSLContext:
    """A TLS context that completes the handshake whatever the certificate (validation is separate).

    Built once and shared (a context is safe to share); it loads no CA store, which costs ~20 ms.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.lru_cache(maxsize=8)
def verifying_context(cafile: str | None = None) -> ssl.SSLContext:
    """A TLS context that validates the chain and the host name (system CAs, or `cafile`)."""
    return ssl.create_default_context(cafile=cafile)


def describe_certificate(der: bytes | None) -> dict[str, Any]:
    """Subject, issuer, validity and DNS names of a DER certificate (empty when none)."""
    if not der:
        return {}
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    names: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    not_before: datetime = cert.not_valid_before_utc
    not_after: datetime = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "dns_names": names,
        "self_signed": cert.subject == cert.issuer,
    }


def tls_info_from(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> TLSInfo | None:
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    cert = describe_certificate(ssl_object.getpeercert(binary_form=True))
    return TLSInfo(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        bits=cipher[2] if cipher else None,
        subject=cert.get("subject", ""),
        issuer=cert.get("issuer", ""),
        not_before=cert.get("not_before", ""),
        not_after=cert.get("not_after", ""),
        dns_names=cert.get("dns_names", ()),
        self_signed=bool(cert.get("self_signed", False)),
    )


def _positive_ext(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) -> parameters, from the lines after the first."""
    exts: dict[str, str] = {}
    for line in reply.lines[1:]:
        word, _, params = line.strip().partition(" ")
        if word:
            exts[word.upper()] = params.strip()
    return exts


def stuff_message(message: bytes) -> bytes:
    """Message bytes as they go after DATA: CRLF line ends, leading dots doubled, ending CRLF.CRLF."""
    text = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = bytearray()
    for line in lines:
        if line.startswith(b"."):
            out += b"."
        out += line + b"\r\n"
    out += b".\r\n"
    return bytes(out)


class SMTPSession:
    """An SMTP conversation with one transcript; `connect` may be called again to try another host.

    Use `async with` or call `close()`.
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        lang: str | None = None,
        explain: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.lang = lang
        self.explain = explain
        self.transcript: list[TranscriptEntry] = []
        self.extensions: dict[str, str] = {}
        self.tls: TLSInfo | None = None
        self.peer: tuple[str, int] | None = None
        self.server_hostname: str | None = None
        self._clock = clock
        self._start = clock()
        self._reader_proto = ReplyReader()
        self._pending: list[Reply] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._broken = False

    # -- transcript -------------------------------------------------------------------------------
    def _note(self, kind: EntryKind, step: str, text: str, **extra: Any) -> None:
        self.transcript.append(TranscriptEntry(self._clock() - self._start, kind, step, text, **extra))

    def note(self, step: str, text: str) -> None:
        """Add an informational line (used by probe/send for DNS and TLS facts)."""
        self._note("info", step, text)

    def error(self, step: str, text: str) -> None:
        """Add a line saying what went wrong at `step`."""
        self._note("error", step, text)

    # -- connection -------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(
        self,
        host: str,
        port: int,
        *,
        address: str | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> Reply:
        """Open the connection (to `address` when given, else `host`) and read the greeting."""
        await self.close()
        self._broken = False
        self._reader_proto = ReplyReader()
        self._pending = []
        self.extensions = {}
        self.tls = None
        target = address or host
        self.server_hostname = host
        self._note("info", "CONNECT", f"connecting to {host} [{target}]:{port}")
        started = self._clock()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    target,
                    port,
                    ssl=implicit_tls,
                    server_hostname=host if implicit_tls is not None else None,
                    limit=READ_CHUNK * 4,
                ),
                self.timeouts.connect,
            )
        except TimeoutError:
            raise self._fail(
                "CONNECT", "timeout", f"no connection within {self.timeouts.connect:g} s"
            ) from None
        except ConnectionRefusedError:
            raise self._fail("CONNECT", "refused", f"connection refused by {target}:{port}") from None
        except ssl.SSLCertVerificationError as exc:
            message = f"certificate verification failed: {exc.verify_message}"
            raise self._fail("CONNECT", "tls", message) from None
        except ssl.SSLError as exc:
            raise self._fail("CONNECT", "tls", f"TLS handshake failed: {exc.reason or exc}") from None
        except (OSError, socket.gaierror) as exc:
            raise self._fail("CONNECT", "unreachable", f"cannot connect to {target}:{port}: {exc}") from None
        self.peer = (target, port)
        self._note("info", "CONNECT", f"connected in {self._clock() - started:.3f} s")
        if implicit_tls is not None and self._writer is not None:
            self.tls = tls_info_from(self._writer.get_extra_info("ssl_object"))
        return await self.read_reply("BANNER", self.timeouts.initial, started=started)

    def _fail(self, step: str, kind: FailureKind, message: str) -> SessionError:
        self._broken = True  # the dialogue is out of step: no polite QUIT after this
        self._note("error", step, message)
        return SessionError(step, kind, message)

    async def read_reply(self, step: str, timeout: float, *, started: float | None = None) -> Reply:
        """Read one complete reply within `timeout` seconds; record it with its explanation."""
        assert self._reader is not None
        started = self._clock() if started is None else started
        deadline = self._clock() + timeout
        while not self._pending:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise self._fail(step, "timeout", f"no reply within {timeout:g} s")
            try:
                chunk = await asyncio.wait_for(self._reader.read(READ_CHUNK), remaining)
            except TimeoutError:
                raise self._fail(step, "timeout", f"no reply within {timeout:g} s") from None
            except (ConnectionError, OSError) as exc:
                raise self._fail(step, "closed", f"connection lost: {exc}") from None
            if not chunk:
                try:
                    self._reader_proto.eof()
                except ReplyError as exc:
                    raise self._fail(step, "protocol", str(exc)) from None
                raise self._fail(step, "closed", "the server closed the connection without a reply")
            try:
                self._pending.extend(self._reader_proto.feed(chunk))
            except ReplyError as exc:
                raise self._fail(step, "protocol", str(exc)) from None
        reply = self._pending.pop(0)
        explanation = explain_reply(reply, command=step, lang=self.lang) if self.explain else None
        for i, line in enumerate(reply.lines):
            sep = " " if i == len(reply.lines) - 1 else "-"
            esc = f"{reply.enhanced} " if reply.enhanced and i == 0 else ""
            last = i == len(reply.lines) - 1
            self._note(
                "server",
                step,
                f"{reply.code}{sep}{esc}{line}".rstrip(),
                reply=reply if last else None,
                elapsed=(self._clock() - started) if last else None,
                explanation=explanation if last else None,
            )
        return reply

    async def _send_line(self, step: str, line: str, *, shown: str | None = None) -> float:
        assert self._writer is not None
        if "\r" in line or "\n" in line or "\x00" in line:
            raise SessionError(step, "usage", "command contains CR, LF or NUL")
        raw = line.encode("utf-8") + b"\r\n"
        if len(raw) > MAX_COMMAND_OCTETS:
            raise SessionError(step, "usage", f"command longer than {MAX_COMMAND_OCTETS} octets")
        started = self._clock()
        self._note("client", step, line if shown is None else shown)
        try:
            self._writer.write(raw)
            await asyncio.wait_for(self._writer.drain(), self.timeouts.command)
        except TimeoutError:
            raise self._fail(step, "timeout", "could not send the command in time") from None
        except (ConnectionError, OSError) as exc:
            raise self._fail(step, "closed", f"connection lost while sending: {exc}") from None
        return started

    async def command(
        self, step: str, line: str, timeout: float | None = None, *, shown: str | None = None
    ) -> Reply:
        """Send one command line and read its reply. `shown` replaces the line in the transcript."""
        started = await self._send_line(step, line, shown=shown)
        return await self.read_reply(
            step, self.timeouts.command if timeout is None else timeout, started=started
        )

    # -- SMTP commands ----------------------------------------------------------------------------
    async def hello(self, name: str) -> Reply:
        """EHLO, falling back to HELO when the server does not know EHLO (5xx)."""
        reply = await self.command("EHLO", f"EHLO {name}")
        if reply.is_positive:
            self.extensions = _positive_ext(reply)
            return reply
        if reply.code in (500, 501, 502, 504, 550):
            self._note("info", "HELO", "EHLO refused; falling back to HELO (RFC 5321 §3.2)")
            self.extensions = {}
            return await self.command("HELO", f"HELO {name}")
        return reply

    async def starttls(self, context: ssl.SSLContext, server_hostname: str | None = None) -> Reply:
        """STARTTLS and the handshake. Returns the reply; raises SessionError(kind='tls') on failure."""
        reply = await self.command("STARTTLS", "STARTTLS")
        if reply.code != 220:
            return reply
        assert self._writer is not None
        if self._pending or self._reader_proto.pending:
            # RFC 3207 §4.2 / CVE-2011-0411: bytes sent before the handshake must not be trusted.
            raise self._fail("STARTTLS", "protocol", "the server sent data after its 220 reply to STARTTLS")
        hostname = server_hostname or self.server_hostname
        try:
            await self._writer.start_tls(
                context, server_hostname=hostname, ssl_handshake_timeout=self.timeouts.connect
            )
        except ssl.SSLCertVerificationError as exc:
            raise self._fail(
                "STARTTLS", "tls", f"certificate verification failed: {exc.verify_message}"
            ) from None
        except (ssl.SSLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise self._fail("STARTTLS", "tls", f"TLS handshake failed: {reason}") from None
        self.tls = tls_info_from(self._writer.get_extra_info("ssl_object"))
        self._reader_proto = ReplyReader()
        self.extensions = {}
        if self.tls is not None:
            self._note("info", "STARTTLS", f"TLS established: {self.tls.version} {self.tls.cipher}")
        return reply

    def auth_mechanisms(self) -> list[str]:
        return self.extensions.get("AUTH", "").upper().split()

    async def auth(self, user: str, password: str, mechanism: str | None = None) -> Reply:
        """AUTH PLAIN or LOGIN (RFC 4954). Secrets never enter the transcript."""
        offered = self.auth_mechanisms()
        mech = (mechanism or ("PLAIN" if "PLAIN" in offered or not offered else "LOGIN")).upper()
        if mech == "PLAIN":
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            return await self.command("AUTH", f"AUTH PLAIN {token}", shown="AUTH PLAIN <redacted>")
        if mech == "LOGIN":
            reply = await self.command("AUTH", "AUTH LOGIN")
            if reply.code != 334:
                return reply
            user_b64 = base64.b64encode(user.encode()).decode("ascii")
            reply = await self.command("AUTH", user_b64, shown="<redacted username>")
            if reply.code != 334:
                return reply
            pass_b64 = base64.b64encode(password.encode()).decode("ascii")
            return await self.command("AUTH", pass_b64, shown="<redacted password>")
        raise SessionError("AUTH", "usage", f"unsupported AUTH mechanism {mech} (PLAIN and LOGIN are)")

    async def mail(self, sender: str, params: str = "") -> Reply:
        line = f"MAIL FROM:<{sender}>" + (f" {params}" if params else "")
        return await self.command("MAIL", line, self.timeouts.mail)

    async def rcpt(self, recipient: str, params: str = "") -> Reply:
        line = f"RCPT TO:<{recipient}>" + (f" {params}" if params else "")
        return await self.command("RCPT", line, self.timeouts.rcpt)

    async def data(self, message: bytes) -> tuple[Reply, Reply | None]:
        """DATA, the message, the final dot. Returns (reply to DATA, reply after the dot or None)."""
        first = await self.command("DATA", "DATA", self.timeouts.data_init)
        if first.code != 354:
            return first, None
        assert self._writer is not None
        payload = stuff_message(message)
        self._note("client", "DATA", f"<message: {len(message)} octets, {len(payload)} on the wire>")
        try:
            for start in range(0, len(payload), DATA_BLOCK):
                self._writer.write(payload[start : start + DATA_BLOCK])
                await asyncio.wait_for(self._writer.drain(), self.timeouts.data_block)
        except TimeoutError:
            raise self._fail(
                "DATA", "timeout", f"a data block was not accepted within {self.timeouts.data_block:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise self._fail("DATA", "closed", f"connection lost while sending data: {exc}") from None
        self._note("client", "DOT", ".")
        started = self._clock()
        return first, await self.read_reply("DOT", self.timeouts.data_term, started=started)

    async def rset(self) -> Reply:
        return await self.command("RSET", "RSET")

    async def quit(self) -> Reply | None:
        """QUIT politely; failures here do not matter any more and are only noted."""
        if not self.connected or self._broken:
            return None
        try:
            return await self.command("QUIT", "QUIT", min(self.timeouts.command, 30.0))
        except SessionError:
            return None

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if self._broken:
            # The peer is out of step (silent, garbage, half-closed): drop the connection at once
            # instead of waiting for a TLS close_notify or FIN that may never come.
            writer.transport.abort()
            return
        writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def __aenter__(self) -> SMTPSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = [
    "SMTPSession",
    "SessionError",
    "TLSInfo",
    "Timeouts",
    "TranscriptEntry",
    "stuff_message",
    "unverified_context",
    "verifying_context",
]
