"""The sans-I/O server core, driven with bytes only: every command and condition -> exact reply."""

from __future__ import annotations

import base64

import pytest

from smtpdiag.protocol import (
    AuthAttempt,
    Close,
    CommandReceived,
    Decision,
    Delay,
    Helo,
    MailFrom,
    MessageAborted,
    MessageComplete,
    PlaintextDiscarded,
    ProtocolError,
    RcptTo,
    Reset,
    Send,
    ServerConnection,
    State,
)
from smtpdiag.protocol import replies as R
from smtpdiag.protocol.state import COMMANDS, KNOWN_VERBS
from smtpdiag.reply import Reply
from test_protocol_support import Driver, RecordingPolicy, code, make_settings


def ready(**kw: object) -> Driver:
    d = Driver(make_settings(**kw))  # type: ignore[arg-type]
    assert d.ehlo().code == 250
    return d


def in_rcpt(**kw: object) -> Driver:
    d = ready(**kw)
    assert code(d.cmd("MAIL FROM:<s@sender.test>")) == (250, "2.1.0")
    assert code(d.cmd("RCPT TO:<u@example.com>")) == (250, "2.1.5")
    return d


# ------------------------------------------------------------------------------ greeting, EHLO/HELO
def test_greeting_and_ehlo_keywords() -> None:
    d = Driver(make_settings(users={"u": "p"}))
    assert d.wire == b"220 mx.test ESMTP smtpdiag\r\n"
    r = d.ehlo()
    assert r.code == 250 and r.enhanced is None  # RFC 2034 §3: no enhanced code on EHLO replies
    assert r.lines == (
        "mx.test",
        "PIPELINING",
        "SIZE 10240000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
        "DSN",
        "CHUNKING",
    )  # AUTH is not offered before TLS when require_tls_for_auth (the default)
    assert d.events(Helo) == [Helo("client.test", True)]


def test_ehlo_offers_auth_without_tls_when_allowed_and_not_starttls_when_unavailable() -> None:
    d = Driver(make_settings(users={"u": "p"}, require_tls_for_auth=False), tls_available=False)
    lines = d.ehlo().lines
    assert "AUTH PLAIN LOGIN" in lines
    assert "STARTTLS" not in lines


def test_ehlo_under_tls_offers_auth_not_starttls() -> None:
    d = Driver(make_settings(users={"u": "p"}), tls_active=True)
    lines = d.ehlo().lines
    assert "AUTH PLAIN LOGIN" in lines and "STARTTLS" not in lines


def test_helo_reply_and_missing_argument() -> None:
    d = Driver()
    assert code(d.cmd("HELO")) == (501, "5.5.4")
    assert code(d.cmd("EHLO")) == (501, "5.5.4")
    assert code(d.cmd("EHLO bad\x01name")) == (500, "5.5.2")
    r = d.cmd("HELO client")
    assert r.code == 250 and r.lines == ("mx.test",)
    # parameters need EHLO
    assert code(d.cmd("MAIL FROM:<a@b.test> SIZE=10")) == (555, "5.5.4")
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")


# ------------------------------------------------------------------------------ sequence errors
@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["MAIL FROM:<a@b.test>"], (503, "5.5.1")),  # MAIL before EHLO
        (["EHLO x", "RCPT TO:<u@example.com>"], (503, "5.5.1")),  # RCPT before MAIL
        (["EHLO x", "DATA"], (503, "5.5.1")),  # DATA before MAIL
        (["EHLO x", "MAIL FROM:<a@b.test>", "DATA"], (503, "5.5.1")),  # DATA before RCPT
        (["EHLO x", "MAIL FROM:<a@b.test>", "MAIL FROM:<a@b.test>"], (503, "5.5.1")),  # nested MAIL
        (["EHLO x", "MAIL FROM:<a@b.test>", "STARTTLS"], (503, "5.5.1")),
        (["STARTTLS"], (503, "5.5.1")),
    ],
)
def test_bad_sequence(lines: list[str], expected: tuple[int, str]) -> None:
    d = Driver()
    replies = [d.cmd(line) for line in lines]
    assert code(replies[-1]) == expected
    assert d.events(ProtocolError)


def test_data_with_no_valid_recipients_is_554() -> None:
    d = ready()
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<u@elsewhere.test>")) == (554, "5.7.1")  # relay denied
    assert code(d.cmd("DATA")) == (554, "5.5.1")


