"""The classifier: (reply code, enhanced status, text, vendor) -> reason, permanence, hard/soft, retry.

How the evidence is weighed (in this order):

1. A 2.X.X status means the message was delivered ("delivered").
2. A provider's known reply (vendor knowledge, when that data file is installed) names its reason;
   so does a provider's own error code ("AUP#I-1370", "OFR_416", "IB607": `providers.py`).
3. The text is matched against the per-reason phrase tables (`phrases.REASON_ORDER`).
4. The enhanced status code names a reason when it is not generic (`codes.STATUS_REASONS`).
5. Text and code are weighed: a specific code (5.1.1, 5.2.2, ...) beats a vague phrase; a specific
   phrase ("mailbox full") beats a code that says something else, and `conflict` says so.
6. Fallbacks: X.6.X -> contenterror, X.7.X -> securityerror, a failure at HELO/EHLO -> blocked,
   at MAIL -> rejected; some text but no evidence -> onhold; nothing at all -> undefined.

Permanence comes from the code's class digit unless the text clearly says the failure is
temporary ("try again later") or the reason itself is transient by nature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from smtpdiag.classify import phrases
from smtpdiag.classify.codes import (
    REPLY_REASONS,
    normalize_status,
    status_is_specific,
    status_reason,
)
from smtpdiag.classify.phraseindex import PhraseScanner
from smtpdiag.classify.providers import match_provider_code
from smtpdiag.vendors import VendorMatch, recognize_scanned, scan_vocabulary

# Hard bounce: the address itself is bad, suppress it (as Sisimai: notaccept only when permanent).
HARD_REASONS: Final[frozenset[str]] = frozenset({"userunknown", "hostunknown", "hasmoved"})
# Reasons a text match may give that are weaker than any specific enhanced status code.
WEAK_TEXT_REASONS: Final[frozenset[str]] = frozenset(
    {
        "rejected",
        "blocked",
        "securityerror",
        "systemerror",
        "networkerror",
        "expired",
        "contenterror",
        "syntaxerror",
        "mailererror",
        "onhold",
        "ratelimited",
        "spamdetected",
        "policyviolation",
    }
)
# Reasons whose codes are too broad to beat text (the code's reason yields to any text match).
VAGUE_CODE_REASONS: Final[frozenset[str]] = frozenset(
    {
        "securityerror",
        "systemerror",
        "filtered",
        "rejected",
        "blocked",
        "contenterror",
        "networkerror",
        "expired",
    }
)

# Temporary causes that, once the sending system gave up retrying, are reported as "expired".
GAVE_UP_OUTRANKS: Final[frozenset[str]] = frozenset(
    {"systemerror", "ratelimited", "blocked", "onhold", "undefined"}
)
GAVE_UP_PHRASES: Final = phrases.GAVE_UP_PHRASES

RETRY_BY_REASON: Final[dict[str, str]] = {
    "userunknown": "never",
    "hostunknown": "never",
    "hasmoved": "never",
    "notaccept": "never",
    "suspend": "after-fix",
    "mailboxfull": "later",
    "systemfull": "later",
    "expired": "later",
    "networkerror": "later",
    "ratelimited": "later",
    "systemerror": "later",
    "onhold": "later",
    "delivered": "n/a",
    "feedback": "n/a",
    "vacation": "n/a",
}

CONFLICT_TEXTS: Final[dict[str, str]] = {
    "permanent-code-temporary-text": (
        "The reply code says the failure is permanent, but the text says it is temporary "
        "({phrase!r}); it is treated as temporary, so a later retry may succeed."
    ),
    "temporary-code-permanent-reason": (
        "The reply code says the failure is temporary, but the text names a lasting problem "
        "({reason}); retrying will not help until that is fixed."
    ),
    "text-reason-overrides-code": (
        "The status code suggests {code_reason}, but the text says {reason} ({phrase!r}); "
        "the text is more specific, so it decides."
    ),
}


@dataclass(frozen=True, slots=True, init=False)
class Classification:
    reason: str  # Sisimai vocabulary: userunknown, mailboxfull, ... , undefined
    permanent: bool | None  # True 5xx-like, False 4xx-like, None unknown
    hardbounce: bool  # the address itself is bad: suppress it
    retry: str  # "never" | "later" | "after-fix" | "n/a"
    evidence: tuple[str, ...] = field(default=())  # why: which code/phrase decided
    conflict: str | None = None  # set when the code and the text disagree, saying how it was weighed
    vendor: str | None = None  # vendor id when the reply was recognised as a provider's
    conflict_key: str | None = None  # stable key of `conflict` (for translations)
    status: str = ""  # the normalised enhanced status code used ("" if none)
    vendor_match: VendorMatch | None = None  # the provider reading of the reply (smtpdiag.vendors)

    # A hand-written __init__ (init=False above): mypyc compiles it to native code, whereas the
    # one dataclasses generates stays interpreted (~16k instructions per call, measured). A frozen
    # class is set through object.__setattr__, as the generated __init__ does.
    def __init__(
        self,
        reason: str,
        permanent: bool | None,
        hardbounce: bool,
        retry: str,
        evidence: tuple[str, ...] = (),
        conflict: str | None = None,
        vendor: str | None = None,
        conflict_key: str | None = None,
        status: str = "",
        vendor_match: VendorMatch | None = None,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "reason", reason)
        setattr_(self, "permanent", permanent)
        setattr_(self, "hardbounce", hardbounce)
        setattr_(self, "retry", retry)
        setattr_(self, "evidence", evidence)
        setattr_(self, "conflict", conflict)
        setattr_(self, "vendor", vendor)
        setattr_(self, "conflict_key", conflict_key)
        setattr_(self, "status", status)
        setattr_(self, "vendor_match", vendor_match)

    def __reduce__(self) -> tuple[type[Classification], tuple[object, ...]]:
        # Pickled through the constructor: compiled by mypyc, a class with a hand-written
        # __init__ cannot be rebuilt the default way (its __new__ calls __init__ with no arguments).
        return (
            Classification,
            (
                self.reason,
                self.permanent,
                self.hardbounce,
                self.retry,
                self.evidence,
                self.conflict,
                self.vendor,
                self.conflict_key,
                self.status,
                self.vendor_match,
            ),
        )


# "550-5.7.1 " continuation prefixes of multi-line replies, which split phrases across lines.
# Each starts with its first character and only then looks behind it ("[245](?<![\w.].)" is
# "(?<![\w.])[245]"): a regex that starts with a character class is tried only where that
# character is, one that starts with a look-behind at every position of the text.
CONTINUATION_RE: Final = re.compile(r"[245](?<![\w.].)\d\d-(?:[245]\.\d{1,3}\.\d{1,3} ?)?")
FINAL_LINE_RE: Final = re.compile(r"([245](?<![\w.].)\d\d [245]\.\d{1,3}\.\d{1,3}) ")
MAX_TEXT: Final = 4096  # characters of text weighed; diagnostics are short, hostile input is not


def _norm_text(text: str) -> str:
    low = " ".join(text[:MAX_TEXT].lower().split())
    if "-" in low and CONTINUATION_RE.search(low):
        low = CONTINUATION_RE.sub("", low)
        first = FINAL_LINE_RE.search(low)
        if first:  # the code is known separately; its repeats only split phrases
            low = low.replace(first.group(1) + " ", "")
    return low


# A specific status code yields to these text findings (the text names the problem more precisely).
YIELDS_TO_TEXT: Final[dict[str, frozenset[str]]] = {
    "userunknown": frozenset(
        {
            "norelaying",
            "blocked",
            "requireptr",
            "badreputation",
            "mailboxfull",
            "hasmoved",
            "rejected",
            "notaccept",
            "suspend",
            "authfailure",
            "spamdetected",
            "policyviolation",
            "ratelimited",
            "filtered",
        }
    ),
    "hostunknown": frozenset({"networkerror", "notaccept"}),
    "notaccept": frozenset({"userunknown"}),
    "filtered": frozenset(
        {
            "mailboxfull",
            "suspend",
            "norelaying",
            "blocked",
            "requireptr",
            "spamdetected",
            "policyviolation",
            "rejected",
            "hostunknown",
            "authfailure",
            "virusdetected",
            "badreputation",
            "ratelimited",
        }
    ),
}
ALWAYS_WINS: Final[frozenset[str]] = frozenset({"mailboxfull", "suspend"})


def _weigh(
    low: str, found: set[str], st: str, code_reason: str | None, cls: str, cmd: str, in_bounce: bool
) -> tuple[str, str, str | None, dict[str, str]]:
    """(reason, evidence, conflict_key, conflict_args) from the text and the status code.

    `found` is what the scan of `low` found (`_scanner`)."""
    strong = phrases.match_reason(low, found) if low else None
    specific = status_is_specific(st)
    reason, why = "", ""
    key: str | None = None
    args: dict[str, str] = {}
    if strong and code_reason == "expired" and strong[0] != "expired":
        # The queue gave up (X.4.7): when the text says so too, or only shows that the last attempt
        # was refused ("Connection refused by ..."), the expiry is the verdict.
        # A network error (a failed DNS lookup, no route) stays the verdict: it says what to fix.
        gave_up = phrases.EXPIRED.find(low)
        if strong[0] in ("blocked", "rejected") or (
            gave_up and strong[0] not in ("networkerror", "hostunknown")
        ):
            strong = ("expired", gave_up or strong[1])
    if strong:
        t, phrase = strong
        if code_reason and t != code_reason and (specific or code_reason not in VAGUE_CODE_REASONS):
            yields = YIELDS_TO_TEXT.get(code_reason, frozenset())
            if t in yields or (t in ALWAYS_WINS and code_reason not in ("exceedlimit", "mesgtoobig")):
                reason, why = t, f"text {phrase!r}"
                key, args = "text-reason-overrides-code", {"code_reason": code_reason, "phrase": phrase}
            else:
                reason, why = code_reason, f"status {st}"
        else:
            reason, why = t, f"text {phrase!r}"
    else:
        weak = phrases.match_weak(low, found) if low else None
        vague = code_reason in VAGUE_CODE_REASONS and code_reason != "expired"
        # A bare "rejected"/"denied" says less than an X.7.X security code, unless the refusal was of
        # the sender (MAIL FROM), where it means the sender was rejected.
        if weak and weak[0] == "rejected" and code_reason == "securityerror" and cmd != "MAIL":
            vague = False
        if weak and weak[0] == "rejected" and st[2:4] in ("6.", "7.") and cmd != "MAIL":
            # Nor does it beat a media (X.6.X) or security (X.7.X) class code, even a generic one:
            # "Recipient address rejected: ..." with 5.6.0 is a content error (Sisimai's reading).
            weak = None
        if weak and (not code_reason or (vague and not specific)):
            reason, why = weak[0], f"text {weak[1]!r}"
        elif code_reason:
            reason, why = code_reason, f"status {st}"
    # The command a refusal answered says whose problem it is.
    if cmd == "MAIL" and reason in ("userunknown", "hostunknown", "filtered", ""):
        reason, why = "rejected", (why + "; " if why else "") + "refused at MAIL FROM: the sender"
    elif cmd in ("CONN", "HELO", "EHLO", "MAIL", "RCPT") and reason == "spamdetected" and not specific:
        # Before DATA the server has seen no content: "spam" there judges the sending host.
        reason, why = "blocked", why + f"; refused at {cmd}, before any content was sent"
    elif cmd in ("CONN", "HELO", "EHLO") and reason in ("rejected", ""):
        reason, why = "blocked", (why + "; " if why else "") + f"refused at {cmd}: the sending host"
    # In a bounce, "user unknown" whose command is not known to be RCPT (and whose status is not
    # X.1.1) is taken as said after DATA, by a filter (Sisimai's convention). A mail system's own
    # fixed verdicts are read by its format module before the classifier is asked.
    after_rcpt = code_reason == "filtered" or cmd == "DATA" or (in_bounce and not cmd)
    if reason == "userunknown" and code_reason != "userunknown" and cmd != "RCPT" and after_rcpt:
        # Refused after the recipient was accepted (or with a mailbox-status code): a filter.
        reason, why = "filtered", why + "; not refused at RCPT"
    if reason == "hostunknown" and cls == "4":
        reason, why = "networkerror", why + "; transient (4xx) lookup failure"
    return reason, why, key, args


@cache
def _scanner() -> PhraseScanner:
    """One scanner for everything classify looks for in a text: the phrase tables' phrases and
    what the vendor recogniser looks for (its context needles and key phrases)."""
    return PhraseScanner([*phrases.vocabulary(), *scan_vocabulary()], cache_name="classifier-scanner")


def _class_digit(status: str, reply_code: int | None) -> str:
    if status:
        return status[0]
    if reply_code and 200 <= reply_code <= 599:
        return str(reply_code)[0]
    return ""


def classify(
    text: str = "",
    *,
    reply_code: int | None = None,
    status: str | None = None,
    command: str | None = None,
    vendor: str | None = None,
    host: str | None = None,
    diagnostic_type: str | None = None,
    in_bounce: bool = False,
) -> Classification:
    """Classify one SMTP failure. Never raises on odd input; unknown -> reason "undefined".

    `diagnostic_type` is a DSN's Diagnostic-Code type ("smtp", "x-unix", ...); "user unknown" said
    after DATA, or with a mailbox-status code (X.2.X), is reported as "filtered": the recipient
    was accepted, then refused, typically by a filter (Sisimai's convention). `in_bounce` says the
    text comes from a bounce: there a refusal not known to be at RCPT counts as after DATA.
    """
    st = normalize_status(status)
    low = _norm_text(text or "")
    cls = _class_digit(st, reply_code)
    cmd = (command or "").upper()
    evidence: list[str] = []
    conflict_key: str | None = None
    conflict_args: dict[str, str] = {}

    # Every phrase asked about below (by the vendor recogniser too), found in one scan of the text.
    found = _scanner().found(low) if low else set()
    vend = (
        recognize_scanned(low, found, reply_code=reply_code, enhanced=st, host=host, vendor=vendor)
        if low
        else None
    )
    if cls == "2":
        return Classification(
            "delivered", None, False, "n/a", (f"status {st or reply_code}",), status=st, vendor_match=vend
        )

    reason = ""
    vendor_id = vend.vendor if vend is not None else vendor
    if vend is not None and vend.entry is not None and vend.reason:
        reason = vend.reason
        evidence.append(f"{vend.vendor} reply ({'; '.join(vend.by)})")

    if not reason and low:
        pc = match_provider_code(low)
        if pc is not None:
            reason, vendor_id = pc.reason, vendor_id or pc.provider
            evidence.append(f"{pc.provider} code {pc.code!r}")

    code_reason = status_reason(st)
    if not reason and (diagnostic_type or "").lower() in ("x-unix", "x-local"):
        strong = phrases.match_reason(low, found) if low else None
        if strong is None or strong[0] in WEAK_TEXT_REASONS:
            reason = "mailererror"  # a local delivery program failed
            evidence.append(f"diagnostic type {diagnostic_type}")
    if not reason:
        reason, why, conflict_key, conflict_args = _weigh(low, found, st, code_reason, cls, cmd, in_bounce)
        if why:
            evidence.append(why)

    if not reason:
        if st[2:4] == "6.":
            reason = "contenterror"
        elif st[2:] == "3.0":
            reason = "systemerror"
        elif st[2:4] == "7.":
            reason = "securityerror"
        elif cmd == "STARTTLS":
            reason = "failedstarttls"
        elif cmd in ("HELO", "EHLO", "CONN"):
            reason = "blocked"
        elif reply_code in REPLY_REASONS:
            reason = REPLY_REASONS[reply_code]
        elif reply_code and reply_code // 100 in (4, 5) and reply_code % 100 in (0, 2, 3, 4):
            reason = "syntaxerror"  # 500/502-504: the peer did not understand our command
        elif low and phrases.VACATION.find(low):
            reason = "vacation"
        elif low or st or reply_code:
            reason = "onhold"
        else:
            reason = "undefined"
        evidence.append(f"fallback ({reason})")

    if reason in GAVE_UP_OUTRANKS and cls != "5" and low:
        gave_up = phrases.first_found(GAVE_UP_PHRASES, found)
        if gave_up:
            # A temporary condition that lasted until the retry period ended: the message expired.
            evidence.append(f"text {gave_up!r}: retried until the queue gave up")
            reason = "expired"

    permanent: bool | None = None
    if cls in ("4", "5"):
        permanent = cls == "5"
    temp_phrase = phrases.temporary_phrase(found)
    if permanent and temp_phrase and reason not in HARD_REASONS:
        permanent = False
        conflict_key = conflict_key or "permanent-code-temporary-text"
        conflict_args.setdefault("phrase", temp_phrase)
    elif permanent is False and reason in HARD_REASONS:
        conflict_key = conflict_key or "temporary-code-permanent-reason"
        conflict_args.setdefault("reason", reason)

    hard = reason in HARD_REASONS or (reason == "notaccept" and cls != "4")
    retry = RETRY_BY_REASON.get(reason)
    if retry is None:
        retry = "later" if permanent is False else ("after-fix" if permanent else "n/a")
    conflict = None
    if conflict_key:
        args = {"code_reason": "", "reason": reason, "phrase": "", **conflict_args}
        conflict = CONFLICT_TEXTS[conflict_key].format(**args)
    return Classification(
        reason=reason,
        permanent=permanent,
        hardbounce=hard,
        retry=retry,
        evidence=tuple(evidence),
        conflict=conflict,
        vendor=vendor_id,
        conflict_key=conflict_key,
        status=st,
        vendor_match=vend,
    )
