"""RFC 3464 delivery status notifications, built with the stdlib `email` package.

The report is ``multipart/report; report-type=delivery-status`` (RFC 6522) with three parts:

1. ``text/plain``: for people ("Each of the following recipients was rejected by a remote mail
   server ..."), each recipient with the server's reply and what it means;
2. ``message/delivery-status``: the per-message fields (Reporting-MTA, Arrival-Date, Original-Envelope-Id)
   and, per recipient, Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date
   (and Will-Retry-Until for delays);
3. ``text/rfc822-headers``: the original message's header section (not its body: the report
   should not carry the content back).
"""

from __future__ import annotations

import email.charset
import email.policy
import email.utils
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Literal

from smtpdiag.client.explanation import STEP_COMMANDS
from smtpdiag.client.send import RecipientResult
from smtpdiag.client.session import local_hostname

DSNAction = Literal["failed", "delayed", "delivered", "relayed", "expanded"]
MAX_ORIGINAL_HEADER_OCTETS = 64 * 1024  # the header section copied into the report is cut here
_QP_UTF8 = email.charset.Charset("utf-8")
_QP_UTF8.body_encoding = email.charset.QP  # readable in a raw view, unlike base64


@dataclass(frozen=True, slots=True)
class DSNRecipient:
    """The facts about one recipient that a DSN reports."""

    recipient: str
    action: DSNAction
    status: str  # RFC 3463, e.g. "5.1.1"
    diagnostic: str = ""  # the server's reply, e.g. "550 5.1.1 No such user"
    remote_mta: str = ""
    last_attempt: datetime | None = None
    original_recipient: str = ""
    will_retry_until: datetime | None = None
    explanation: str = ""  # for the human part
    expired: bool = False  # retries ran out (rather than a refusal)
    command: str = ""  # the SMTP command the reply answered: "RCPT TO", "MAIL FROM", "end of DATA"


def _date(value: datetime) -> str:
    return email.utils.format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))


def _clean(text: str) -> str:
    """One header-safe line: no CR/LF, bounded length."""
    return " ".join(text.split())[:900]


def _original_headers(original: bytes) -> str:
    head = original.replace(b"\r\n", b"\n")
    end = head.find(b"\n\n")
    head = head[: end + 1] if end >= 0 else head
    return head[:MAX_ORIGINAL_HEADER_OCTETS].decode("utf-8", "replace")


def _human_text(recipients: Sequence[DSNRecipient], reporting_mta: str) -> str:
    rejected = [r for r in recipients if r.action == "failed" and not r.expired]
    expired = [r for r in recipients if r.action == "failed" and r.expired]
    delayed = [r for r in recipients if r.action == "delayed"]
    lines = [f"This is the smtpdiag mail client at host {reporting_mta}.", ""]
    if rejected or expired:
        lines += ["Your message could not be delivered to one or more recipients.", ""]
    if rejected:
        lines += [
            "Each of the following recipients was rejected by a remote mail server.",
            "The reasons given by the server are included to help you determine why",
            "each recipient was rejected.",
            "",
        ]
        lines += _recipient_lines(rejected)
    if expired:
        lines += [
            "Delivery to the following recipients was attempted repeatedly and has",
            "now been given up: the receiving servers kept answering with temporary",
            "failures.",
            "",
        ]
        lines += _recipient_lines(expired)
    if delayed:
        lines += [
            "Delivery to the following recipients has been delayed. No action is",
            "required on your part; delivery attempts will continue.",
            "",
        ]
        lines += _recipient_lines(delayed)
    return "\n".join(lines) + "\n"


def _recipient_lines(recipients: Sequence[DSNRecipient]) -> list[str]:
    out: list[str] = []
    for r in recipients:
        out.append(f"    Recipient: <{r.recipient}>")
        if r.remote_mta:
            out.append(f"    Server: {r.remote_mta}")
        if r.diagnostic:
            during = f" (in reply to {r.command} command)" if r.command else ""
            out.append(f"    Reason: {_clean(r.diagnostic)}{during}")
        if r.explanation:
            out.append(f"    What it means: {_clean(r.explanation)}")
        out.append("")
    return out