def test_unknown_and_unimplemented_commands() -> None:
    d = ready()
    assert code(d.cmd("FOO bar")) == (500, "5.5.1")
    assert code(d.cmd("EXPN list")) == (502, "5.5.1")
    assert code(d.cmd("TURN")) == (502, "5.5.1")
    assert code(d.cmd("")) == (500, "5.5.1")


def test_every_known_verb_has_a_handler_and_table_targets_are_states() -> None:
    conn = ServerConnection(make_settings())
    for state, row in COMMANDS.items():
        assert isinstance(state, State)
        for verb, target in row.items():
            assert verb in KNOWN_VERBS and isinstance(target, State)
    assert set(conn._handlers) == KNOWN_VERBS


# ------------------------------------------------------------------------------ MAIL / RCPT
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MAIL FROM:<a@b.test>", (250, "2.1.0")),
        ("MAIL FROM:<>", (250, "2.1.0")),
        ("MAIL FROM: <a@b.test>", (250, "2.1.0")),  # tolerated space
        ("mail from:<a@b.test> size=1000 body=8bitmime", (250, "2.1.0")),
        ("MAIL FROM:<@relay.test:a@b.test>", (250, "2.1.0")),  # source route ignored
        ('MAIL FROM:<"john doe"@b.test>', (250, "2.1.0")),
        ("MAIL FROM:<a@b.test> RET=HDRS ENVID=abc+2B1", (250, "2.1.0")),
        ("MAIL FROM:<a@b.test> AUTH=<>", (250, "2.1.0")),
        ("MAIL FROM:<a@[192.0.2.1]>", (250, "2.1.0")),
        ("MAIL TO:<a@b.test>", (501, "5.5.4")),
        ("MAIL", (501, "5.5.4")),
        ("MAIL FROM:a@b.test", (501, "5.1.7")),
        ("MAIL FROM:<a@b.test", (501, "5.1.7")),
        ("MAIL FROM:<a b@b.test>", (501, "5.1.7")),
        ("MAIL FROM:<a..b@b.test>", (501, "5.1.7")),
        ("MAIL FROM:<a@-b.test>", (501, "5.1.7")),
        ("MAIL FROM:<a@>", (501, "5.1.7")),
        ("MAIL FROM:<a@b.test>x", (501, "5.1.7")),
        ("MAIL FROM:<a@b.test> SIZE=abc", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> SIZE=", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> SIZE=1 SIZE=2", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> BODY=BINARYMIME", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> RET=ALL", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> ENVID=a=b", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> SMTPUTF8=yes", (501, "5.5.4")),
        ("MAIL FROM:<a@b.test> FOO=bar", (555, "5.5.4")),
        ("MAIL FROM:<a@b.test> SIZE=99999999999", (552, "5.3.4")),
        ("MAIL FROM:<jörg@b.test>", (553, "5.6.7")),
        ("MAIL FROM:<jörg@b.test> SMTPUTF8", (250, "2.1.0")),
    ],
)
def test_mail_from(line: str, expected: tuple[int, str]) -> None:
    d = ready()
    assert code(d.cmd(line)) == expected


def test_mail_event_carries_sender_and_params() -> None:
    d = ready()
    d.cmd("MAIL FROM:<a@b.test> SIZE=42 SMTPUTF8")
    assert d.events(MailFrom) == [MailFrom("a@b.test", {"SIZE": "42", "SMTPUTF8": None})]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("RCPT TO:<u@example.com>", (250, "2.1.5")),
        ("RCPT TO:<U@EXAMPLE.COM>", (250, "2.1.5")),
        ("RCPT TO:<postmaster>", (250, "2.1.5")),
        ("RCPT TO:<u@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@example.com", (250, "2.1.5")),
        ("RCPT TO:<u@example.com> NOTIFY=NEVER", (250, "2.1.5")),
        ("RCPT TO:<u@example.com> NOTIFY=NEVER,SUCCESS", (501, "5.5.4")),
        ("RCPT TO:<u@example.com> NOTIFY=SOMETIMES", (501, "5.5.4")),
        ("RCPT TO:<u@example.com> ORCPT=noseparator", (501, "5.5.4")),
        ("RCPT TO:<u@example.com> XYZ", (555, "5.5.4")),
        ("RCPT TO:<u@relay.test>", (554, "5.7.1")),
        ("RCPT TO:<>", (501, "5.1.3")),
        ("RCPT TO:u@example.com", (501, "5.1.3")),
        ("RCPT TO:<u@@example.com>", (501, "5.1.3")),
        ("RCPT FROM:<u@example.com>", (501, "5.5.4")),
        ("RCPT TO:<ü@example.com>", (553, "5.6.7")),
    ],
)
def test_rcpt_to(line: str, expected: tuple[int, str]) -> None:
    d = ready()
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd(line)) == expected


