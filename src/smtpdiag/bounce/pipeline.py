"""The bounce pipeline: message -> format module -> per-recipient facts -> reason -> BounceResult.

    analyze(message: bytes | email.message.Message) -> list[BounceResult]

It never raises on bad input: a message that cannot be read, or is not a bounce, gives [].
`analyze_report` does the same but also says what went wrong, for callers that keep error records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Final

from smtpdiag.bounce.fields import (
    ADDR_RE,
    find_reply_code_and_status,
    find_status,
    infer_command,
    infer_command_from_session,
)
from smtpdiag.bounce.formats import MODULES, generic, rfc3464, systems
from smtpdiag.bounce.formats.base import Context, Facts
from smtpdiag.bounce.mime import parse_bytes, walk_parts
from smtpdiag.bounce.result import BounceResult
from smtpdiag.classify import classify
from smtpdiag.classify.core import HARD_REASONS
from smtpdiag.classify.lda import local_agent_reason
from smtpdiag.classify.providers import host_phrase, host_rule
from smtpdiag.vendors import vendor_hint

SYSTEM_NAMES: Final = frozenset(systems.BY_NAME)
MAX_RESULTS: Final = 1000  # recipients reported per message
MAX_FALLBACK_DIAG: Final = 1000  # characters of a bounce's text kept as the diagnostic of the last resort


@dataclass(slots=True, init=False)
class Report:
    results: list[BounceResult] = field(default_factory=list)
    error: str = ""  # why the message could not be analysed ("" when it could)
    format: str = ""

    # Hand-written (init=False above): mypyc compiles it, the dataclass-made one runs interpreted.
    def __init__(self, results: list[BounceResult] | None = None, error: str = "", format: str = "") -> None:
        self.results = [] if results is None else results
        self.error = error
        self.format = format


def analyze(message: bytes | Message) -> list[BounceResult]:
    """Per-recipient verdicts for one bounce email; [] when it is not a bounce or unreadable."""
    return analyze_report(message).results


def analyze_report(message: bytes | Message) -> Report:
    try:
        return _analyze(message)
    except Exception as exc:  # the contract: bad input never raises out of the API
        import logging  # only on this rare path: the import costs a few ms of every command's start

        logging.getLogger(__name__).debug("bounce analysis failed", exc_info=True)
        return Report(error=f"{type(exc).__name__}: {exc}"[:300])


def _analyze(message: bytes | Message) -> Report:
    if isinstance(message, (bytes, bytearray, memoryview)):
        msg = parse_bytes(bytes(message))
    elif isinstance(message, Message):
        msg = message
    else:
        return Report(error=f"expected bytes or email.message.Message, got {type(message).__name__}")
    ctx = Context(msg, walk_parts(msg))
    for mod in MODULES:
        if not mod.detect(ctx):
            continue
        if mod is generic and not generic.looks_like_bounce(ctx):
            continue
        facts: list[Facts] = mod.parse(ctx)
        if not facts:
            continue
        if mod is rfc3464:
            rfc3464.fill_from_text(ctx, facts)
        name = mod.NAME
        if ctx.header("X-SPASIGN").strip().upper() == "NG":
            # au (KDDI/EZweb) marks bounces its recipient-side spam filter caused with X-SPASIGN: NG.
            for f in facts:
                f.reason = f.reason or "filtered"
        if mod is rfc3464 or mod is generic:
            system = systems.identify(ctx)
            if system:
                name = system
                for f in facts:
                    f.command = f.command or systems.command_hint(system, f.diagnostic)
        # What rfc3464 and generic already read of each diagnostic, so _result need not again.
        read = READ_BY_GENERIC if mod is generic else READ_BY_RFC3464 if mod is rfc3464 else READ_NOTHING
        return Report(results=[_result(ctx, f, name, read) for f in facts[:MAX_RESULTS]], format=name)
    facts = _recipients_of_original(ctx)
    if facts:
        name = systems.identify(ctx) or generic.NAME
        return Report(results=[_result(ctx, f, name) for f in facts[:MAX_RESULTS]], format=name)
    return Report()


def _recipients_of_original(ctx: Context) -> list[Facts]:
    """Last resort for a bounce that names no failed address: the returned message's recipients.

    Some notices (an empty delivery-status part, a provider's HTML page) only say that the
    attached message was not delivered; its To header says to whom.
    """
    if not (ctx.parts.original_headers or ctx.inline_original):
        return []
    if not (ctx.parts.status_blocks or generic.looks_like_bounce(ctx)):
        return []
    to = ctx.original_fields.get("to", "")
    addrs = [m.group(0).lower() for m in ADDR_RE.finditer(to[:4000])][:MAX_RESULTS]
    if not addrs:
        return []
    diag = " ".join(" ".join(generic.bounce_text(ctx)).split())[:MAX_FALLBACK_DIAG]
    return [Facts(recipient=a, diagnostic=diag, action="failed") for a in dict.fromkeys(addrs)]


def prefer_status(field_status: str, diag_status: str, reply: str) -> str:
    """Choose between the Status: field and the code the remote server wrote in its reply.

    Sisimai's order of preference: when their classes differ, the one whose class the reply
    code shares; a generic field (X.0.0, or X.Y.0 / X.0.Z against a specific code) yields to the
    reply's code, a generic reply code to the field; the queue's "4.4.7" and a mail-system
    "5.3.Z" field yield; a "5.1.1" field yields to a specific code in the reply (the relay's
    summary of a refusal the remote server explained better).
    """
    if len(field_status) < 5:
        return diag_status or field_status
    if len(diag_status) < 5 or diag_status == field_status:
        return field_status
    if reply[:1] in ("2", "4", "5") and field_status[0] != diag_status[0]:
        if reply[0] == field_status[0]:
            return field_status
        if reply[0] == diag_status[0]:
            return diag_status
    if ".0.0" in field_status:
        return field_status if ".0.0" in diag_status else diag_status
    if ".0" in field_status and ".0" not in diag_status:
        return diag_status
    if ".0.0" in diag_status:
        return field_status
    if field_status == "4.4.7" or field_status.startswith("5.3."):
        return diag_status
    if field_status == "5.1.1":
        return field_status if ".0" in diag_status else diag_status
    if field_status == "5.1.3" and diag_status.startswith("5.7."):
        return diag_status
    return field_status


# What a format module has already found in each of its facts' diagnostics (flags for _result).
READ_NOTHING: Final = 0
# find_command(f.diagnostic) is "" whenever f.command is "" (rfc3464: facts_from_blocks looked,
# and fill_from_text only sets a diagnostic where there was none, with what text_blocks found).
READ_COMMAND: Final = 1
# f.replycode, f.status are find_reply_code_and_status(f.diagnostic) (generic: TextBlock's).
READ_CODES: Final = 2
READ_BY_RFC3464: Final = READ_COMMAND
READ_BY_GENERIC: Final = READ_COMMAND | READ_CODES


def _result(ctx: Context, f: Facts, fmt: str, read: int = READ_NOTHING) -> BounceResult:
    if not f.command:
        # (infer_command is find_command, then infer_command_from_session)
        f.command = (
            infer_command_from_session(f.diagnostic) if read & READ_COMMAND else infer_command(f.diagnostic)
        )
    if read & READ_CODES:
        reply, diag_status = f.replycode, f.status
    elif f.replycode:
        reply, diag_status = f.replycode, find_status(f.diagnostic)
    else:
        reply, diag_status = find_reply_code_and_status(f.diagnostic)
    status = prefer_status(f.status, diag_status, reply)
    lda = local_agent_reason(f.diagnostic, f.command) if f.reason in ("", "mailererror") else ""
    if lda:
        # A local delivery agent's own message (mail.local, procmail, ...) says what failed.
        f.reason = lda
        f.hardbounce = None
    if not f.reason and fmt in SYSTEM_NAMES:
        f.reason = systems.reason_hint(fmt, f.diagnostic, ctx.text_lower)
    if f.reason:
        reason = f.reason
        hard = (
            bool(f.hardbounce)
            if f.hardbounce is not None
            else reason in ("userunknown", "hostunknown", "hasmoved")
        )
    else:
        c = classify(
            f.diagnostic,
            reply_code=int(reply) if reply else None,
            status=status or None,
            command=f.command or None,
            vendor=f.vendor or vendor_hint(f"{f.remote_mta} {f.recipient.partition('@')[2]}".lower()),
            diagnostic_type=f.diagnostic_type or None,
            in_bounce=True,
        )
        reason = c.reason
        if reason in ("onhold", "undefined") and f.action == "delayed":
            reason = "expired"
        remote_words = f.remote_mta.split()
        remote_host = remote_words[0] if remote_words else ""
        reporting_words = f.reporting_mta.split()
        for host in (remote_host, reporting_words[0] if reporting_words else ""):
            named = host_phrase(host, f.diagnostic) if host else None
            if named:
                reason = named
                break
        for host in (remote_host, f.recipient.partition("@")[2]):
            # A mailbox-status code (X.2.X) keeps its own reading.
            rule = host_rule(host, f.command, reason) if host and status[2:4] != "2." else None
            if rule is not None:
                reason = rule.means
                break
        if f.hardbounce is not None:
            hard = f.hardbounce
        elif reason != c.reason:  # re-read by a provider rule: judge the new reason
            hard = reason in HARD_REASONS or (reason == "notaccept" and status[:1] != "4")
        else:
            hard = c.hardbounce
    if not status and reply and reply[0] in "245":
        status = f"{reply[0]}.0.0"
    if not status and f.action == "delayed":
        status = "4.0.0"
    orig = ctx.original_fields
    return BounceResult(
        recipient=f.recipient,
        reason=reason,
        hardbounce=hard,
        status=status,
        replycode=reply,
        action=f.action or ("failed" if reason not in ("delivered", "feedback", "vacation") else ""),
        diagnostic=f.diagnostic,
        command=f.command,
        original_recipient=f.original_recipient,
        reporting_mta=f.reporting_mta,
        remote_mta=f.remote_mta,
        date=f.date,
        format=fmt,
        feedbacktype=f.feedbacktype,
        original_message_id=orig.get("message-id", ""),
        original_from=orig.get("from", ""),
        original_to=orig.get("to", ""),
        original_subject=orig.get("subject", ""),
    )
