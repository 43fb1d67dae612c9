"""Which mail system wrote a bounce: one signature per system, as data.

Every system below writes either an RFC 3464 report or a plain-text layout that the generic
scanner reads (address, the remote server's words, the returned message); what differs is how
to recognise the writer, and, for some, a phrase that tells at which SMTP command the failure
happened. A recognised system's name goes into `BounceResult.format`, so users see "postfix",
"exim", "office365" ... rather than "rfc3464" or "generic".

Adding a mail system is adding one `System` entry. Matching is cheap: substring tests on the
From and Subject headers, the names of a few headers, and the first part of the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from smtpdiag.bounce.formats.base import Context

HEAD_CHARS: Final = 3000  # characters of the human text a signature is looked for in


@dataclass(frozen=True, slots=True)
class System:
    name: str
    text: tuple[str, ...] = ()  # lower-case phrases of the bounce's own text
    from_: tuple[str, ...] = ()  # lower-case fragments of the From header
    subject: tuple[str, ...] = ()  # lower-case fragments of the Subject header
    headers: tuple[str, ...] = ()  # header names whose presence identifies the system
    mailer: tuple[str, ...] = ()  # lower-case fragments of X-Mailer
    # (phrase, command): a phrase of this system's text that names the failing SMTP command
    commands: tuple[tuple[str, str], ...] = ()
    # (phrase, reason): a fixed message of this system whose meaning it documents or always has
    reasons: tuple[tuple[str, str], ...] = ()
    # True when the system states the reason once for the whole notice, in its own text (not in
    # each recipient's diagnostic): `reasons` are then looked for in the bounce's text too.
    reasons_in_text: bool = False


SYSTEMS: Final[tuple[System, ...]] = (
    System("amazonworkmail", mailer=("amazon workmail",)),
    System("amazonses", headers=("X-SES-Outgoing",), from_=("amazonses.com",)),
    System(
        "office365",
        headers=("X-MS-Exchange-Message-Is-Ndr",),
        from_=("microsoftexchange",),
        text=("office 365", ".prod.outlook.com"),
    ),
    System(
        "exchange",
        headers=("X-MS-Exchange-Organization-SCL", "X-MS-TNEF-Correlator", "X-MS-Embedded-Report"),
        text=("msexch:", "your message did not reach some or all of the intended recipients"),
        # Exchange 2000/2003 end an "MSEXCH:" line with an error code whose meaning is fixed.
        reasons=(
            ("(000c05a6)", "userunknown"),  # Unknown Recipient
            ("(000c0595)", "filtered"),  # Ambiguous Recipient
            ("(00010256)", "systemerror"),  # Too many recipients
            ("(000d06b5)", "systemerror"),  # No proxy for recipient
            ("(00120270)", "networkerror"),  # Too Many Hops
            ("(00050311)", "contenterror"),  # Conversion to Internet format failed
            ("(000502cc)", "contenterror"),  # Conversion to Internet format failed
            ("(000b0981)", "securityerror"),  # Server does not support AUTH
        ),
    ),
    System(
        "gmail",
        from_=("mailer-daemon@googlemail.com", "mailer-daemon@google.com"),
        text=(
            "delivery to the following recipient failed permanently",
            "technical details of permanent failure",
        ),
        # Google's own verdicts (no remote server involved).
        reasons=(
            ("because the address couldn't be found. check for typos", "userunknown"),
            ("null mx", "notaccept"),
        ),
    ),
    System("outlook", from_=("@outlook.com", "@hotmail.com", "@live.com")),
    System("yahoo", text=("sorry, we were unable to deliver your message to the following address",)),
    System("mailru", from_=("mail.ru",), text=("сервером mail.ru",)),
    System("yandex", from_=("yandex",), text=("yandex",)),
    System("zoho", headers=("X-ZohoMail",), from_=("zoho.com",)),
    System("gmx", from_=("gmx.", "web.de")),
    System("mcafee", headers=("X-NAI-Header",)),
    System("mimecast", headers=("X-MC-Unique",), from_=("mimecast",)),
    System(
        "imailserver",
        mailer=("<smtp32",),
        # IMail Server's fixed messages ("Unknown user: bob@example.com").
        reasons=(
            ("unknown host", "hostunknown"),
            ("unknown user", "userunknown"),
            ("invalid final delivery userid", "userunknown"),
            ("user mailbox exceeds allowed size", "mailboxfull"),
            ("requested action not taken: virus detected", "virusdetected"),
            ("delivery failed ", "expired"),
        ),
    ),
    System("mailfoundry", text=("delivery failed for the following reason: server",)),
    System("amavis", from_=('"content-filter at', "content-filter at")),
    System("barracuda", subject=("our bulk email filter",), headers=("X-Barracuda-Connect",)),
    System("interscanmss", from_=('"interscan mss"', '"interscan notification"', "interscan")),
    System("mailmarshal", subject=('undeliverable mail: "',)),
    System("powermta", text=("hello, this is the mail server on",)),
    System("surfcontrol", mailer=("surfcontrol",)),
    System("mfilter", mailer=("m-filter",)),
    System("bigfoot", from_=("@bigfoot.com",)),
    System("activehunter", headers=("X-AHMAILID",)),
    System("apachejames", subject=("[bounce]",), text=("james smtp server",)),
    System("mxlogic", headers=("X-MX-Bounce", "X-MXL-Hash", "X-MXL-NoteHash")),
    System("aol", headers=("X-AOL-IP",)),
    System("facebook", text=("this message was created automatically by facebook",)),
    System("sendgrid", from_=("sendgrid",), headers=("X-SendGrid-Eid",)),
    System("dragonfly", text=("dragonfly mail agent",)),
    System("opensmtpd", text=("this is the mailer-daemon, please do not reply",)),
    System("courier", from_=("courier mail server",), text=("this is a delivery status notification from",)),
    System(
        "qmail",
        text=("this is the qmail-send program", "qmail-send"),
        commands=(
            ("does not like recipient", "RCPT"),
            ("failed after i sent the message", "DATA"),
            ("but sender was rejected", "MAIL"),
        ),
    ),
    System(
        "messagingserver",
        from_=("pmdf",),
        text=("this report relates to a message you sent with the following header fields",),
    ),
    System(
        "notes",
        text=("------- failure reasons", "lotus notes", "domino"),
        # Lotus Notes' and Domino's fixed messages.
        reasons=(
            ("user not listed in public name & address book", "userunknown"),
            ("not listed in domino directory", "userunknown"),
            ("non répertorié dans l'annuaire domino", "userunknown"),
            # the Japanese Notes client's "not in the directory list" (Sisimai's own test label
            # says onhold there only because it fails to decode the text; we read it)
            ("ディレクトリのリストにありません", "userunknown"),
            ("cannot route mail to user", "filtered"),
            ("several matches found in domino directory", "systemerror"),
            ("message has exceeded maximum hop count", "networkerror"),
        ),
    ),
    System(
        "ezweb",
        from_=("ezweb.ne.jp",),
        # au (EZweb) heads its notice with the account's state; the reply quoted below it is
        # a generic "550 user unknown" whatever the state was.
        reasons=(
            ("the user(s) account is disabled.", "suspend"),
            ("the user(s) account is temporarily limited.", "suspend"),
            ("the user(s) account is temporarily over quota", "mailboxfull"),
            ("your message was not delivered within ", "expired"),
        ),
        reasons_in_text=True,
    ),
    System("kddi", from_=("dion.ne.jp", "au.com")),
    System(
        "verizon",
        from_=("vtext.com", "vzwpix.com"),
        # Verizon's SMS/MMS gateways say these only of a number that has no such subscriber.
        reasons=(
            ("requested action not taken: no such user here", "userunknown"),
            ("no valid recipients for this mm", "userunknown"),
        ),
    ),
    System("biglobe", from_=("biglobe.ne.jp",)),
    System(
        "exim",
        text=("this message was created automatically by mail delivery software",),
        headers=("X-Failed-Recipients",),
        commands=(
            ("after rcpt to", "RCPT"),
            ("after mail from", "MAIL"),
            ("after end of data", "DATA"),
            ("after initial connection", "CONN"),
        ),
    ),
    System(
        "postfix",
        text=("this is the mail system at host", "x-postfix"),
        subject=("undelivered mail returned to sender",),
    ),
    System(
        "sendmail",
        text=("----- transcript of session follows -----", "----- the following addresses had permanent"),
        subject=("returned mail:",),
    ),
)


# The signatures by kind, as (fragment, index of its system in SYSTEMS) in table order.
_Signatures = tuple[tuple[str, int], ...]


def _by_kind(kind: str) -> _Signatures:
    out: list[tuple[str, int]] = []
    for index, system in enumerate(SYSTEMS):
        fragments: tuple[str, ...] = getattr(system, kind)
        out.extend((f.lower() if kind == "headers" else f, index) for f in fragments)
    return tuple(out)


_HEADER_SYSTEM: Final[dict[str, int]] = {}
for _name, _index in _by_kind("headers"):
    _HEADER_SYSTEM.setdefault(_name, _index)
_HEADER_NAMES: Final = frozenset(_HEADER_SYSTEM)
_MAILERS: Final = _by_kind("mailer")
_FROMS: Final = _by_kind("from_")
_SUBJECTS: Final = _by_kind("subject")
_TEXTS: Final = _by_kind("text")


def _first_hit(signatures: _Signatures, value: str, bound: int) -> int:
    """The index of the first system before `bound` with a fragment in `value`, else `bound`."""
    for fragment, index in signatures:
        if index >= bound:
            break
        if fragment in value:
            return index
    return bound


def identify(ctx: Context) -> str:
    """The name of the mail system that wrote this bounce, "" when none is recognised.

    The first system of the table with any matching signature wins. The cheap signatures
    (header names, X-Mailer, From, Subject) are looked at first: the system they name bounds
    the search, and the phrases of the text (the costly part) are looked for only for the
    systems before it.
    """
    best = len(SYSTEMS)
    for name in ctx.header_names & _HEADER_NAMES:
        best = min(best, _HEADER_SYSTEM[name])
    mailer = ctx.header("X-Mailer").lower()
    if mailer:
        best = _first_hit(_MAILERS, mailer, best)
    best = _first_hit(_FROMS, ctx.from_lower, best)
    best = _first_hit(_SUBJECTS, ctx.subject_lower, best)
    if best > 0:
        best = _first_hit(_TEXTS, ctx.text_lower[:HEAD_CHARS], best)
    return SYSTEMS[best].name if best < len(SYSTEMS) else ""


BY_NAME: Final[dict[str, System]] = {s.name: s for s in SYSTEMS}


def command_hint(system: str, diagnostic: str) -> str:
    """The SMTP command a system-specific phrase of the diagnostic names, "" if none."""
    entry = BY_NAME.get(system)
    if entry is None or not entry.commands:
        return ""
    low = diagnostic.lower()
    for phrase, command in entry.commands:
        if phrase in low:
            return command
    return ""


def reason_hint(system: str, diagnostic: str, text_lower: str = "") -> str:
    """The reason a system-specific fixed message names, "" if none.

    The message is looked for in the diagnostic, and, for a system that states the reason once
    for the whole notice, in `text_lower` (the bounce's lower-cased text; its head is used).
    """
    entry = BY_NAME.get(system)
    if entry is None or not entry.reasons:
        return ""
    low = diagnostic.lower()
    if entry.reasons_in_text and text_lower:
        low = low + "\n" + text_lower[:HEAD_CHARS]
    for phrase, reason in entry.reasons:
        if phrase in low:
            return reason
    return ""