def test_mailboxes_unknown_user_and_relay() -> None:
    d = ready(local_domains=(), mailboxes=("alice@corp.test",))
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<alice@corp.test>")) == (250, "2.1.5")
    assert code(d.cmd("RCPT TO:<bob@corp.test>")) == (550, "5.1.1")
    assert code(d.cmd("RCPT TO:<postmaster@corp.test>")) == (250, "2.1.5")
    assert code(d.cmd("RCPT TO:<bob@other.test>")) == (554, "5.7.1")


def test_capture_mode_accepts_every_domain() -> None:
    d = ready(local_domains=(), mailboxes=())
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<anyone@anywhere.test>")) == (250, "2.1.5")


def test_smtputf8_recipient_allowed_with_parameter() -> None:
    d = ready(local_domains=(), mailboxes=())
    d.cmd("MAIL FROM:<a@b.test> SMTPUTF8")
    assert code(d.cmd("RCPT TO:<ü@пример.рф>")) == (250, "2.1.5")


def test_too_many_recipients_452_and_not_counted_as_error() -> None:
    d = ready(max_recipients=2, hard_error_limit=2)
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<a@example.com>")) == (250, "2.1.5")
    assert code(d.cmd("RCPT TO:<b@example.com>")) == (250, "2.1.5")
    for _ in range(3):
        assert code(d.cmd("RCPT TO:<c@example.com>")) == (452, "4.5.3")
    assert not d.closed
    d.feed(b"DATA\r\nx\r\n.\r\n")
    assert d.messages == [b"x\r\n"]
    mc = d.events(MessageComplete)[0]
    assert mc.envelope.recipients == ("a@example.com", "b@example.com")


def test_rset_clears_transaction_and_takes_no_argument() -> None:
    d = in_rcpt()
    assert code(d.cmd("RSET x")) == (501, "5.5.4")
    assert code(d.cmd("RSET")) == (250, "2.0.0")
    assert d.events(Reset)
    assert code(d.cmd("DATA")) == (503, "5.5.1")
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")


def test_ehlo_during_transaction_resets_it() -> None:
    d = in_rcpt()
    d.ehlo()
    assert code(d.cmd("DATA")) == (503, "5.5.1")


def test_noop_vrfy_help_quit() -> None:
    d = Driver()
    assert code(d.cmd("NOOP")) == (250, "2.0.0")
    assert code(d.cmd("NOOP anything")) == (250, "2.0.0")
    assert code(d.cmd("VRFY someone")) == (252, "2.0.0")
    assert code(d.cmd("VRFY")) == (501, "5.5.4")
    assert d.cmd("HELP").code == 214
    assert code(d.cmd("QUIT")) == (221, "2.0.0")
    assert d.closed and d.conn.closed
    assert d.feed(b"NOOP\r\n") == []  # nothing after QUIT


# ------------------------------------------------------------------------------ DATA
def test_data_message_roundtrip_with_dot_unstuffing() -> None:
    d = in_rcpt()
    replies = d.feed(b"DATA\r\n")
    assert replies[0].code == 354 and replies[0].enhanced is None
    replies = d.feed(b"Subject: t\r\n\r\n..leading dot\r\n.\r\n")
    assert code(replies[0]) == (250, "2.0.0") and "queued as Q1" in replies[0].text
    assert d.messages == [b"Subject: t\r\n\r\n.leading dot\r\n"]
    assert d.conn.state is State.READY


def test_empty_message_first_line_dot() -> None:
    d = in_rcpt()
    d.feed(b"DATA\r\n.\r\n")
    assert d.messages == [b""]


def test_data_with_arguments() -> None:
    d = in_rcpt()
    assert code(d.cmd("DATA now")) == (501, "5.5.4")


