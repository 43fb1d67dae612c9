"""smtpdiag.vendors: the one provider recogniser, shared by the classifier, bounce analysis and explain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from smtpdiag import vendors
from smtpdiag.bounce import analyze
from smtpdiag.classify import classify
from smtpdiag.explain import explain
from smtpdiag.knowledge import load_entries
from smtpdiag.knowledge.model import CodeEntry
from smtpdiag.vendors import recognize, vendor_from_host, vendor_hint

YAHOO_TSS04 = (
    "421 4.7.0 [TSS04] Messages from 192.0.2.192 temporarily deferred due to unexpected volume or user "
    "complaints"
)


def _sample(entry: CodeEntry) -> tuple[str, int | None, str | None]:
    """A reply built from the entry itself: its first reply code, first enhanced code and phrase."""
    codes = re.findall(r"[2-5][0-9]{2}", entry.reply_code)
    reply = int(codes[0]) if codes else None
    m = re.match(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}", entry.enhanced_code)
    enhanced = m.group(0) if m else None
    phrase = entry.key_phrase.replace("[IP]", "[192.0.2.1]").replace("...", "for <a@example.org>:")
    head = " ".join(str(x) for x in (reply, enhanced) if x)
    return f"{head} {phrase}".strip(), reply, enhanced


def test_yahoo_tag_with_text_between_tag_and_phrase() -> None:
    match = recognize(YAHOO_TSS04, reply_code=421, enhanced="4.7.0")
    assert match is not None and match.entry is not None
    assert match.vendor == "yahoo"
    assert match.entry.key_phrase.startswith("[TSS04]")
    assert match.by[0] == "tag [TSS04]"


def test_classifier_and_explain_use_the_same_entry() -> None:
    c = classify(YAHOO_TSS04, reply_code=421, status="4.7.0")
    assert c.vendor_match is not None and c.vendor_match.entry is not None
    entry = c.vendor_match.entry
    assert c.vendor == "yahoo"
    assert c.reason == entry.reason  # the reason comes from the entry the recogniser found
    d = explain(YAHOO_TSS04, "en")
    assert d.vendor == "yahoo"
    assert d.reason == entry.reason
    assert d.entries and d.entries[0].title == entry.text("en").title


@pytest.mark.parametrize("entry", load_entries("vendor"), ids=lambda e: f"{e.vendor}-{e.key_phrase[:30]}")
def test_every_vendor_entry_is_recognised_from_its_own_reply(entry: CodeEntry) -> None:
    text, reply, enhanced = _sample(entry)
    match = recognize(text, reply_code=reply, enhanced=enhanced, vendor=entry.vendor)
    assert match is not None and match.entry is not None, text
    assert match.vendor == entry.vendor
    # another entry may share the phrase and codes; it must then mean the same
    assert match.entry.reason == entry.reason or match.entry.key_phrase != entry.key_phrase, text
    if entry.reason:
        c = classify(text, reply_code=reply, status=enhanced, vendor=entry.vendor)
        assert c.vendor_match == match
        assert c.reason == match.entry.reason, (text, c.evidence)


@pytest.mark.parametrize(
    ("text", "code", "enhanced"),
    [
        # Postfix's own words, also listed for Yandex ("Client host [IP] blocked using")
        ("554 5.7.1 Client host rejected: blocked using zen.spamhaus.org", 554, "5.7.1"),
        # RFC 3463's name of X.1.1, also listed for Microsoft
        ("550 5.1.1 <a@example.org>: Bad destination mailbox address", 550, "5.1.1"),
        # listed for Microsoft and for Apple
        ("554 5.7.1 <a@example.org>: Relay access denied", 554, "5.7.1"),
        # the system's EAGAIN message, listed for Yahoo
        ("451 Resources temporarily unavailable. Please try again later", 451, None),
    ],
)
def test_generic_wording_needs_context(text: str, code: int, enhanced: str | None) -> None:
    assert recognize(text, reply_code=code, enhanced=enhanced) is None


def test_generic_wording_counts_with_context() -> None:
    text = "554 5.7.1 Client host [192.0.2.1] blocked using Spamhaus"
    match = recognize(text, reply_code=554, enhanced="5.7.1", host="mx.yandex.ru")
    assert match is not None and match.entry is not None
    assert match.vendor == "yandex" and match.entry.reason == "blocked"
    assert 'host "mx.yandex.ru"' in match.by


def test_contradicting_codes_reject_an_entry_without_context() -> None:
    # Microsoft lists this Postfix wording under 550 5.4.1 and 5.7.504, not under 5.7.1
    text = "554 5.7.1 <a@example.org>: Recipient address rejected: Access denied"
    assert recognize(text, reply_code=554, enhanced="5.7.1") is None
    c = classify(text, reply_code=554, status="5.7.1")
    assert c.vendor is None and c.vendor_match is None


def test_codes_choose_between_entries_of_the_same_phrase() -> None:
    text = "Recipient address rejected: Access denied [x.prod.protection.outlook.com]"
    a = recognize(text, reply_code=550, enhanced="5.4.1")
    b = recognize(text, enhanced="5.7.504")
    assert a is not None and a.entry is not None and a.entry.enhanced_code == "5.4.1"
    assert b is not None and b.entry is not None and b.entry.enhanced_code == "5.7.504"


def test_generic_enhanced_code_does_not_contradict() -> None:
    # a DSN's synthesised X.0.0 says nothing against the provider's own 5.1.1 entry
    text = "The email account that you tried to reach does not exist."
    match = recognize(text, enhanced="5.0.0")
    assert match is not None and match.entry is not None and match.entry.reason == "userunknown"


def test_a_registered_code_alone_does_not_pick_a_vendor_entry() -> None:
    # iCloud lists 550 5.1.1 for "inactive email address"; a plain unknown user there is not that
    match = recognize(
        "550 5.1.1 <a@icloud.com>: user does not exist",
        reply_code=550,
        enhanced="5.1.1",
        host="mx01.mail.icloud.com",
    )
    assert match is not None and match.vendor == "apple"
    assert match.entry is None
    c = classify(
        "550 5.1.1 <a@icloud.com>: user does not exist",
        reply_code=550,
        status="5.1.1",
        host="mx01.mail.icloud.com",
    )
    assert c.reason == "userunknown" and c.vendor == "apple"


def test_an_unregistered_vendor_code_is_found_by_code_with_context() -> None:
    match = recognize(
        "Access denied AS(7230) [DM6NAM12FT034.prod.protection.outlook.com]", enhanced="5.7.708"
    )
    assert match is not None and match.entry is not None and match.entry.enhanced_code == "5.7.708"
    assert match.by[0] == "code 5.7.708"


def test_known_provider_is_evidence() -> None:
    match = recognize(
        "550 Requested action not taken: mailbox unavailable", reply_code=550, vendor="microsoft"
    )
    assert match is not None and match.entry is not None and match.entry.reason == "userunknown"
    assert match.by == ('key phrase "mailbox unavailable"', "known provider Microsoft 365 / Exchange Online")
    # without it the generic 550 wording is nobody's
    assert recognize("550 Requested action not taken: mailbox unavailable", reply_code=550) is None


def test_an_unknown_provider_id_is_ignored() -> None:
    assert recognize("550 Requested action not taken: mailbox unavailable", vendor="nosuch") is None


def test_signature_words_inside_addresses_are_not_context() -> None:
    assert recognize("550 5.1.1 <someone@gmail.com>: Syntax error", reply_code=550) is None
    assert recognize("555 5.5.2 Syntax error - gsmtp", reply_code=555, enhanced="5.5.2") is not None


@pytest.mark.parametrize(
    ("names", "vendor"),
    [
        ("dns; gmail-smtp-in.l.google.com", "gmail"),
        ("mx1.example.org gmail.com", "gmail"),
        ("hotmail.fr", "microsoft"),
        ("dns; mx.example.org example.onmicrosoft.com", "microsoft"),
        ("yahoo.co.uk", "yahoo"),
        ("mxs.mail.ru", "mailru"),
        ("dns; mx.example.org example.org", None),
        ("notgoogle.com", None),
        ("", None),
    ],
)
def test_vendor_hint(names: str, vendor: str | None) -> None:
    assert vendor_hint(names) == vendor


def test_brand_label_under_a_country_domain() -> None:
    assert vendor_from_host("mx.hotmail.co.uk") == "microsoft"
    assert vendor_from_host("yandex.ua") == "yandex"
    assert vendor_from_host("gmail") is None  # a bare label is a top-level name, not a provider


def test_bounce_analysis_reports_the_recognised_entry_reason() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: sender@example.org\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; someone@yahoo.com\r\nAction: delayed\r\nStatus: 4.7.0\r\n"
        "Remote-MTA: dns; mta5.am0.yahoodns.net\r\n"
        f"Diagnostic-Code: smtp; {YAHOO_TSS04}\r\n--B--\r\n"
    ).encode()
    (result,) = analyze(raw)
    entry = recognize(YAHOO_TSS04, reply_code=421, enhanced="4.7.0")
    assert entry is not None and entry.entry is not None
    assert result.reason == entry.entry.reason


def test_hostile_text_is_fast() -> None:
    text = "550 " + "[TSS04] gsmtp a" * 100_000 + " x@y.z " * 10_000
    t0 = time.perf_counter()
    recognize(text, reply_code=550, enhanced="5.7.1", host="a." * 200)
    assert time.perf_counter() - t0 < 2.0


def test_equal_readings_are_decided_by_data_order_not_by_hash_seed() -> None:
    # two Gmail 421 phrases of the same length, indexed under different words: equal scores
    script = (
        "from smtpdiag.vendors import recognize\n"
        "t = '421 not using a TLS connection; does not have a PTR record - gsmtp'\n"
        "m = recognize(t, reply_code=421)\n"
        "print(m.entry.enhanced_code if m and m.entry else None)\n"
    )
    seen = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        seen.add(out.stdout.strip())
    assert seen == {"4.7.0"}  # "does not have a PTR record" comes first in the data


def _scanned_texts() -> list[str]:
    """Corpus lines and whole messages, lower-cased with whitespace collapsed, plus vendor samples."""
    texts: list[str] = []
    corpus = Path(__file__).parent / "data" / "bounces" / "emails"
    for path in sorted(corpus.glob("*.eml")):
        raw = path.read_bytes().decode("utf-8", "replace").lower()
        texts.extend(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        texts.append(" ".join(raw.split())[:4000])
    for entry in load_entries("vendor"):
        text = " ".join(_sample(entry)[0].lower().split())
        texts += [text, f"{text} <bob@gmail.com>", f"x{text}y", f"mx.yandex.ru said: {text}"]
    return texts


def test_recognize_scanned_is_recognize() -> None:
    """The classifier's shortcut (one scan for both) reads every text as recognize does."""
    from smtpdiag.classify.core import _scanner

    scanner = _scanner()
    for i, text in enumerate(_scanned_texts()):
        found = scanner.found(text)
        reply, enhanced = (550, "5.7.1") if i % 3 == 0 else ((421, "4.7.0") if i % 3 == 1 else (None, None))
        for vendor, host in ((None, None), ("gmail", None), (None, "mx.yandex.ru"), ("microsoft", "x.y")):
            kw: dict[str, Any] = {"reply_code": reply, "enhanced": enhanced, "vendor": vendor, "host": host}
            assert vendors.recognize_scanned(text, found, **kw) == recognize(text, **kw), (text, kw)
    # a text recognize would collapse first is read the ordinary way
    assert vendors.recognize_scanned("  Gmail  x", set()) == recognize("  Gmail  x")


