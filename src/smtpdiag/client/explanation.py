"""The one place where the client asks for the explanation of a server reply.

`smtpdiag.explain.explain(text, lang)` gives the full diagnosis (knowledge base, vendor replies,
English or Russian). Should it fail on some input, the classifier alone still gives a reason and
whether retrying helps, so the client never loses its verdict because of the explanation layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smtpdiag.classify import classify
from smtpdiag.reply import Reply

_POSITIVE: dict[int, str] = {
    211: "system status",
    214: "help text",
    220: "service ready",
    221: "closing the connection",
    235: "authentication succeeded",
    250: "accepted",
    251: "accepted; the server will forward the mail",
    252: "cannot verify the address, but will accept mail for it",
    334: "authentication challenge: the server waits for the next step",
    354: "go ahead: send the message, end with a line holding a single dot",
}


# The command a session step sends, as bounces and mail logs name it ("in reply to RCPT TO command").
STEP_COMMANDS: dict[str, str] = {
    "EHLO": "EHLO",
    "HELO": "HELO",
    "STARTTLS": "STARTTLS",
    "AUTH": "AUTH",
    "MAIL": "MAIL FROM",
    "RCPT": "RCPT TO",
    "DATA": "DATA",
    "DOT": "end of DATA",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a reply means, in short: enough for a transcript line and a JSON field."""

    summary: str  # one or two sentences in the chosen language
    reason: str  # Sisimai vocabulary ("userunknown", "mailboxfull", ...); "" for positive replies
    permanent: bool | None
    retry: str  # never | later | after-fix | n/a

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "reason": self.reason,
            "permanent": self.permanent,
            "retry": self.retry,
        }


def _fallback(reply: Reply, command: str | None) -> Explanation:
    cls = classify(reply.text, reply_code=reply.code, status=reply.enhanced, command=command)
    if reply.is_transient:
        summary = "temporary failure: the server asks to try again later"
    else:
        summary = "permanent failure: the server refused"
    if cls.reason != "undefined":
        summary += f" ({cls.reason})"
    return Explanation(summary=summary, reason=cls.reason, permanent=cls.permanent, retry=cls.retry)


def explain_reply(reply: Reply, *, command: str | None = None, lang: str | None = None) -> Explanation:
    """Explain one server reply; `command` is the step it answered (RCPT, DOT, ...)."""
    if reply.is_positive:
        return Explanation(
            summary=_POSITIVE.get(reply.code, "accepted"), reason="", permanent=None, retry="n/a"
        )
    from smtpdiag.explain import explain  # imported when first needed: it loads the knowledge base

    text = str(reply)
    said_to = STEP_COMMANDS.get(command or "")
    if said_to:
        text = f"{text} (in reply to {said_to} command)"  # the wording Postfix logs, which explain reads
    try:
        diagnosis = explain(text, lang)
    except Exception:  # the explanation layer must never break a delivery verdict
        return _fallback(reply, command)
    return Explanation(
        summary=diagnosis.summary or _fallback(reply, command).summary,
        reason=diagnosis.reason,
        permanent=diagnosis.permanent,
        retry=diagnosis.retry,
    )


def explain_text(text: str, *, lang: str | None = None) -> str | None:
    """Explain a failure that is not a reply (e.g. a malformed greeting); None when nothing is known."""
    from smtpdiag.explain import explain

    try:
        diagnosis = explain(text, lang)
    except Exception:
        return None
    return diagnosis.summary or None