def test_pipelined_transactions_in_one_read() -> None:
    d = ready()
    stream = b"".join(
        b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u%d@example.com>\r\nDATA\r\nmsg %d\r\n.\r\n" % (i, i)
        for i in range(5)
    )
    replies = d.feed(stream + b"QUIT\r\n")
    assert [r.code for r in replies] == [250, 250, 354, 250] * 5 + [221]
    assert d.messages == [b"msg %d\r\n" % i for i in range(5)]


def test_pipelined_input_waits_for_storage_commit() -> None:
    d = Driver(make_settings(), auto_complete=False)
    d.ehlo()
    replies = d.feed(
        b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n"
    )
    assert [r.code for r in replies] == [250, 250, 354]  # nothing after the end of data yet
    assert d.conn.reading_paused and d.conn.state is State.STORING
    assert d.feed(b"NOOP\r\n") == []
    outs = d.conn.complete_message(queue_id="X1")
    sent = [o.reply.code for o in outs if isinstance(o, Send)]
    assert sent == [250, 250, 221]  # the NOOP read while storing came after QUIT: ignored
    assert any(isinstance(o, Close) for o in outs)


def test_complete_message_with_refusal_decisions() -> None:
    for reply in (R.MAILBOX_FULL, R.MAILBOX_FULL_PERMANENT, R.LOCAL_ERROR, R.STORAGE_FULL):
        d = Driver(make_settings(), store_decision=Decision(reply))
        d.ehlo()
        replies = d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nhi\r\n.\r\n")
        assert replies[-1] == reply
        assert d.conn.state is State.READY
        assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")


def test_complete_message_outside_storing_is_a_runtime_error() -> None:
    d = ready()
    with pytest.raises(RuntimeError):
        d.conn.complete_message()


def test_overflow_of_pipelined_input_while_storing_closes_after_reply() -> None:
    d = Driver(make_settings(max_input_buffer=4096), auto_complete=False)
    d.ehlo()
    d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nhi\r\n.\r\n")
    for _ in range(10):
        d.feed(b"NOOP\r\n" * 200)
    assert d.conn.buffered <= 4096
    outs = d.conn.complete_message()
    sent = [code(o.reply) for o in outs if isinstance(o, Send)]
    assert sent == [(250, "2.0.0"), (421, "4.7.0")]
    assert isinstance(outs[-1], Close)


# ------------------------------------------------------------------------------ limits
def test_message_too_big_rest_discarded_not_buffered() -> None:
    d = in_rcpt(max_message_size=1000)
    d.feed(b"DATA\r\n")
    line = b"x" * 98 + b"\r\n"
    for _ in range(200):  # 20 kB in 200 reads
        assert d.feed(line) == []
        assert d.conn.buffered < 9000
    replies = d.feed(b".\r\n")
    assert code(replies[0]) == (552, "5.3.4")
    assert d.messages == []
    assert d.events(MessageComplete) == []
    # the session goes on
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")


def test_message_exactly_at_size_limit_is_accepted() -> None:
    d = in_rcpt(max_message_size=1000)
    body = (b"y" * 98 + b"\r\n") * 10
    d.feed(b"DATA\r\n" + body + b".\r\n")
    assert d.messages == [body]


def test_text_line_too_long_rejected_at_end_of_data() -> None:
    d = in_rcpt()
    d.feed(b"DATA\r\n")
    assert d.feed(b"a" * 999 + b"\r\n") == []
    replies = d.feed(b".\r\n")
    assert code(replies[0]) == (552, "5.3.4") and "line" in replies[0].text
    d2 = in_rcpt()
    d2.feed(b"DATA\r\n" + b"a" * 998 + b"\r\n.\r\n")
    assert d2.messages == [b"a" * 998 + b"\r\n"]


def test_text_line_limit_counts_across_reads() -> None:
    d = in_rcpt()
    d.feed(b"DATA\r\n")
    for _ in range(10):
        d.feed(b"b" * 100)
    replies = d.feed(b"\r\n.\r\n")
    assert code(replies[0]) == (552, "5.3.4")


def test_text_line_limit_can_be_switched_off() -> None:
    d = in_rcpt(max_text_line=0)
    d.feed(b"DATA\r\n" + b"c" * 50_000 + b"\r\n.\r\n")
    assert d.messages == [b"c" * 50_000 + b"\r\n"]


