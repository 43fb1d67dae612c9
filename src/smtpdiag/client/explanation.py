"""The one place where the client asks for the explanation of a server reply.

`smtpdiag.explain.explain(text, lang)` gives the full diagnosis; when it is unavailable (or fails on
some input) the classifier alone still gives a reason and whether retrying helps, so the client
never loses its verdict because of the explanation layer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from smtpdiag.classify import classify
from smtpdiag.reply import Reply


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a reply means, in short: enough for a transcript line and a JSON field."""

    summary: str  # one or two sentences in the chosen language
    reason: str  # Sisimai vocabulary ("userunknown", "mailboxfull", ...), "undefined" when unknown
    permanent: bool | None
    retry: str  # never | later | after-fix | n/a

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "reason": self.reason,
            "permanent": self.permanent,
            "retry": self.retry,
        }


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


def _explain_module() -> Any | None:
    try:
        return importlib.import_module("smtpdiag.explain")
    except ImportError:
        return None


def _fallback(reply: Reply, command: str | None) -> Explanation:
    if reply.is_positive:
        summary = _POSITIVE.get(reply.code, "accepted")
        return Explanation(summary=summary, reason="", permanent=None, retry="n/a")
    cls = classify(reply.text, reply_code=reply.code, status=reply.enhanced, command=command)
    if reply.is_transient:
        summary = "temporary failure: the server asks to try again later"
    else:
        summary = "permanent failure: the server refused"
    if cls.reason != "undefined":
        summary += f" ({cls.reason})"
    return Explanation(summary=summary, reason=cls.reason, permanent=cls.permanent, retry=cls.retry)


def explain_reply(reply: Reply, *, command: str | None = None, lang: str | None = None) -> Explanation:
    """Explain one server reply; `command` is the SMTP command it answered (RCPT, DATA, ...)."""
    module = _explain_module()
    if module is not None and not reply.is_positive:
        text = str(reply)
        if command:
            text = f"{text} (in reply to {command} command)"
        try:
            diagnosis = module.explain(text, lang)
        except Exception:  # the explanation layer must never break a delivery verdict
            diagnosis = None
        if diagnosis is not None:
            fallback = _fallback(reply, command)
            summary = str(getattr(diagnosis, "summary", "") or fallback.summary)
            reason = str(getattr(diagnosis, "reason", "") or fallback.reason)
            permanent = getattr(diagnosis, "permanent", fallback.permanent)
            retry = str(getattr(diagnosis, "retry", "") or fallback.retry)
            return Explanation(
                summary=summary,
                reason=reason,
                permanent=permanent if isinstance(permanent, bool) else fallback.permanent,
                retry=retry,
            )
    return _fallback(reply, command)


def explain_text(text: str, *, lang: str | None = None) -> str | None:
    """Explain a non-reply failure text (e.g. a malformed greeting); None when no explainer exists."""
    module = _explain_module()
    if module is None:
        return None
    try:
        diagnosis = module.explain(text, lang)
    except Exception:
        return None
    summary = getattr(diagnosis, "summary", None)
    return str(summary) if summary else None
