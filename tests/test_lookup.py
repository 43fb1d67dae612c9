"""Knowledge lookup: code normalisation, basic/enhanced/vendor lookup, listing filters; vendor recognition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.knowledge.lookup import (
    InvalidCodeError,
    all_entries,
    enhanced_chain,
    entry_class,
    list_codes,
    lookup,
    lookup_vendor,
    normalize_code,
    resolve_vendor,
    vendor_code_matcher,
)
from smtpdiag.vendors import recognize, vendor_from_host


@pytest.mark.parametrize(
    ("given", "kind", "code"),
    [
        ("550", "basic", "550"),
        (550, "basic", "550"),
        (" 421 ", "basic", "421"),
        ("5.7.1", "enhanced", "5.7.1"),
        ("x.7.1", "enhanced", "X.7.1"),
        ("5.x.x", "enhanced", "5.X.X"),
        ("X.7.X", "enhanced", "X.7.X"),
        ("5.07.001", "enhanced", "5.7.1"),
    ],
)
def test_normalize_code(given: str | int, kind: str, code: str) -> None:
    norm = normalize_code(given)
    assert (norm.kind, norm.code) == (kind, code)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty"),
        ("55", "exactly three digits"),
        ("5500", "exactly three digits"),
        ("650", "first digit"),
        ("5.7", "not an SMTP code"),
        ("3.1.1", "class 2, 4 or 5"),
        ("5.1234.1", "class 2, 4 or 5"),
        ("X.X.1", "needs a subject"),
        ("hello", "not an SMTP code"),
        ("5" * 100, "longer than"),
    ],
)
def test_normalize_code_rejects_non_codes(given: str, message: str) -> None:
    with pytest.raises(InvalidCodeError, match=message):
        normalize_code(given)


def test_basic_lookup_by_string_and_int() -> None:
    entry = lookup("550")
    assert entry is not None
    assert entry.kind == "basic"
    assert entry.code == "550"
    assert lookup(550) is entry
    assert entry.text("ru").title != entry.text("en").title


def test_enhanced_lookup_finds_the_class_independent_entry() -> None:
    entry = lookup("5.1.1")
    assert entry is not None
    assert entry.code == "X.1.1"
    assert lookup("4.1.1") is entry
    assert lookup("X.1.1") is entry


def test_class_and_subject_entries() -> None:
    cls = lookup("5.X.X")
    subject = lookup("X.1.X")
    assert cls is not None and cls.kind == "enhanced-class"
    assert subject is not None and subject.kind == "enhanced-subject"


def test_unknown_codes_give_none() -> None:
    assert lookup("599") is None
    assert lookup("5.1.999") is None


def test_enhanced_chain_goes_from_detail_to_class() -> None:
    chain = enhanced_chain("5.1.1")
    assert [e.code for e in chain] == ["X.1.1", "X.1.X", "5.X.X"]
    # an unregistered detail still gets its subject and class
    assert [e.code for e in enhanced_chain("4.1.999")] == ["X.1.X", "4.X.X"]
    assert enhanced_chain("garbage") == ()


def test_vendor_code_matcher_understands_ranges_lists_and_tags() -> None:
    from smtpdiag.knowledge.model import CodeEntry

    def entry(reply: str, enhanced: str) -> CodeEntry:
        return CodeEntry(
            code="x", kind="vendor", standing="non-standard", retry="n/a", references=(), texts={},
            reply_code=reply, enhanced_code=enhanced,
        )  # fmt: skip

    ranged = vendor_code_matcher(entry("451", "4.7.500-699"))
    assert ranged.matches_enhanced("4.7.650")
    assert not ranged.matches_enhanced("4.7.700")
    assert not ranged.matches_enhanced("5.7.650")
    listed = vendor_code_matcher(entry("", "5.4.6 / 5.4.14"))
    assert listed.matches_enhanced("5.4.14") and listed.matches_enhanced("5.4.6")
    either = vendor_code_matcher(entry("451 or 554", ""))
    assert either.matches_reply(554) and either.matches_reply("451") and not either.matches_reply(550)
    tag = vendor_code_matcher(entry("550", "SC-001"))
    assert tag.tags == frozenset({"SC-001"})
    assert not tag.has_enhanced


def test_lookup_vendor_by_vendor_and_code() -> None:
    gmail = lookup_vendor("gmail")
    assert gmail and all(e.vendor == "gmail" for e in gmail)
    assert lookup_vendor("Google Gmail") == gmail
    dmarc = lookup_vendor("gmail", "5.7.26")
    assert dmarc and all(vendor_code_matcher(e).matches_enhanced("5.7.26") for e in dmarc)
    assert lookup_vendor("no-such-vendor") == ()
    assert resolve_vendor("GMAIL") == "gmail"
    assert resolve_vendor("") is None


def test_list_codes_filters() -> None:
    everything = list_codes()
    assert len(everything) == len(all_entries())
    basic = list_codes(kind="basic")
    assert basic and all(e.kind == "basic" for e in basic)
    assert [e.code for e in basic] == sorted(e.code for e in basic)
    fours = list_codes(kind="basic", cls="4")
    assert fours and all(e.code.startswith("4") for e in fours)
    nonstandard = list_codes(standard=False)
    assert nonstandard and all(e.standing != "standard" for e in nonstandard)
    standard = list_codes(standard=True, kind="enhanced")
    assert standard and all(e.standing == "standard" and e.kind.startswith("enhanced") for e in standard)
    assert list_codes(vendor="gmail") == list(lookup_vendor("gmail"))
    assert list_codes(vendor="gmail", kind="basic") == []
    fives = list_codes(kind="enhanced", cls="5")
    assert all(entry_class(e) in ("5", None) for e in fives)
    assert any(e.code == "5.X.X" for e in fives) and not any(e.code == "4.X.X" for e in fives)


# --------------------------------------------------------------------------------------------
# vendor recognition


@pytest.mark.parametrize(
    ("host", "vendor"),
    [
        ("gmail-smtp-in.l.google.com", "gmail"),
        ("example-com.mail.protection.outlook.com", "microsoft"),
        ("mta5.am0.yahoodns.net", "yahoo"),
        ("mx01.mail.icloud.com.", "apple"),
        ("mx.yandex.ru", "yandex"),
        ("mxs.mail.ru", "mailru"),
        ("[mx.example.com]", None),
        ("notgoogle.com", None),
        (None, None),
    ],
)
def test_vendor_from_host(host: str | None, vendor: str | None) -> None:
    assert vendor_from_host(host) == vendor


def test_recognize_by_key_phrase_and_codes() -> None:
    match = recognize(
        "The email account that you tried to reach does not exist. Please try double-checking - gsmtp",
        reply_code=550,
        enhanced="5.1.1",
    )
    assert match is not None and match.entry is not None
    assert match.vendor == "gmail"
    assert match.entry.enhanced_code == "5.1.1"
    assert any("key phrase" in b for b in match.by)


def test_recognize_prefers_the_entry_whose_codes_agree() -> None:
    # the same phrase is listed under 450 4.2.1 and 550 5.2.1
    temp = recognize("rate that prevents additional messages - gsmtp", reply_code=450, enhanced="4.2.1")
    perm = recognize("rate that prevents additional messages - gsmtp", reply_code=550, enhanced="5.2.1")
    assert temp is not None and temp.entry is not None and temp.entry.enhanced_code == "4.2.1"
    assert perm is not None and perm.entry is not None and perm.entry.enhanced_code == "5.2.1"


def test_generic_phrase_alone_is_not_a_vendor_reply() -> None:
    # short generic phrases of vendor entries must not make any reply a vendor's
    assert recognize("Syntax error", reply_code=555) is None
    assert recognize("550 5.1.1 User unknown in local recipient table") is None


def test_host_context_gives_the_vendor_without_a_phrase() -> None:
    match = recognize("some new wording", reply_code=550, enhanced="5.7.1", host="mx.yandex.ru")
    assert match is not None
    assert match.vendor == "yandex"


def test_bracket_tag_identifies_the_reply_when_the_wording_differs() -> None:
    match = recognize(
        "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
        reply_code=421,
        enhanced="4.7.0",
    )
    assert match is not None and match.entry is not None
    assert match.vendor == "yahoo"
    assert "TSS04" in match.entry.key_phrase
    assert match.by[0] == "tag [TSS04]"


def test_a_mail_address_does_not_make_the_reply_a_providers() -> None:
    # the recipient is at Yandex, but nothing says Yandex's server wrote this reply
    assert recognize("<ivan@yandex.ru>: Recipient address rejected: User unknown", reply_code=550) is None
    assert recognize("User unknown", reply_code=550, host="mx.yandex.ru") is not None


def test_provider_specific_enhanced_code_found_by_code_with_context() -> None:
    match = recognize(
        "Access denied AS(7230) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]", enhanced="5.7.708"
    )
    assert match is not None and match.entry is not None
    assert match.vendor == "microsoft"
    assert match.entry.enhanced_code == "5.7.708"


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_lookup_raises_only_invalid_code_error(text: str) -> None:
    try:
        lookup(text)
    except InvalidCodeError:
        return


@given(
    st.text(max_size=500),
    st.one_of(st.none(), st.integers(200, 599)),
    st.one_of(st.none(), st.text(max_size=12)),
)
@settings(max_examples=300, deadline=None)
def test_recognize_never_raises(text: str, code: int | None, enhanced: str | None) -> None:
    recognize(text, reply_code=code, enhanced=enhanced, host=text[:40] or None)
