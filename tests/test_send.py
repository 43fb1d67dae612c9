"""send: per-recipient truth, exit codes, message checks, direct-to-MX via loopback DNS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsserver import LoopbackDNS
from smtpdiag.cli import cli
from smtpdiag.client.send import (
    AddressError,
    MessageError,
    RecipientResult,
    SendResult,
    check_message,
    send_async,
)
from smtpdiag.client.session import Timeouts, stuff_message
from test_client_support import ScriptedSMTP, make_certs, server_context

FAST = Timeouts(connect=2, initial=2, command=2, mail=2, rcpt=2, data_init=2, data_block=2, data_term=2)
MSG = (
    b"From: a@x.test\r\nTo: b@y.test\r\nSubject: hello\r\nMessage-ID: <m1@x.test>\r\n"
    b"\r\nbody\r\n.leading dot\r\n"
)


def unknown_c(arg: str) -> str:
    return "550 5.1.1 User unknown" if "c@" in arg else "250 2.1.5 Ok"


async def test_all_accepted() -> None:
    async with ScriptedSMTP() as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test"], server=s.address, timeouts=FAST
        )
    assert result.ok and result.exit_code == 0 and result.outcome == "delivered"
    assert result.message_id == "<m1@x.test>"
    ((sender, rcpts, body),) = s.messages
    assert sender.startswith("FROM:<a@x.test>") and "SIZE=" in sender
    assert rcpts == ["TO:<b@y.test>"]
    assert b"\r\n.leading dot\r\n" in body  # dot-stuffing undone by the server: content intact


async def test_partial_acceptance_is_not_success() -> None:
    async with ScriptedSMTP(replies={"RCPT": unknown_c}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test", "c@y.test"], server=s.address, timeouts=FAST
        )
    assert not result.ok and not bool(result) and result.partial
    assert result.outcome == "partial" and result.exit_code == 69
    by = {r.recipient: r for r in result.recipients}
    assert by["b@y.test"].status == "accepted" and by["b@y.test"].step == "DOT"
    assert by["c@y.test"].status == "permanent" and by["c@y.test"].step == "RCPT"
    assert by["c@y.test"].explanation is not None and by["c@y.test"].explanation.reason == "userunknown"
    assert len(s.messages) == 1  # the good recipient still got it


async def test_transient_rcpt_exit_75() -> None:
    async with ScriptedSMTP(replies={"RCPT": "452 4.2.2 Mailbox full"}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test"], server=s.address, timeouts=FAST
        )
    assert result.exit_code == 75 and result.transient[0].enhanced_status == "4.2.2"
    assert s.messages == []


async def test_mixed_transient_and_permanent_is_75() -> None:
    def rcpt(arg: str) -> str:
        return "550 5.1.1 no" if "c@" in arg else "451 4.7.1 greylisted"

    async with ScriptedSMTP(replies={"RCPT": rcpt}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test", "c@y.test"], server=s.address, timeouts=FAST
        )
    assert result.exit_code == 75


async def test_rejection_at_end_of_data_applies_to_all_accepted() -> None:
    async with ScriptedSMTP(replies={"DOT": "550 5.7.1 Message rejected as spam"}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test", "d@y.test"], server=s.address, timeouts=FAST
        )
    assert [(r.status, r.step) for r in result.recipients] == [("permanent", "DOT")] * 2


async def test_refusal_at_data_command() -> None:
    async with ScriptedSMTP(replies={"DATA": "554 5.5.1 No valid recipients"}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test"], server=s.address, timeouts=FAST
        )
    assert result.recipients[0].step == "DATA" and result.recipients[0].status == "permanent"


async def test_lost_connection_after_dot_is_transient() -> None:
    async with ScriptedSMTP(close_on={"DOT"}) as s:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["b@y.test"], server=s.address, timeouts=FAST
        )
    r = result.recipients[0]
    assert (r.status, r.step) == ("transient", "DOT") and "closed" in r.detail


async def test_silent_after_dot_times_out_as_transient() -> None:
    async with ScriptedSMTP(silent={"DOT"}) as s:
        result = await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=s.address,
            timeouts=FAST.scaled(data_term=0.3),
        )
    r = result.recipients[0]
    assert (r.status, r.step, r.enhanced_status) == ("transient", "DOT", "4.4.2")


async def test_on_final_is_called_before_quit() -> None:
    seen: list[list[str]] = []
    async with ScriptedSMTP() as s:

        def on_final(results: list[RecipientResult]) -> None:
            seen.append([r.status for r in results])
            assert not any(c.startswith("QUIT") for c in s.commands)

        await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=s.address,
            timeouts=FAST,
            on_final=on_final,
        )
    assert seen == [["accepted"]]


async def test_generated_message_when_none_given() -> None:
    async with ScriptedSMTP() as s:
        result = await send_async(
            None, sender="a@x.test", recipients=["b@y.test"], server=s.address, timeouts=FAST
        )
    assert result.ok and b"Subject: smtpdiag test message" in s.messages[0][2]


async def test_starttls_required(tmp_path: Path) -> None:
    async with ScriptedSMTP() as s:
        result = await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=s.address,
            starttls="require",
            timeouts=FAST,
        )
    assert (result.recipients[0].status, result.recipients[0].step) == ("transient", "STARTTLS")
    certs = make_certs(tmp_path)
    async with ScriptedSMTP(tls_context=server_context(certs.cert, certs.key)) as s:
        result = await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=f"localhost:{s.port}",
            starttls="require",
            tls_verify=True,
            cafile=str(certs.ca),
            timeouts=FAST,
        )
    assert result.ok
    assert any(e.step == "STARTTLS" and "TLS established" in e.text for e in result.transcript)


async def test_direct_to_mx_groups_recipients_by_domain() -> None:
    zone = """
    one.test.     60 IN MX 10 mx.one.test.
    mx.one.test.  60 IN A 127.0.0.1
    two.test.     60 IN A 127.0.0.1
    """
    async with ScriptedSMTP() as s:
        with LoopbackDNS(zone) as dns_server:
            result = await send_async(
                MSG,
                sender="a@x.test",
                recipients=["u1@one.test", "u2@one.test", "u3@two.test", "u4@gone.test"],
                port=s.port,
                dns_server=dns_server.address,
                timeouts=FAST,
            )
    by = {r.recipient: r for r in result.recipients}
    assert [by[f"u{i}@{d}.test"].status for i, d in ((1, "one"), (2, "one"), (3, "two"))] == ["accepted"] * 3
    assert (by["u4@gone.test"].status, by["u4@gone.test"].step) == ("permanent", "DNS")
    assert by["u4@gone.test"].enhanced_status == "5.1.2"
    assert len(s.messages) == 2  # one transaction per domain
    assert result.exit_code == 68  # every failure is "no such host"


async def test_only_dns_failures_exit_68() -> None:
    with LoopbackDNS("") as dns_server:
        result = await send_async(
            MSG, sender="a@x.test", recipients=["u@nowhere.test"], dns_server=dns_server.address
        )
    assert result.exit_code == 68


def test_result_json_schema_keys() -> None:
    result = SendResult(sender="a@x", recipients=[RecipientResult("b@y", "transient", "RCPT", detail="x")])
    data = result.to_json()
    assert set(data) == {
        "sender",
        "message_id",
        "size",
        "outcome",
        "ok",
        "exit_code",
        "recipients",
        "transcript",
    }
    assert data["outcome"] == "deferred" and data["exit_code"] == 75


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (b"", "empty"),
        (b"just some text without headers\n", "header field"),
        (b"Subject: x\n\n\x00binary", "NUL"),
        (b"Subject: x\n\n" + b"a" * 1200 + b"\n", "longer than 998"),
    ],
)
def test_bad_messages_are_refused(message: bytes, problem: str) -> None:
    with pytest.raises(MessageError, match=problem):
        check_message(message)


async def test_bad_addresses_are_refused_before_connecting() -> None:
    for bad in ("no-at-sign", "a@b>\r\nRSET", "<a@b>", ""):
        with pytest.raises(AddressError):
            await send_async(MSG, sender="a@x.test", recipients=[bad], server="127.0.0.1:1")


def test_stuffing() -> None:
    assert stuff_message(b"a\n.b\r\n..c\rd") == b"a\r\n..b\r\n...c\r\nd\r\n.\r\n"


# -- CLI ----------------------------------------------------------------------------------------
def _cli(args: list[str], input: bytes | None = None) -> tuple[int, str]:
    out = CliRunner().invoke(cli, args, input=input)
    return out.exit_code, out.output


def test_cli_send_usage_and_data_errors(tmp_path: Path) -> None:
    assert _cli(["send", "--to", "b@y.test"])[0] == 64  # --from missing
    assert _cli(["send", "--from", "a@x.test", "--to", "nope"])[0] == 64
    assert _cli(["send", "--from", "a@x.test", "--to", "b@y.test", "--starttls", "--tls"])[0] == 64
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"\x00\x01\x02 not a message")
    code, output = _cli(
        ["send", "--from", "a@x.test", "--to", "b@y.test", "--server", "127.0.0.1:1", str(bad)]
    )
    assert code == 65 and "bad message" in output
    code, _ = _cli(["send", "--from", "a@x.test", "--to", "b@y.test", str(tmp_path / "missing.eml")])
    assert code == 65


def test_cli_send_partial_json_and_queue(tmp_path: Path) -> None:
    import asyncio

    def rcpt(arg: str) -> str:
        if "c@" in arg:
            return "550 5.1.1 User unknown"
        if "t@" in arg:
            return "451 4.7.1 Greylisted, try again later"
        return "250 2.1.5 Ok"

    async def scenario() -> tuple[int, str]:
        async with ScriptedSMTP(replies={"RCPT": rcpt}) as s:
            args = ["send", "--from", "a@x.test", "--to", "b@y.test", "--to", "c@y.test"]
            args += ["--to", "t@y.test", "--server", s.address, "--queue-db", str(tmp_path / "q.db")]
            args += ["--dsn-dir", str(tmp_path / "dsn"), "--json", "-"]
            return await asyncio.to_thread(_cli, args, MSG)

    code, output = asyncio.run(scenario())
    assert code == 75
    data = json.loads(output)
    assert data["outcome"] == "partial"
    assert [r["status"] for r in data["recipients"]] == ["accepted", "permanent", "transient"]
    assert data["queued"] == 1 and len(data["dsn"]) == 1
    assert len(list((tmp_path / "dsn").glob("*.eml"))) == 1
    code, output = _cli(["queue", "list", "--queue-db", str(tmp_path / "q.db"), "--json"])
    entries = json.loads(output)
    assert [(e["recipient"], e["state"], e["attempts"]) for e in entries] == [("t@y.test", "queued", 1)]


def test_cli_dsn_mailed_back_to_sender(tmp_path: Path) -> None:
    import asyncio

    async def scenario() -> tuple[tuple[int, str], list[tuple[str, list[str], bytes]]]:
        async with ScriptedSMTP(replies={"RCPT": unknown_c}) as s:
            args = ["send", "--from", "a@x.test", "--to", "c@y.test", "--server", s.address]
            args += ["--dsn-to-sender", "--no-queue", "-"]
            out = await asyncio.to_thread(_cli, args, MSG)
            return out, s.messages

    (code, output), messages = asyncio.run(scenario())
    assert code == 69 and "mailed to <a@x.test>" in output
    ((sender, rcpts, body),) = messages
    assert sender.startswith("FROM:<>") and rcpts == ["TO:<a@x.test>"]  # null sender: never bounces back
    assert b"multipart/report" in body and b"Final-Recipient: rfc822; c@y.test" in body


async def test_bad_domain_is_an_address_error() -> None:
    with pytest.raises(AddressError, match="not a valid host name"):
        await send_async(MSG, sender="a@x.test", recipients=["u@bad..domain"])
    with pytest.raises(AddressError):
        await send_async(MSG, sender="a@x.test", recipients=["u@x.test"], server="bad host:25")


async def test_implicit_tls_send_with_verification(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ctx = server_context(certs.self_signed_cert, certs.self_signed_key)
    async with ScriptedSMTP(tls_context=ctx, implicit_tls=True) as s:
        ok = await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=s.address,
            implicit_tls=True,
            timeouts=FAST,
        )
        verified = await send_async(
            MSG,
            sender="a@x.test",
            recipients=["b@y.test"],
            server=f"localhost:{s.port}",
            implicit_tls=True,
            tls_verify=True,
            timeouts=FAST,
        )
    assert ok.ok  # encryption without validation: a self-signed certificate is fine
    r = verified.recipients[0]
    assert (r.status, r.step) == ("transient", "CONNECT") and "certificate" in r.detail.lower()