def _vendor_from_host_reference(host: str | None) -> str | None:
    """vendor_from_host as first written: every suffix of the name tried, then its labels."""
    if not host:
        return None
    name = host.strip().strip("[]").rstrip(".").lower()[:255]
    pos = 0
    while True:
        vendor = vendors._SUFFIX_VENDOR.get(name[pos:])
        if vendor is not None:
            return vendor
        pos = name.find(".", pos) + 1
        if pos <= 0:
            break
    labels = name.split(".")[:-1]
    return next((vendors.BRAND_LABELS[label] for label in labels if label in vendors.BRAND_LABELS), None)


def test_vendor_from_host_matches_the_reference() -> None:
    import itertools

    pieces = ["", "mx", "com", "ru", "jp", "co", "mail", "yahoo", "gmail", "google", "x-1", "yandex", "org"]
    pieces += [s for suffixes in vendors.HOST_SUFFIXES.values() for s in suffixes]
    for a, b, c in itertools.product(pieces, repeat=3):
        for host in (f"{a}.{b}.{c}", f"{a}.{b}", f"{b}{c}", f"[{a}.{c}.]", f" {a}.{b}.{c}. ".upper()):
            assert vendor_from_host(host) == _vendor_from_host_reference(host), host
    for names in ("dns; mx.example.org", "gmail-smtp-in.l.google.com x.org", "[192.0.2.1] yandex.ua"):
        assert vendor_hint(names) == next(
            (
                v
                for t in vendors._HOST_TOKEN_RE.findall(names.lower())
                if (v := _vendor_from_host_reference(t))
            ),
            None,
        )
