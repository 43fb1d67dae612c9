"""RFC 3834 automatic responses (vacation / out-of-office replies): reason "vacation"."""

from __future__ import annotations

from smtpdiag.bounce.fields import find_address
from smtpdiag.bounce.formats.base import Context, Facts
from smtpdiag.bounce.formats.generic import looks_like_bounce
from smtpdiag.classify.phrases import VACATION, match_reason

NAME = "rfc3834"

AUTO_SUBJECT_PREFIXES = (
    "auto:",
    "auto reply",
    "autoreply",
    "auto-reply",
    "automatic reply",
    "out of office",
    "out of the office",
    "réponse automatique",
    "abwesenheit",
    "автоответ",
)


def detect(ctx: Context) -> bool:
    if looks_like_bounce(ctx):
        return False
    auto = ctx.header("Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if ctx.header("X-Autoreply") or ctx.header("X-Autorespond") or ctx.header("X-Auto-Response-Suppress"):
        return any(ctx.subject_lower.startswith(p) for p in AUTO_SUBJECT_PREFIXES)
    if ctx.header("Precedence").lower() == "auto_reply":
        return True
    return any(ctx.subject_lower.startswith(p) for p in AUTO_SUBJECT_PREFIXES)


def parse(ctx: Context) -> list[Facts]:
    if ctx.parts.status_blocks:
        return []
    rcpt = find_address(ctx.from_) or find_address(ctx.header("Reply-To"))
    if not rcpt:
        return []
    body = " ".join(ctx.text_lower[:2000].split())
    diag = " ".join(ctx.text[:500].split())
    subject_says = any(ctx.subject_lower.startswith(p) for p in AUTO_SUBJECT_PREFIXES)
    evidence = VACATION.find(body) or VACATION.find(ctx.subject_lower) or ctx.header("Auto-Submitted")
    if not (evidence or subject_says):
        return []
    # An automatic reply that announces a closed or moved mailbox is a bounce in all but name.
    closed = match_reason(body)
    if closed is not None and closed[0] in MAILBOX_STATE_REASONS:
        return [Facts(recipient=rcpt, reason=closed[0], diagnostic=diag)]
    return [Facts(recipient=rcpt, reason="vacation", diagnostic=diag, hardbounce=False)]


MAILBOX_STATE_REASONS = frozenset({"suspend", "hasmoved", "userunknown", "mailboxfull"})