def test_command_line_too_long_then_session_is_sane() -> None:
    d = ready()
    long_line = b"MAIL FROM:<" + b"a" * 600 + b"@b.test>\r\n"
    assert [code(r) for r in d.feed(long_line)] == [(500, "5.5.6")]
    # even when it arrives in pieces and much longer: nothing is kept, one reply at its end
    for _ in range(100):
        assert d.feed(b"z" * 1000) == []
        assert d.conn.buffered <= 512
    assert [code(r) for r in d.feed(b"\r\n")] == [(500, "5.5.6")]
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")


def test_command_line_of_exactly_512_octets_is_accepted() -> None:
    d = ready()
    line = b"NOOP " + b"x" * (512 - 7) + b"\r\n"
    assert len(line) == 512
    assert [code(r) for r in d.feed(line)] == [(250, "2.0.0")]
    assert [code(r) for r in d.feed(b"NOOP " + b"x" * (513 - 7) + b"\r\n")] == [(500, "5.5.6")]


def test_invalid_utf8_command() -> None:
    d = ready()
    assert code(d.feed(b"NOOP \xff\xfe\r\n")[0]) == (500, "5.5.2")
    assert code(d.feed(b"NO\x00OP\r\n")[0]) == (500, "5.5.2")


def test_hard_error_limit_421_then_close() -> None:
    d = ready(hard_error_limit=3, soft_error_limit=2, error_sleep_time=0.5)
    replies = d.feed(b"FOO\r\nFOO\r\nFOO\r\nNOOP\r\n")
    assert [code(r) for r in replies] == [(500, "5.5.1")] * 3 + [(421, "4.7.0")]
    assert d.closed
    delays = d.events(Delay)
    assert delays and all(x.seconds == 0.5 for x in delays)  # past the soft limit replies slow down


def test_error_count_reset_by_delivered_message() -> None:
    d = ready(hard_error_limit=3)
    d.feed(b"FOO\r\nFOO\r\n")
    d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nx\r\n.\r\n")
    d.feed(b"FOO\r\nFOO\r\n")
    assert not d.closed


def test_junk_commands_count_as_errors_past_the_limit() -> None:
    d = ready(junk_command_limit=5, hard_error_limit=3)
    replies = d.feed(b"NOOP\r\n" * 10)
    assert [r.code for r in replies] == [250] * 8 + [421]
    assert d.closed


def test_policy_rcpt_rejections_count_towards_hard_limit() -> None:
    d = ready(hard_error_limit=3)
    d.cmd("MAIL FROM:<a@b.test>")
    replies = d.feed(b"RCPT TO:<x@relay.test>\r\n" * 3)
    assert [code(r) for r in replies] == [(554, "5.7.1")] * 3 + [(421, "4.7.0")]


# ------------------------------------------------------------------------------ timeouts, shutdown, eof
def test_timeout_shutdown_and_eof() -> None:
    d = ready()
    outs = d.conn.timeout()
    assert code(outs[0].reply) == (421, "4.4.2") and isinstance(outs[-1], Close)  # type: ignore[union-attr]
    assert d.conn.timeout() == []
    d = ready()
    outs = d.conn.shutdown()
    assert code(outs[0].reply) == (421, "4.3.2")  # type: ignore[union-attr]
    d = in_rcpt()
    d.feed(b"DATA\r\npartial")
    outs = d.conn.eof()
    assert any(isinstance(o, MessageAborted) for o in outs) and isinstance(outs[-1], Close)


def test_refuse_before_greeting() -> None:
    conn = ServerConnection(make_settings())
    outs = conn.refuse()
    assert code(outs[0].reply) == (421, "4.7.0")  # type: ignore[union-attr]
    assert conn.closed


# ------------------------------------------------------------------------------ policy decisions
def test_policy_connect_554_then_only_quit() -> None:
    st = make_settings()
    d = Driver(st, RecordingPolicy(st, {"connect": Decision(R.CONNECTION_REFUSED)}))
    assert d.wire.startswith(b"554 5.7.1")
    assert code(d.cmd("EHLO x")) == (503, "5.5.1")
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (503, "5.5.1")
    assert code(d.cmd("QUIT")) == (221, "2.0.0")


def test_policy_connect_421_closes() -> None:
    st = make_settings()
    d = Driver(st, RecordingPolicy(st, {"connect": Decision(R.SERVICE_UNAVAILABLE)}))
    assert d.wire.startswith(b"421 4.3.2") and d.closed


