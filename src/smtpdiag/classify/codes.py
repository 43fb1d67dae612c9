"""What the codes alone say: enhanced status code (RFC 3463 + IANA registry) -> bounce reason.

Only codes whose meaning points at one reason are listed; generic ones (X.0.0, X.3.0, X.4.0,
X.5.0, X.7.0, ...) are absent on purpose, so the text decides for them.
"""

from __future__ import annotations

import re
from typing import Final

# Exact enhanced status codes; the class digit is replaced by "X" when both classes agree.
STATUS_REASONS: Final[dict[str, str]] = {
    "5.1.0": "userunknown",  # "other address status": as a transient code it says nothing specific
    "X.1.1": "userunknown",
    "X.1.2": "hostunknown",
    "X.1.3": "userunknown",
    "X.1.4": "filtered",
    "X.1.6": "hasmoved",
    "X.1.7": "rejected",
    "X.1.8": "rejected",
    "X.1.9": "systemerror",
    "X.1.10": "notaccept",
    "4.2.1": "suspend",
    "5.2.0": "filtered",
    "5.2.1": "filtered",
    "X.2.2": "mailboxfull",
    "X.2.3": "exceedlimit",
    "X.2.4": "filtered",
    "X.3.1": "systemfull",
    "X.3.2": "notaccept",
    "X.3.3": "systemerror",
    "5.3.4": "mesgtoobig",
    "X.3.5": "systemerror",
    "4.4.1": "expired",
    "4.4.2": "networkerror",
    "5.4.3": "systemerror",
    "4.4.4": "networkerror",
    "5.4.4": "hostunknown",
    "4.4.5": "systemfull",
    "X.4.6": "networkerror",
    "X.4.7": "expired",
    "X.5.3": "systemerror",
    "X.5.4": "systemerror",
    "X.5.5": "systemerror",
    "X.6.0": "contenterror",
    "X.6.1": "contenterror",
    "X.6.2": "contenterror",
    "X.6.3": "contenterror",
    "X.6.5": "contenterror",
    "X.6.6": "contenterror",
    "X.6.7": "contenterror",
    "X.6.8": "contenterror",
    "X.6.9": "contenterror",
    "4.7.1": "blocked",
    "X.7.1": "securityerror",
    "X.7.2": "securityerror",
    "X.7.3": "securityerror",
    "X.7.4": "securityerror",
    "X.7.5": "securityerror",
    "X.7.6": "securityerror",
    "X.7.7": "securityerror",
    "X.7.8": "securityerror",
    "X.7.9": "securityerror",
    "X.7.10": "securityerror",
    "X.7.11": "securityerror",
    "X.7.12": "securityerror",
    "X.7.13": "suspend",
    "X.7.14": "securityerror",
    "X.7.15": "securityerror",
    "X.7.16": "mesgtoobig",
    "X.7.17": "hasmoved",
    "X.7.18": "hasmoved",
    "X.7.19": "securityerror",
    "X.7.20": "securityerror",
    "X.7.21": "securityerror",
    "X.7.22": "securityerror",
    "X.7.23": "securityerror",
    "X.7.24": "securityerror",
    "X.7.25": "requireptr",
    "X.7.26": "authfailure",
    "X.7.27": "notaccept",
    "X.7.28": "ratelimited",
    "X.7.29": "authfailure",
    "X.7.30": "securityerror",
}

# Codes that name the reason precisely enough to beat a vague text match.
SPECIFIC_STATUSES: Final[frozenset[str]] = frozenset(
    {
        "X.1.1",
        "X.1.2",
        "X.1.6",
        "X.1.10",
        "X.2.2",
        "X.2.3",
        "X.4.6",
        "5.3.4",
        "X.7.13",
        "X.7.16",
        "X.7.17",
        "X.7.18",
        "X.7.25",
        "X.7.26",
        "X.7.27",
    }
)

# "([245])(?<![\d.].)" is "(?<![\d.])([245])" written so that the regex engine only tries the
# positions of a 2, 4 or 5 (a regex that starts with a look-behind is tried at every position).
STATUS_RE: Final = re.compile(r"([245])(?<![\d.].)\.(\d{1,3})\.(\d{1,3})(?![\d.]?\d)")


# ASCII digits: a status already written "5.1.1" is returned as it is. (The regex's \d also takes
# other scripts' digits, which int() then turns into ASCII: those go through the regex.)
_DIGITS: Final = frozenset("0123456789")


def normalize_status(status: str | None) -> str:
    """'5.1.1' from ' 5.1.1 (bad address)', '' when there is no well-formed code."""
    if not status:
        return ""
    if (
        len(status) == 5
        and status[0] in "245"
        and status[1] == status[3] == "."
        and status[2] in _DIGITS
        and status[4] in _DIGITS
    ):
        return status  # already the normal form: what the regex would give back
    m = STATUS_RE.search(status[:64])
    if not m:
        return ""
    return f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}"


def _generic_key(status: str) -> str:
    return "X" + status[1:]


def status_reason(status: str) -> str | None:
    """The reason an enhanced status code names, or None when it is generic."""
    if not status:
        return None
    found = STATUS_REASONS.get(status) or STATUS_REASONS.get(_generic_key(status))
    if found is None and status[:4] == "5.1." and len(status) >= 7:
        return "userunknown"  # vendor-extended addressing codes (Microsoft's 5.1.351 ...)
    return found


def status_is_specific(status: str) -> bool:
    return bool(status) and (status in SPECIFIC_STATUSES or _generic_key(status) in SPECIFIC_STATUSES)


# Basic reply codes that name a reason on their own (most do not: 550 is used for everything).
# Used only when neither the text nor an enhanced status code says more.
REPLY_REASONS: Final[dict[int, str]] = {
    521: "notaccept",  # RFC 7504: the host does not accept mail
    525: "suspend",  # 525 5.7.13: user account disabled
    556: "notaccept",  # RFC 7504: the domain does not accept mail
    530: "securityerror",  # RFC 4954: authentication required
    534: "securityerror",  # RFC 4954: mechanism too weak
    535: "securityerror",  # RFC 4954: credentials invalid
    538: "failedstarttls",  # RFC 4954: encryption required for the mechanism
    523: "failedstarttls",  # encryption needed (RFC 5248 registry)
    524: "failedstarttls",
}
