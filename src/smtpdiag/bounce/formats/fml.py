"""fml (the Japanese mailing-list manager): its notices to posters and to the list's admin.

fml answers a refused post with a short notice of its own from "<list>-admin@", marked with an
X-MLServer header and a Message-ID ending in ".FML...@": "You are not a member of this mailing
list <list@example.org>.", "Duplicated Message-ID in <list@example.org>." The address in angle
brackets is the list's; what failed is fixed by the notice's words (its body first, then its
Subject), as Sisimai's FML module reads them: a refused post is "rejected", a mail loop a
"systemerror", a security alert a "securityerror".
"""

from __future__ import annotations

from typing import Final

from smtpdiag.bounce.fields import ADDR_RE, ANGLE_ADDR_RE, clean_diagnostic
from smtpdiag.bounce.formats.base import Context, Facts

NAME = "fml"

MAX_TEXT: Final = 4000  # characters of the notice read (it is a few lines long)
ORIGINAL_MARK: Final = "original mail as follows:"

# (phrase, reason) of the notice's body, then of its Subject; lower-case, tried in order.
BODY_REASONS: Final[tuple[tuple[str, str], ...]] = (
    (" header may cause mail loop", "rejected"),
    ("not member article from ", "rejected"),
    ("reject mail from ", "rejected"),
    ("reject spammers:", "rejected"),
    ("you are not a member of this mailing list", "rejected"),
    (" has detected a loop condition so that", "systemerror"),
    ("duplicated message-id", "systemerror"),
    ("loop back warning:", "systemerror"),
    ("security alert:", "securityerror"),
)
SUBJECT_REASONS: Final[tuple[tuple[str, str], ...]] = (
    (" are not member", "rejected"),
    ("not member article from ", "rejected"),
    ("reject mail ", "rejected"),
    ("spam mail from a spammer is rejected", "rejected"),
    ("fml system error message", "systemerror"),
    ("loop alert: ", "systemerror"),
    ("loop back warning: ", "systemerror"),
    ("warning: unix from loop", "systemerror"),
    ("security alert", "securityerror"),
)


def detect(ctx: Context) -> bool:
    return (
        "fml" in ctx.header("X-MLServer").lower()
        and "-admin@" in ctx.from_lower
        and ".fml" in ctx.header("Message-ID").lower()
    )


def _notice(ctx: Context) -> str:
    text = ctx.text[:MAX_TEXT]
    cut = text.lower().find(ORIGINAL_MARK)
    return text[:cut] if cut >= 0 else text


def parse(ctx: Context) -> list[Facts]:
    notice = _notice(ctx)
    low = " ".join(notice.lower().split())
    reason = next((r for p, r in BODY_REASONS if p in low), "")
    if not reason:
        subject = ctx.subject_lower
        reason = next((r for p, r in SUBJECT_REASONS if p in subject), "")
    m = ANGLE_ADDR_RE.search(notice)
    recipient = m.group(1).lower() if m else ""
    if not recipient:
        to = ADDR_RE.search(ctx.header("To")[:2000])
        recipient = to.group(0).lower() if to else ""
    if not recipient or not reason:
        return []
    return [
        Facts(
            recipient=recipient,
            reason=reason,
            action="failed",
            diagnostic=clean_diagnostic(notice),
            hardbounce=False,
        )
    ]