def test_policy_delay_disconnect_and_silent_drop() -> None:
    st = make_settings()
    d = Driver(st, RecordingPolicy(st, {"rcpt": Decision(R.GREYLISTED, delay_seconds=2.5)}))
    d.ehlo()
    d.cmd("MAIL FROM:<a@b.test>")
    outs_before = len(d.outputs)
    assert code(d.cmd("RCPT TO:<u@example.com>")) == (450, "4.7.1")
    new = d.outputs[outs_before:]
    assert isinstance(new[0], CommandReceived) is False
    assert [type(o).__name__ for o in new][:2] == ["Delay", "Send"]
    d = Driver(st, RecordingPolicy(st, {"mail": Decision(R.RATE_LIMITED, disconnect=True)}))
    d.ehlo()
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (421, "4.7.0")
    assert d.closed
    d = Driver(st, RecordingPolicy(st, {"data": Decision(None, disconnect=True)}))
    d.ehlo()
    replies = d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nbody\r\n.\r\n")
    assert [r.code for r in replies] == [250, 250]  # dropped without a word at DATA
    assert d.closed and d.messages == []


@pytest.mark.parametrize(
    "reply",
    [R.SENDER_REJECTED, R.SENDER_DOMAIN_UNKNOWN, R.RATE_LIMITED_SOFT, R.LOCAL_ERROR],
)
def test_policy_sender_refusals(reply: Reply) -> None:
    st = make_settings()
    d = Driver(st, RecordingPolicy(st, {"mail": Decision(reply)}))
    d.ehlo()
    assert d.cmd("MAIL FROM:<a@b.test>") == reply
    assert code(d.cmd("RCPT TO:<u@example.com>")) == (503, "5.5.1")


def test_policy_data_refusal_keeps_transaction() -> None:
    st = make_settings()
    pol = RecordingPolicy(st, {"data": Decision(R.SPAM_REJECTED)})
    d = Driver(st, pol)
    d.ehlo()
    replies = d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
    assert code(replies[-1]) == (550, "5.7.1")
    assert d.conn.state is State.RCPT
    assert pol.calls == ["connect", "helo", "mail", "rcpt", "data"]


def test_require_tls_and_require_auth() -> None:
    d = ready(require_tls=True)
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (530, "5.7.0")
    d = ready(require_auth=True)
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (530, "5.7.0")