def build_dsn(
    *,
    original: bytes,
    sender: str,
    recipients: Sequence[DSNRecipient],
    reporting_mta: str | None = None,
    arrival_date: datetime | None = None,
    envelope_id: str | None = None,
    date: datetime | None = None,
) -> Message:
    """The DSN as an email message addressed to `sender` (From: MAILER-DAEMON)."""
    if not recipients:
        raise ValueError("a DSN needs at least one recipient")
    mta = reporting_mta or local_hostname()
    now = date or datetime.now(UTC)
    report = MIMEMultipart("report", report_type="delivery-status")
    failed = any(r.action == "failed" for r in recipients)
    report["Subject"] = (
        "Undelivered Mail Returned to Sender" if failed else "Delayed Mail (still being retried)"
    )
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{mta}>"
    report["To"] = sender or "postmaster"
    report["Date"] = _date(now)
    report["Message-ID"] = email.utils.make_msgid(domain=mta)
    report["Auto-Submitted"] = "auto-replied"  # RFC 3834: no auto-replies to this

    text = _human_text(recipients, mta)
    human = MIMENonMultipart("text", "plain")
    human.set_payload(text, "us-ascii" if text.isascii() else _QP_UTF8)
    del human["MIME-Version"]
    report.attach(human)

    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {mta}"
    if envelope_id:
        per_message["Original-Envelope-Id"] = _clean(envelope_id)
    if arrival_date is not None:
        per_message["Arrival-Date"] = _date(arrival_date)
    blocks: list[Message | str] = [per_message]
    for r in recipients:
        block = Message()
        if r.original_recipient:
            block["Original-Recipient"] = f"rfc822; {r.original_recipient}"
        block["Final-Recipient"] = f"rfc822; {r.recipient}"
        block["Action"] = r.action
        block["Status"] = r.status
        if r.remote_mta:
            block["Remote-MTA"] = f"dns; {r.remote_mta}"
        if r.diagnostic:
            block["Diagnostic-Code"] = f"smtp; {_clean(r.diagnostic)}"
        if r.last_attempt is not None:
            block["Last-Attempt-Date"] = _date(r.last_attempt)
        if r.will_retry_until is not None:
            block["Will-Retry-Until"] = _date(r.will_retry_until)
        blocks.append(block)
    status = MIMEBase("message", "delivery-status")
    del status["MIME-Version"]
    status.set_payload(blocks)
    report.attach(status)

    headers = _original_headers(original)
    charset = "us-ascii" if headers.isascii() else "utf-8"
    original_part = MIMEText(headers, "rfc822-headers", charset)
    del original_part["MIME-Version"]
    report.attach(original_part)
    return report


_COMMANDS = {"BANNER": "the greeting", **STEP_COMMANDS}


def recipients_from_results(
    results: Sequence[RecipientResult],
    *,
    attempted_at: datetime | None = None,
    expired: bool = False,
) -> list[DSNRecipient]:
    """DSN facts for the non-accepted results of a send (permanent ones, or expired transient ones)."""
    out: list[DSNRecipient] = []
    for r in results:
        if r.status == "accepted":
            continue
        status = r.enhanced_status or ("5.0.0" if r.status == "permanent" else "4.0.0")
        out.append(
            DSNRecipient(
                recipient=r.recipient,
                action="failed",
                status=status,
                diagnostic=r.text,
                remote_mta=r.server,
                last_attempt=attempted_at or datetime.now(UTC),
                explanation=r.explanation.summary if r.explanation else "",
                expired=expired or r.status == "transient",
                command=_COMMANDS.get(r.step, "") if r.reply is not None else "",
            )
        )
    return out


def dsn_bytes(message: Message) -> bytes:
    return message.as_bytes(policy=email.policy.SMTP)


def write_dsn(message: Message, directory: str | os.PathLike[str]) -> Path:
    """Write the DSN into `directory` as a new .eml file (atomically: temp file, fsync, rename)."""
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    data = dsn_bytes(message)
    fd, tmp = tempfile.mkstemp(prefix=".dsn-", suffix=".tmp", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        final = target_dir / f"dsn-{stamp}-{Path(tmp).stem.removeprefix('.dsn-')}.eml"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final
