"""Reply parsing: the strict RFC 5321 §4.2 / RFC 2034 parser and the lenient extractor."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpdiag.parse import (
    MAX_INPUT_CHARS,
    MAX_REPLIES,
    Extracted,
    ReplyParseError,
    detect_protocol_failure,
    extract,
    normalize_command,
    parse_reply,
    primary,
)
from smtpdiag.reply import Reply

# --------------------------------------------------------------------------------------------
# strict parser


def test_single_line_with_enhanced_code() -> None:
    reply = parse_reply(b"550 5.1.1 <a@example.com>: Recipient address rejected\r\n")
    assert reply == Reply(550, ("<a@example.com>: Recipient address rejected",), "5.1.1")


def test_multi_line_reply_keeps_every_line_and_the_enhanced_code() -> None:
    data = (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
        "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
        "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp\r\n"
    )
    reply = parse_reply(data)
    assert reply.code == 550
    assert reply.enhanced == "5.1.1"
    assert len(reply.lines) == 3
    assert reply.lines[1].startswith("double-checking")
    assert reply.to_wire().decode() == data


def test_ehlo_reply_without_enhanced_codes() -> None:
    reply = parse_reply("250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n")
    assert reply.code == 250
    assert reply.enhanced is None
    assert reply.lines == ("mx.example.com Hello", "PIPELINING", "SIZE 1000", "SMTPUTF8")


def test_code_alone_and_empty_continuation_lines_are_valid() -> None:
    assert parse_reply("354\r\n") == Reply(354, ("",), None)
    assert parse_reply("250-\r\n250 OK\r\n").lines == ("", "OK")


def test_bare_lf_line_endings_are_accepted() -> None:
    assert parse_reply("421-4.7.0 busy\n421 4.7.0 try later\n").enhanced == "4.7.0"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty reply"),
        ("\r\n", "line 1: line does not start with a three-digit reply code"),
        ("hello\r\n", "does not start with a three-digit reply code"),
        ("55 short\r\n", "does not start with a three-digit reply code"),
        ("550_5.1.1 x\r\n", "expected a space, '-' or the line end"),
        ("650 nope\r\n", "first digit must be 2, 3, 4 or 5"),
        ("270 nope\r\n", "second digit must be 0 to 5"),
        ("250-first\r\n251 second\r\n", "line 2: code 251 differs from 250"),
        ("250-first\r\n", "the last line has '250-'"),
        ("250 first\r\n250 second\r\n", "line 1: '250 ' ends the reply, but 1 more line(s) follow"),
        ("550-5.1.1 a\r\n550 b\r\n", "line 2: enhanced status code 5.1.1 missing"),
        ("550-5.1.1 a\r\n550 5.1.2 b\r\n", "line 2: enhanced status code 5.1.2 differs from 5.1.1"),
        ("550 3.1.1 bad class\r\n", "class 3: must be 2, 4 or 5"),
        ("550 5.01.1 zero\r\n", "no leading zeros"),
        ("450 5.7.1 mismatch\r\n", "5.7.1 does not match reply code 450 (class must be 4)"),
        ("250 OK\rinjected\r\n", "bare CR inside a reply line"),
    ],
)
def test_malformed_replies_raise_a_precise_error(data: str, message: str) -> None:
    with pytest.raises(ReplyParseError) as info:
        parse_reply(data)
    assert message in str(info.value)


def test_error_carries_the_line_number() -> None:
    with pytest.raises(ReplyParseError) as info:
        parse_reply("250-a\r\n250-b\r\n251 c\r\n")
    assert info.value.line == 3


def test_lenient_enhanced_mode_accepts_provider_quirks() -> None:
    # Gmail publishes "421 5.7.32"; the strict reading refuses it, the lenient one keeps it
    with pytest.raises(ReplyParseError):
        parse_reply("421 5.7.32 not aligned\r\n")
    assert parse_reply("421 5.7.32 not aligned\r\n", strict_enhanced=False).enhanced == "5.7.32"
    reply = parse_reply("550-5.1.1 a\r\n550 b\r\n", strict_enhanced=False)
    assert reply.enhanced == "5.1.1"
    assert reply.lines == ("a", "b")


def test_limits_are_enforced() -> None:
    with pytest.raises(ReplyParseError, match="longer than"):
        parse_reply("250 " + "x" * 5000 + "\r\n")
    with pytest.raises(ReplyParseError, match="more than"):
        parse_reply("250-x\r\n" * 200 + "250 x\r\n")


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_strict_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        reply = parse_reply(data)
    except ReplyParseError:
        return
    assert 200 <= reply.code <= 559


# --------------------------------------------------------------------------------------------
# lenient extraction, one source format at a time


def only(text: str) -> Extracted:
    items = extract(text)
    assert len(items) == 1, items
    return items[0]


def test_plain_reply_pasted_by_a_human() -> None:
    item = only(
        "550 5.7.1 This message is rejected by our SPAM filters. Please refer https://x.example/ for more"
    )
    assert (item.reply_code, item.enhanced) == (550, "5.7.1")
    assert item.text.startswith("This message is rejected by our SPAM filters")


def test_quoted_error_with_trailing_punctuation() -> None:
    item = only("Error: \u201c552 5.2.0 ESMTP server not available AUP#I-1340\u2033\u2026")
    assert (item.reply_code, item.enhanced) == (552, "5.2.0")
    assert "AUP#I-1340" in item.text


def test_dsn_fields_with_folded_multi_line_diagnostic() -> None:
    text = (
        "Final-Recipient: rfc822; kijitora@example.com\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Remote-MTA: dns; gmail-smtp-in.l.google.com\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\n"
        "    not exist. Please try\n"
        " 550-5.1.1 double-checking the recipient's email address for typos or\n"
        " 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si - gsmtp\n"
    )
    item = only(text)
    assert (item.reply_code, item.enhanced) == (550, "5.1.1")
    assert item.recipient == "kijitora@example.com"
    assert item.remote_host == "gmail-smtp-in.l.google.com"
    assert item.action == "failed"
    assert item.source == "dsn"
    assert "550-5.1.1" not in item.text
    assert item.text.startswith("The email account that you tried to reach does not exist. Please try double")


def test_dsn_status_without_diagnostic_and_several_recipients() -> None:
    text = (
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.2.2\n\n"
        "Final-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.4.7\n"
    )
    items = extract(text)
    assert [(i.recipient, i.enhanced, i.reply_code) for i in items] == [
        ("a@example.com", "5.2.2", None),
        ("b@example.com", "4.4.7", None),
    ]


def test_postfix_bounce_said_line_with_command() -> None:
    text = (
        "<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1 <kijitora@example.jp>:\n"
        "    Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO\n"
        "    command)\n"
    )
    item = only(text)
    assert (item.reply_code, item.enhanced, item.command) == (550, "5.1.1", "RCPT")
    assert (item.remote_host, item.remote_ip) == ("mx.example.jp", "192.0.2.1")
    assert item.recipient == "kijitora@example.jp"
    assert item.text.endswith("User unknown in local recipient table")
    assert item.source == "postfix"


def test_postfix_refused_to_talk_is_a_connection_stage_failure() -> None:
    item = only("host mx.example.net[192.0.2.9] refused to talk to me: 554 5.7.1 Service unavailable")
    assert (item.reply_code, item.command, item.remote_host) == (554, "CONN", "mx.example.net")


def test_postfix_log_line() -> None:
    line = (
        "Nov 28 10:00:00 mx postfix/smtp[123]: ABCD: to=<a@example.com>, relay=mx.example.com[192.0.2.4]:25,"
        " delay=1, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.4] said: 550 5.1.1 User unknown"
        " (in reply to RCPT TO command))"
    )
    item = only(line)
    assert (item.reply_code, item.enhanced, item.command, item.recipient) == (
        550,
        "5.1.1",
        "RCPT",
        "a@example.com",
    )
    assert item.remote_host == "mx.example.com"
    assert item.action == "bounced"
    assert item.text == "User unknown"


def test_postfix_log_line_without_a_reply_keeps_the_dsn_code() -> None:
    line = (
        "postfix/smtp[9]: 1A: to=<b@example.org>, relay=none, delay=30, dsn=4.4.1, status=deferred"
        " (connect to mx.example.org[192.0.2.7]:25: Connection timed out)"
    )
    item = only(line)
    assert (item.reply_code, item.enhanced, item.recipient) == (None, "4.4.1", "b@example.org")
    assert "Connection timed out" in item.text


def test_exim_bounce_with_two_recipients() -> None:
    text = (
        "  kijitora@example.jp\n"
        "    SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:\n"
        "    host mx.example.jp [192.0.2.153]: 550 5.1.1 <kijitora@example.jp>... User Unknown\n"
        "  sabatora@example.jp\n"
        "    SMTP error from remote mail server after RCPT TO:<sabatora@example.jp>:\n"
        "    host mx.example.jp [192.0.2.153]: 550 5.2.1 <sabatora@example.jp>... User Unknown\n"
    )
    items = extract(text)
    assert [(i.recipient, i.enhanced, i.command, i.remote_host) for i in items] == [
        ("kijitora@example.jp", "5.1.1", "RCPT", "mx.example.jp"),
        ("sabatora@example.jp", "5.2.1", "RCPT", "mx.example.jp"),
    ]
    assert all(i.source == "exim" for i in items)


def test_exim_failure_after_mail_from_takes_the_recipient_from_the_line_start() -> None:
    text = (
        "  kijitora@example.ed.jp\n"
        "    SMTP error from remote mail server after MAIL FROM:<shironeko@example.jp> SIZE=1543:\n"
        "    host mx.example.jp [192.0.2.20]: 550 5.7.0 <shironeko@example.jp>... Please use your ISP\n"
    )
    item = only(text)
    assert (item.command, item.recipient, item.reply_code) == ("MAIL", "kijitora@example.ed.jp", 550)


def test_exim_log_line_and_end_of_data() -> None:
    line = (
        "2024-01-01 10:00:00 1abc-000 ** a@example.net R=dnslookup T=remote_smtp"
        " H=mx.example.net [192.0.2.5]: SMTP error from remote mail server after end of data:"
        " 554 5.7.0 Header error"
    )
    item = only(line)
    assert (item.reply_code, item.enhanced, item.command, item.remote_host) == (
        554,
        "5.7.0",
        "DATA",
        "mx.example.net",
    )


def test_sendmail_transcript_and_summary_are_one_reply() -> None:
    text = (
        "----- Transcript of session follows -----\n"
        "... while talking to mx.example.jp.:\n"
        ">>> RCPT To:<kijitora@example.jp>\n"
        "<<< 550 5.1.1 <kijitora@example.jp>... User Unknown\n"
        "550 5.1.1 <kijitora@example.jp>... User Unknown\n"
    )
    item = only(text)
    assert (item.reply_code, item.enhanced, item.command) == (550, "5.1.1", "RCPT")
    assert (item.recipient, item.remote_host) == ("kijitora@example.jp", "mx.example.jp")


def test_multi_line_reply_in_a_transcript_is_joined() -> None:
    text = ">>> DATA\n<<< 554-5.7.1 first part\n<<< 554 5.7.1 second part\n"
    item = only(text)
    assert (item.reply_code, item.command) == (554, "DATA")
    assert item.text == "first part second part"


def test_plain_multi_line_reply_pasted_as_is() -> None:
    item = only(
        "421-4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred\n421 4.7.0 due to user complaints\n"
    )
    assert (item.reply_code, item.enhanced) == (421, "4.7.0")
    assert item.text == "[TSS04] Messages from 192.0.2.1 temporarily deferred due to user complaints"


def test_smtplib_recipients_refused_with_several_recipients() -> None:
    text = (
        "smtplib.SMTPRecipientsRefused: {'a@example.com': (550, b'5.1.1 <a@example.com>: User unknown'), "
        "'b@example.com': (452, b'4.2.2 Mailbox full')}"
    )
    items = extract(text)
    assert [(i.recipient, i.reply_code, i.enhanced, i.command) for i in items] == [
        ("a@example.com", 550, "5.1.1", "RCPT"),
        ("b@example.com", 452, "4.2.2", "RCPT"),
    ]
    assert items[1].text == "Mailbox full"


def test_smtplib_data_error_and_bare_tuple_with_escaped_newline() -> None:
    data = only("smtplib.SMTPDataError: (554, b'5.7.1 Message rejected as spam')")
    assert (data.reply_code, data.enhanced, data.command, data.text) == (
        554,
        "5.7.1",
        "DATA",
        "Message rejected as spam",
    )
    auth = only(
        "(535, b'5.7.8 Username and Password not accepted. Learn more at\\n5.7.8  https://support.google.com/mail')"
    )
    assert (auth.reply_code, auth.enhanced) == (535, "5.7.8")
    assert "\\n" not in auth.text
    assert auth.text.startswith("Username and Password not accepted. Learn more at")


def test_smtplib_sender_refused_is_a_mail_from_failure() -> None:
    item = only("SMTPSenderRefused(553, b'5.7.1 Sender address rejected', 'me@example.com')")
    assert (item.reply_code, item.command) == (553, "MAIL")


def test_phpmailer_error_string() -> None:
    text = (
        "SMTP Error: data not accepted.SMTP server error: DATA END command failed Detail: Message rejected "
        "as spam SMTP code: 550 Additional SMTP info: 5.7.1"
    )
    item = only(text)
    assert (item.reply_code, item.enhanced, item.command) == (550, "5.7.1", "DATA")
    assert item.text == "Message rejected as spam"
    assert item.source == "phpmailer"


def test_phpmailer_older_formats() -> None:
    item = only("SMTP ERROR: RCPT TO command failed: 550 5.1.1 <a@example.com>: User unknown")
    assert (item.reply_code, item.command, item.recipient) == (550, "RCPT", "a@example.com")
    item = only("SMTP Error: The following recipients failed: b@example.com: 550 No such user here")
    assert (item.reply_code, item.command, item.recipient) == (550, "RCPT", "b@example.com")


def test_symfony_laravel_message() -> None:
    text = (
        'Expected response code "250/251/252" but got code "550", with message "550 5.1.1 <a@example.com>: '
        'Recipient address rejected: User unknown in virtual mailbox table".'
    )
    item = only(text)
    assert (item.reply_code, item.enhanced, item.command, item.recipient) == (
        550,
        "5.1.1",
        "RCPT",
        "a@example.com",
    )
    assert item.text.endswith("User unknown in virtual mailbox table")
    data = only(
        'Expected response code "354" but got code "554", with message "554 5.7.1 Spam message rejected".'
    )
    assert (data.command, data.text) == ("DATA", "Spam message rejected")


def test_nodemailer_error_message_and_object() -> None:
    item = only(
        "Error: Can't send mail - all recipients were rejected: 550 5.1.1 <a@example.com>: User unknown"
    )
    assert (item.reply_code, item.enhanced, item.command, item.recipient) == (
        550,
        "5.1.1",
        "RCPT",
        "a@example.com",
    )
    obj = (
        "{ Error: Mail command failed: 553 5.7.1 Sender address rejected\n"
        "  code: 'EENVELOPE',\n  response: '553 5.7.1 Sender address rejected',\n"
        "  responseCode: 553,\n  command: 'MAIL FROM' }"
    )
    item = only(obj)
    assert (item.reply_code, item.enhanced, item.command) == (553, "5.7.1", "MAIL")
    login = only("Error: Invalid login: 535-5.7.8 Username and Password not accepted.")
    assert (login.reply_code, login.enhanced, login.command) == (535, "5.7.8", "AUTH")


def test_numbers_that_are_not_replies_are_ignored() -> None:
    for text in (
        "Connecting to smtp.example.com:587 on 03/03/2020 12:23 PM",
        "AUP#I-1340 and version 1.550.2",
        "we sent 550 messages today",
        "IP 192.0.2.250 port 465 ",
    ):
        assert extract(text) == [], text


def test_command_names_are_normalised() -> None:
    assert normalize_command("RCPT TO:<a@b>") == "RCPT"
    assert normalize_command("end of data") == "DATA"
    assert normalize_command("initial connection") == "CONN"
    assert normalize_command("pipelined MAIL FROM") == "MAIL"
    assert normalize_command("frobnicate") is None


def test_primary_prefers_the_failure_that_tells_most() -> None:
    items = extract("250 2.0.0 OK\n550 5.1.1 <a@example.com>: User unknown\n451 try later")
    best = primary(items)
    assert best is not None
    assert (best.reply_code, best.enhanced) == (550, "5.1.1")
    assert primary([]) is None


# --------------------------------------------------------------------------------------------
# failures with no reply


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SMTP protocol failure: syntax error: 3-digit code not found; ", "not-smtp"),
        ("ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "tls-mismatch"),
        ("smtplib.SMTPServerDisconnected: Connection unexpectedly closed", "disconnected"),
        ("TimeoutError: [Errno 110] Connection timed out", "timeout"),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "refused"),
        ("socket.gaierror: [Errno -2] Name or service not known", "dns"),
        ("got HTTP/1.1 400 Bad Request instead of a greeting", "other-protocol"),
    ],
)
def test_failures_below_smtp_are_recognised(text: str, kind: str) -> None:
    found = detect_protocol_failure(text)
    assert found is not None
    assert found.kind == kind


def test_plain_prose_is_no_protocol_failure() -> None:
    assert detect_protocol_failure("Dear customer, your parcel has shipped") is None


# --------------------------------------------------------------------------------------------
# robustness


@given(st.text(max_size=2000))
@settings(max_examples=400, deadline=None)
def test_extract_never_raises(text: str) -> None:
    items = extract(text)
    assert len(items) <= MAX_REPLIES
    for item in items:
        assert item.reply_code is None or 200 <= item.reply_code <= 599


@given(
    st.lists(
        st.sampled_from(
            [
                "550",
                "-",
                " ",
                "5.1.1",
                "\n",
                "    ",
                "said:",
                "host x[1.2.3.4]",
                "Diagnostic-Code: smtp;",
                "(in reply to RCPT TO command)",
                "SMTP error from remote mail server after RCPT TO:<a@b>:",
                "<<< ",
                ">>> RCPT To:<a@b>",
                "(550, b'",
                "'",
                "\\",
                'Expected response code "250" but got code "550", with message "',
                "status=bounced (",
                "response: '",
                "a@b.c",
            ]
        ),
        max_size=60,
    )
)
@settings(max_examples=400, deadline=None)
def test_extract_never_raises_on_mixed_fragments(parts: list[str]) -> None:
    extract("".join(parts))


def test_huge_and_adversarial_input_is_bounded() -> None:
    # these would take very long with a backtracking pattern; here each is linear and capped
    for text in (
        "550-" * 100_000,
        "a" * 1_000_000,
        "host " + "x" * 300_000 + "[",
        "(" + "550, b'" * 50_000,
        "<" * 200_000 + "@",
        "Diagnostic-Code: smtp; 550 5.1.1 x\n" + " y\n" * 100_000,
        "SMTP error from remote mail server after " * 20_000,
    ):
        items = extract(text)
        assert len(items) <= MAX_REPLIES
    assert len(extract("550 5.1.1 x\n" * (MAX_INPUT_CHARS // 4))) <= MAX_REPLIES


def test_provider_quirks_in_reply_layout() -> None:
    # Gmail relaying another server's reply repeats the code; some servers put a colon after it
    assert (
        only("The error that the other server returned was: 554 554 5.7.1 Service unavailable").enhanced
    ) == "5.7.1"
    item = only("550: 5.1.1 <u@example.jp>... User Unknown")
    assert (item.reply_code, item.enhanced, item.recipient) == (550, "5.1.1", "u@example.jp")
    # Amazon SES: enhanced code first, then the remote reply code with a quoted text
    item = only("Diagnostic-Code: smtp; 5.3.0 - Other mail system problem 550-'Unknown user u@example.jp'")
    assert (item.reply_code, item.enhanced) == (550, "5.3.0")
    assert item.text.startswith("Unknown user")


def test_qmail_enhanced_code_at_the_end() -> None:
    item = only("Sorry, I couldn't find any host named cx.example.com. (#5.1.2)")
    assert (item.reply_code, item.enhanced) == (None, "5.1.2")
    assert item.text == "Sorry, I couldn't find any host named cx.example.com."
    item = only("Remote host said: 550 sorry, no mailbox here by that name (#5.1.1 - chkusr)")
    assert (item.reply_code, item.enhanced) == (550, "5.1.1")


def test_raw_quoted_printable_bounce_is_decoded() -> None:
    text = (
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "The error that the other server returned was: 550 5.1.1 <kijitora@example.jp>... Us=\n"
        "er Unknown (state 14).\n"
    )
    item = only(text)
    assert (item.reply_code, item.enhanced) == (550, "5.1.1")
    assert "User Unknown" in item.text


def test_indented_transcript_lines_are_not_folded_together() -> None:
    text = (
        "    ----- Transcript of session follows -----\n"
        "    >>> RCPT TO:<u@example.jp>\n"
        "    <<< 550 <u@example.jp>: User unknown\n"
    )
    item = only(text)
    assert (item.reply_code, item.command, item.recipient) == (550, "RCPT", "u@example.jp")


def test_symfony_auth_failure_inside_a_longer_message_with_escaped_line_breaks() -> None:
    text = (
        'Failed to authenticate on SMTP server with username "x@gmail.com" using 3 possible authenticators. '
        'Authenticator "LOGIN" returned "Expected response code "235" but got code "535", with message '
        '"535-5.7.8 Username and Password not accepted. Learn more at\\r\\n535 5.7.8  '
        'https://support.google.com/mail/?p=BadCredentials x - gsmtp".". Authenticator "PLAIN" returned'
    )
    item = only(text)
    assert (item.reply_code, item.enhanced, item.command) == (535, "5.7.8", "AUTH")
    assert item.text == (
        "Username and Password not accepted. Learn more at "
        "https://support.google.com/mail/?p=BadCredentials x - gsmtp"
    )


def test_exchange_ndr_forms() -> None:
    item = only("Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'")
    assert (item.reply_code, item.enhanced, item.text) == (
        550,
        "5.1.1",
        "RESOLVER.ADR.RecipNotFound; not found",
    )
    item = only("#550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup ##")
    assert (item.enhanced, item.text) == (
        "5.1.10",
        "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    )
    item = only("<mx.example.jp #5.1.1 smtp;550 5.1.1 <kijitora@example.jp>... User Unknown>")
    assert (item.reply_code, item.text) == (550, "<kijitora@example.jp>... User Unknown")
    assert extract("ticket #550 was closed") == []
