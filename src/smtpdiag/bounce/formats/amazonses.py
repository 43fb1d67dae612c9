"""Amazon SES: JSON event notifications (Bounce, Complaint, Delivery), as mailed by SNS or directly.

SES also sends ordinary RFC 3464 bounces; those go to the rfc3464 module. This module reads the
JSON form: either the SES event itself or an SNS envelope whose "Message" holds it as a string.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from smtpdiag.bounce.fields import clean_diagnostic, find_address, find_reply_code, find_status, typed_value
from smtpdiag.bounce.formats.base import Context, Facts

NAME = "amazonses"
MAX_JSON_CHARS: Final = 512 * 1024

# SES bounce types/sub-types -> reason, when the diagnostic does not tell.
SUBTYPE_REASONS: Final[dict[str, str]] = {
    "suppressed": "suppressed",
    "onaccountsuppressionlist": "suppressed",
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "contenterror",
    "attachmentrejected": "securityerror",
    "noemail": "userunknown",
}


FIRST_VISIBLE_RE: Final = re.compile(r"\S")  # (\s: what str.lstrip strips)


def detect(ctx: Context) -> bool:
    # The text's first visible character is "{" (found without copying the text, as lstrip() did).
    text = ctx.text
    first = FIRST_VISIBLE_RE.search(text)
    return (
        first is not None and first.group() == "{" and text.find("notificationType", 0, MAX_JSON_CHARS) >= 0
    )


def _load_event(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:MAX_JSON_CHARS])
    except ValueError:
        # Mail transports fold long lines: join them and retry once.
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:MAX_JSON_CHARS].replace("\n", ""))
        except ValueError:
            return None
    if not isinstance(obj, dict):
        return None
    inner = obj.get("Message")
    if isinstance(inner, str) and "notificationType" in inner:
        try:
            obj = json.loads(inner)
        except ValueError:
            return None
    return obj if isinstance(obj, dict) and "notificationType" in obj else None


def parse(ctx: Context) -> list[Facts]:
    ev = _load_event(ctx.text)
    if ev is None:
        return []
    kind = str(ev.get("notificationType", "")).lower()
    out: list[Facts] = []
    if kind == "bounce":
        b = ev.get("bounce") or {}
        permanent = str(b.get("bounceType", "")).lower() == "permanent"
        subtype = str(b.get("bounceSubType", "")).lower()
        for r in b.get("bouncedRecipients") or []:
            if not isinstance(r, dict):
                continue
            dtype, diag = typed_value(str(r.get("diagnosticCode", "")))
            f = Facts(
                recipient=find_address(str(r.get("emailAddress", ""))),
                action=str(r.get("action", "")) or ("failed" if permanent else "delayed"),
                status=find_status(str(r.get("status", ""))),
                diagnostic=clean_diagnostic(diag),
                diagnostic_type=dtype,
                reporting_mta=typed_value(str(b.get("reportingMTA", "")))[1],
                date=str(b.get("timestamp", "")),
            )
            f.replycode = find_reply_code(f.diagnostic)
            if not f.diagnostic and subtype in SUBTYPE_REASONS:
                f.reason = SUBTYPE_REASONS[subtype]
            if f.recipient:
                out.append(f)
    elif kind == "complaint":
        c = ev.get("complaint") or {}
        ftype = str(c.get("complaintFeedbackType", "") or "abuse").lower()
        for r in c.get("complainedRecipients") or []:
            if isinstance(r, dict) and r.get("emailAddress"):
                out.append(
                    Facts(
                        recipient=find_address(str(r["emailAddress"])),
                        reason="feedback",
                        feedbacktype=ftype,
                        hardbounce=False,
                        date=str(c.get("timestamp", "")),
                    )
                )
    elif kind == "delivery":
        d = ev.get("delivery") or {}
        resp = str(d.get("smtpResponse", ""))
        for r in d.get("recipients") or []:
            out.append(
                Facts(
                    recipient=find_address(str(r)),
                    action="delivered",
                    reason="delivered",
                    hardbounce=False,
                    diagnostic=clean_diagnostic(resp),
                    status=find_status(resp),
                    replycode=find_reply_code(resp),
                    reporting_mta=str(d.get("reportingMTA", "")),
                    date=str(d.get("timestamp", "")),
                )
            )
    return out