# ------------------------------------------------------------------------------ STARTTLS
def test_starttls_discards_pipelined_plaintext_and_resets_session() -> None:
    d = ready()
    replies = d.feed(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<u@example.com>\r\n")
    assert [code(r) for r in replies] == [(220, "2.0.0")]
    assert d.wants_tls
    assert d.events(PlaintextDiscarded)[0].octets == len(
        b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<u@example.com>\r\n"
    )
    # plaintext arriving before the handshake completes is also thrown away
    assert d.feed(b"DATA\r\n") == []
    assert d.conn.tls_started() == []
    assert d.conn.session.tls_active and d.conn.session.helo == ""
    # injected commands had no effect: state starts over, EHLO is needed again
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (503, "5.5.1")
    r = d.ehlo()
    assert "STARTTLS" not in r.lines
    assert code(d.cmd("STARTTLS")) == (503, "5.5.1")  # already active


def test_starttls_unavailable_and_with_argument() -> None:
    d = Driver(make_settings(), tls_available=False)
    d.ehlo()
    assert code(d.cmd("STARTTLS")) == (454, "4.7.0")
    d = ready()
    assert code(d.cmd("STARTTLS now")) == (501, "5.5.4")


def test_tls_started_out_of_turn_is_a_runtime_error() -> None:
    d = ready()
    with pytest.raises(RuntimeError):
        d.conn.tls_started()


# ------------------------------------------------------------------------------ AUTH
def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth_driver(**kw: object) -> Driver:
    kw.setdefault("users", {"alice": "s3cret"})
    d = Driver(make_settings(**kw), tls_active=True, trace=True)  # type: ignore[arg-type]
    d.ehlo()
    return d


def test_auth_plain_initial_response_success() -> None:
    d = auth_driver()
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (235, "2.7.0")
    assert d.conn.session.auth_user == "alice"
    assert d.events(AuthAttempt) == [AuthAttempt("PLAIN", "alice", True)]
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (503, "5.5.1")
    # the secret never appears in the trace
    lines = [e.line for e in d.events(CommandReceived)]
    assert "AUTH PLAIN ***" in lines and all(
        "s3cret" not in x and b64("\0alice\0s3cret") not in x for x in lines
    )


def test_auth_plain_challenge_and_failure() -> None:
    d = auth_driver()
    r = d.cmd("AUTH PLAIN")
    assert r.code == 334 and r.enhanced is None
    assert code(d.cmd(b64("\0alice\0wrong"))) == (535, "5.7.8")
    assert d.events(AuthAttempt) == [AuthAttempt("PLAIN", "alice", False)]
    assert d.conn.session.auth_user is None


def test_auth_login_both_forms() -> None:
    d = auth_driver()
    assert d.cmd("AUTH LOGIN").lines == ("VXNlcm5hbWU6",)
    assert d.cmd(b64("alice")).lines == ("UGFzc3dvcmQ6",)
    assert code(d.cmd(b64("s3cret"))) == (235, "2.7.0")
    d = auth_driver()
    assert d.cmd("AUTH LOGIN " + b64("alice")).code == 334
    assert code(d.cmd(b64("bad"))) == (535, "5.7.8")


def test_auth_errors() -> None:
    d = auth_driver()
    assert code(d.cmd("AUTH CRAM-MD5")) == (504, "5.5.4")
    assert code(d.cmd("AUTH")) == (501, "5.5.4")
    assert code(d.cmd("AUTH PLAIN !!!notbase64")) == (501, "5.5.2")
    assert code(d.cmd("AUTH PLAIN " + b64("no-nuls"))) == (501, "5.5.2")
    d.cmd("AUTH PLAIN")
    assert code(d.cmd("*")) == (501, "5.7.0")  # cancelled
    d.cmd("AUTH LOGIN")
    assert code(d.cmd("%%%")) == (501, "5.5.2")
    assert code(d.cmd("NOOP")) == (250, "2.0.0")  # back in command mode


def test_auth_needs_tls_by_default() -> None:
    d = Driver(make_settings(users={"alice": "s3cret"}))
    d.ehlo()
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (538, "5.7.11")
    d = Driver(make_settings(users={"alice": "s3cret"}, require_tls=True))
    d.ehlo()
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (530, "5.7.0")
    d = Driver(make_settings(users={"alice": "s3cret"}, require_tls_for_auth=False))
    d.ehlo()
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (235, "2.7.0")


def test_auth_not_enabled_and_in_transaction() -> None:
    d = ready()
    assert code(d.cmd("AUTH PLAIN " + b64("\0a\0b"))) == (503, "5.5.1")
    d = auth_driver()
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))) == (503, "5.5.1")


def test_auth_policy_can_throttle_and_say_too_weak() -> None:
    st = make_settings(users={"alice": "s3cret"})
    for reply in (R.AUTH_THROTTLED, R.AUTH_TOO_WEAK):
        d = Driver(st, RecordingPolicy(st, {"auth": Decision(reply, delay_seconds=1.0)}), tls_active=True)
        d.ehlo()
        assert d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret")) == reply
        assert d.events(Delay)[0].seconds == 1.0


def test_auth_line_limit_is_the_rfc4954_one() -> None:
    d = auth_driver()
    d.cmd("AUTH PLAIN")
    # 2000 octets: over the 512 command limit but within AUTH's 12288
    assert code(d.cmd(b64("\0alice\0" + "x" * 1500))) == (535, "5.7.8")
    d.cmd("AUTH PLAIN")
    assert code(d.feed(b"A" * 13000 + b"\r\n")[0]) == (500, "5.5.6")


def test_auth_then_mail_with_require_auth() -> None:
    d = auth_driver(require_auth=True)
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (530, "5.7.0")
    d.cmd("AUTH PLAIN " + b64("\0alice\0s3cret"))
    assert code(d.cmd("MAIL FROM:<a@b.test>")) == (250, "2.1.0")
    d.feed(b"RCPT TO:<u@example.com>\r\nDATA\r\nx\r\n.\r\n")
    assert d.events(MessageComplete)[0].envelope.auth_user == "alice"


# ------------------------------------------------------------------------------ events and replies table
def test_events_of_a_session() -> None:
    d = in_rcpt()
    assert d.events(RcptTo) == [RcptTo("u@example.com", {})]
    env = None
    d.feed(b"DATA\r\nx\r\n.\r\n")
    env = d.events(MessageComplete)[0].envelope
    assert env.sender == "s@sender.test" and env.helo == "client.test" and env.size == 3


