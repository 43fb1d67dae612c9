"""RFC 3834 automatic responses (vacation / out-of-office replies): reason "vacation"."""

from __future__ import annotations

from smtpdiag.bounce.fields import find_address
from smtpdiag.bounce.formats.base import Context, Facts
from smtpdiag.bounce.formats.generic import looks_like_bounce
from smtpdiag.classify.phrases import VACATION, match_reason

NAME = "rfc3834"

AUTO_SUBJECT_PREFIXES = (
    "auto:",
    "auto response",
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
    """An automatic reply (RFC 3834 headers, or the vendors' own), and not a bounce."""
    if looks_like_bounce(ctx):
        return False
    auto = ctx.header("Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if auto.startswith(("auto-generated", "auto-notified")):
        # Also on notifications of every kind: count it only when the words are a reply's.
        body = " ".join(ctx.text_lower[:2000].split())
        return bool(VACATION.find(body) or VACATION.find(ctx.subject_lower))
    if ctx.header("X-Apple-Action").lower() == "vacation" or ctx.header("Precedence").lower() == "auto_reply":
        return True
    if ctx.header("X-Autoreply") or ctx.header("X-Autorespond"):
        return True
    # X-Auto-Response-Suppress alone is no evidence: Exchange puts it on ordinary mail too.
    return any(ctx.subject_lower.startswith(p) for p in AUTO_SUBJECT_PREFIXES)


def parse(ctx: Context) -> list[Facts]:
    if ctx.parts.status_blocks:
        return []
    rcpt = find_address(ctx.from_) or find_address(ctx.header("Reply-To"))
    if not rcpt:
        return []
    body = " ".join(ctx.text_lower[:2000].split())
    diag = " ".join(ctx.text[:500].split())
    # An automatic reply that announces a closed or moved mailbox is a bounce in all but name.
    closed = match_reason(body)
    if closed is not None and closed[0] in MAILBOX_STATE_REASONS:
        return [Facts(recipient=rcpt, reason=closed[0], diagnostic=diag)]
    return [Facts(recipient=rcpt, reason="vacation", diagnostic=diag, hardbounce=False)]


MAILBOX_STATE_REASONS = frozenset({"suspend", "hasmoved", "userunknown", "mailboxfull"})