def test_every_reply_in_table_has_enhanced_code_except_exempt_ones() -> None:
    for name, reply in R.REPLIES.items():
        if reply.code in (334, 354):
            assert reply.enhanced is None, name
            continue
        assert reply.enhanced is not None, name
        assert reply.enhanced[0] == str(reply.code)[0], name  # class digit matches
        assert reply.to_wire().endswith(b"\r\n")


def test_issue_reply_list_is_covered() -> None:
    wanted = {
        (500, "5.5.1"), (502, "5.5.1"), (500, "5.5.6"), (501, "5.5.4"), (501, "5.1.3"), (501, "5.1.7"),
        (503, "5.5.1"), (554, "5.5.1"), (530, "5.7.0"), (535, "5.7.8"), (538, "5.7.11"), (534, "5.7.9"),
        (504, "5.5.4"), (454, "4.7.0"), (550, "5.1.1"), (554, "5.7.1"), (553, "5.7.1"), (550, "5.1.8"),
        (552, "5.3.4"), (452, "4.5.3"), (452, "4.2.2"), (552, "5.2.2"), (451, "4.3.0"), (452, "4.3.1"),
        (421, "4.7.0"), (450, "4.7.1"), (421, "4.4.2"), (421, "4.3.2"), (553, "5.6.7"), (554, "5.5.2"),
    }  # fmt: skip
    have = {(r.code, r.enhanced) for r in R.REPLIES.values()}
    assert wanted <= have, wanted - have


# ------------------------------------------------------------------------------ corners
@pytest.mark.parametrize(
    ("setup", "line", "expected"),
    [
        ({"smtputf8": False}, "MAIL FROM:<a@b.test> SMTPUTF8", (555, "5.5.4")),
        ({"dsn": False}, "MAIL FROM:<a@b.test> RET=FULL", (555, "5.5.4")),
        ({}, "MAIL FROM:<@relay.test,a@b.test>", (501, "5.1.7")),  # source route without ':'
        ({}, r'MAIL FROM:<"a\"b>c"@b.test>', (250, "2.1.0")),  # quoted local part with escapes and '>'
        ({}, 'MAIL FROM:<"unterminated@b.test>', (501, "5.1.7")),
        ({}, "MAIL FROM:<a@b.test> =x", (501, "5.5.4")),
        ({}, "MAIL FROM:<a@" + "d" * 64 + ".test>", (501, "5.1.7")),  # a label over 63 octets
    ],
)
def test_mail_corners(setup: dict[str, object], line: str, expected: tuple[int, str]) -> None:
    d = ready(**setup)
    assert code(d.cmd(line)) == expected


def test_rcpt_corners() -> None:
    d = ready()
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<u@example.com> NOTIFY")) == (501, "5.5.4")
    assert code(d.cmd("RCPT TO:<u@example.com> ==")) == (501, "5.5.4")
    d = Driver(make_settings())
    d.cmd("HELO c")
    d.cmd("MAIL FROM:<a@b.test>")
    assert code(d.cmd("RCPT TO:<u@example.com> NOTIFY=NEVER")) == (555, "5.5.4")  # no EHLO, no parameters


def test_bdat_corners() -> None:
    d = in_rcpt()
    assert code(d.feed(b"BDAT 3 NOTLAST\r\n")[0]) == (501, "5.5.4")
    assert d.closed
    d = ready()
    assert [code(r) for r in d.feed(b"BDAT 0\r\nNOOP\r\n")] == [(503, "5.5.1"), (250, "2.0.0")]
    st = make_settings()
    d = Driver(
        st, RecordingPolicy(st, {"data": Decision(R.SERVICE_UNAVAILABLE, disconnect=True, delay_seconds=1)})
    )
    d.ehlo()
    replies = d.feed(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@example.com>\r\nBDAT 3 LAST\r\nabc")
    assert code(replies[-1]) == (421, "4.3.2") and d.closed and d.messages == []


def test_starttls_injection_at_every_split() -> None:
    stream = b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n"
    for cut in range(len(stream) + 1):
        d = Driver(make_settings())
        d.feed(stream[:cut])
        d.feed(stream[cut:])
        assert d.wants_tls, cut
        assert d.events(MailFrom) == [], cut
        d.conn.tls_started()
        assert d.conn.state is State.GREETED
        assert code(d.cmd("RCPT TO:<u@example.com>")) == (503, "5.5.1")
