"""The durable retry queue: schedule (RFC 5321 §4.5.4.1), expiry with DSN, one run at a time,
and crash safety: a SIGKILL between attempts loses nothing and sends nothing twice."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from smtpdiag.client.queue import DEFAULT_FIRST_RETRY, DEFAULT_GIVE_UP, Queue, QueueBusy
from smtpdiag.client.send import RecipientResult
from smtpdiag.client.session import Timeouts
from smtpdiag.reply import Reply
from test_client_support import ScriptedSMTP

FAST = Timeouts(connect=2, initial=2, command=2, mail=2, rcpt=2, data_init=2, data_block=2, data_term=2)
MSG = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: queued\r\nMessage-ID: <q1@x.test>\r\n\r\nhello\r\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def deferred(rcpt: str) -> RecipientResult:
    return RecipientResult(
        rcpt, "transient", "RCPT", reply=Reply(451, ("greylisted",), "4.7.1"), enhanced_status="4.7.1"
    )


def test_defaults_follow_rfc5321() -> None:
    assert DEFAULT_FIRST_RETRY >= 30 * 60
    assert DEFAULT_GIVE_UP == 5 * 86400


def test_backoff_doubles_and_is_capped(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.db")
    assert [q.backoff(n) for n in (1, 2, 3, 4, 5, 6, 50)] == [1800, 3600, 7200, 14400, 14400, 14400, 14400]


def test_enqueue_schedules_first_retry_no_sooner_than_30_minutes(tmp_path: Path) -> None:
    clock = Clock()
    q = Queue(tmp_path / "q.db", clock=clock)
    q.enqueue(sender="a@x.test", message=MSG, recipients=[deferred("b@y.test")], options={"server": "h:1"})
    (entry,) = q.entries()
    assert entry.state == "queued" and entry.attempts == 1
    assert entry.next_attempt - clock.now == 1800
    assert entry.last_result is not None and entry.last_result["code"] == 451
    assert q.due() == {}
    clock.now += 1799
    assert q.due() == {}
    clock.now += 1
    assert q.due() == {1: ["b@y.test"]}
    assert q.due(ignore_schedule=True) == {1: ["b@y.test"]}


def test_passwords_are_never_stored(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.db")
    with pytest.raises(ValueError, match="password"):
        q.enqueue(sender="a@x", message=MSG, recipients=["b@y"], options={"auth_password": "x"})


def test_bad_schedule_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Queue(tmp_path / "q.db", first_retry=100, max_interval=10)


async def test_retry_delivers_once_then_nothing(tmp_path: Path) -> None:
    clock = Clock()
    q = Queue(tmp_path / "q.db", clock=clock)
    async with ScriptedSMTP() as s:
        q.enqueue(
            sender="a@x.test", message=MSG, recipients=["b@y.test", "c@y.test"], options={"server": s.address}
        )
        report = await q.retry(send_options={"timeouts": FAST})
        assert report.attempted == 0  # not due yet
        report = await q.retry(ignore_schedule=True, send_options={"timeouts": FAST})
        assert sorted(report.delivered) == ["b@y.test", "c@y.test"]
        report = await q.retry(ignore_schedule=True, send_options={"timeouts": FAST})
        assert report.attempted == 0
    assert len(s.messages) == 1
    assert {e.state for e in q.entries()} == {"delivered"}
    assert [a[1] for a in q.attempts_log()] == ["accepted", "accepted"]


async def test_transient_again_backs_off_then_expires_with_dsn(tmp_path: Path) -> None:
    clock = Clock()
    q = Queue(tmp_path / "q.db", clock=clock)
    dsns: list[tuple[dict[str, Any], list[RecipientResult], bool]] = []

    def on_dsn(message: dict[str, Any], results: list[RecipientResult], expired: bool) -> str:
        dsns.append((message, results, expired))
        return f"dsn-{len(dsns)}"

    async with ScriptedSMTP(replies={"RCPT": "450 4.2.1 Mailbox busy, try later"}) as s:
        q.enqueue(
            sender="a@x.test", message=MSG, recipients=[deferred("b@y.test")], options={"server": s.address}
        )
        clock.now += 1800
        report = await q.retry(send_options={"timeouts": FAST}, on_dsn=on_dsn)
        assert report.deferred == ["b@y.test"]
        (entry,) = q.entries()
        assert entry.attempts == 2 and entry.next_attempt - clock.now == 3600
        clock.now += DEFAULT_GIVE_UP
        report = await q.retry(send_options={"timeouts": FAST}, on_dsn=on_dsn)
    assert report.expired == ["b@y.test"] and report.dsns == ["dsn-1"]
    (entry,) = q.entries()
    assert entry.state == "expired" and entry.dsn_path == "dsn-1"
    ((message, results, expired),) = dsns
    assert expired and message["sender"] == "a@x.test" and message["body"] == MSG
    assert results[0].reply is not None and results[0].reply.code == 450
    # The DSN is owed once: a later run does not write it again.
    await q.retry(ignore_schedule=True, on_dsn=on_dsn)
    assert len(dsns) == 1


async def test_permanent_on_retry_fails_with_dsn(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.db")
    seen: list[bool] = []
    async with ScriptedSMTP(replies={"RCPT": "550 5.1.1 User unknown"}) as s:
        q.enqueue(
            sender="a@x.test", message=MSG, recipients=[deferred("b@y.test")], options={"server": s.address}
        )
        report = await q.retry(
            ignore_schedule=True,
            send_options={"timeouts": FAST},
            on_dsn=lambda m, r, e: seen.append(e) or "x",
        )
    assert report.failed == ["b@y.test"] and seen == [False]
    assert q.entries()[0].state == "failed"


async def test_dsn_written_by_cli_handler(tmp_path: Path) -> None:
    from smtpdiag.cli.client_cmd import deliver_dsn

    q = Queue(tmp_path / "q.db")
    async with ScriptedSMTP(replies={"RCPT": "550 5.1.1 User unknown"}) as s:
        q.enqueue(
            sender="a@x.test",
            message=MSG,
            recipients=["b@y.test"],
            options={"server": s.address, "dsn_dir": str(tmp_path / "dsn")},
            attempted=False,
        )
        report = await q.retry(send_options={"timeouts": FAST}, on_dsn=deliver_dsn)
    (path,) = report.dsns
    dsn = email.message_from_bytes(Path(path).read_bytes())
    assert dsn.get_content_type() == "multipart/report"
    assert b"Status: 5.1.1" in Path(path).read_bytes()


def test_one_run_at_a_time(tmp_path: Path) -> None:
    q1 = Queue(tmp_path / "q.db")
    q2 = Queue(tmp_path / "q.db")
    with q1._run_lock(), pytest.raises(QueueBusy):
        asyncio.run(q2.retry())


def test_flush(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.db")
    for _ in range(3):
        q.enqueue(sender="a@x", message=MSG, recipients=["b@y"])
    assert q.flush([2]) == 1
    assert sorted({e.message_id for e in q.entries()}) == [1, 3]
    assert q.flush() == 2 and q.entries() == []


# -- crash safety (subprocess + SIGKILL) ----------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys, time
    from smtpdiag.client.queue import Queue
    from smtpdiag.client.send import send_async
    from smtpdiag.client.session import Timeouts

    db, mode = sys.argv[1], sys.argv[2]
    fast = Timeouts(connect=2, initial=2, command=2, mail=2, rcpt=2, data_init=2, data_block=2, data_term=2)

    async def crashing_send(*args, on_final=None, **kwargs):
        def hook(results):
            if mode == "crash-before-commit":
                os.kill(os.getpid(), signal.SIGKILL)
            on_final(results)
            if mode == "crash-after-commit":
                os.kill(os.getpid(), signal.SIGKILL)
        return await send_async(*args, on_final=hook, **kwargs)

    async def main():
        q = Queue(db)
        while True:
            report = await q.retry(
                ignore_schedule=True, limit=1, send_options={"timeouts": fast}, send_function=crashing_send
            )
            if not report.attempted:
                print("empty", flush=True)
                return
            print("attempted", report.delivered, flush=True)
            time.sleep(0.5)  # between attempts: where the test kills us

    asyncio.run(main())
    """
)


async def _run_child(db: Path, mode: str, kill_after: int | None) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(db),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen = 0
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            break
        if line.startswith(b"attempted"):
            seen += 1
            if kill_after is not None and seen >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
    return await asyncio.wait_for(proc.wait(), 30)


def _queue_messages(db: Path, server: str, count: int) -> None:
    q = Queue(db)
    for i in range(count):
        body = MSG.replace(b"<q1@x.test>", f"<q{i}@x.test>".encode())
        q.enqueue(sender="a@x.test", message=body, recipients=[f"r{i}@y.test"], options={"server": server})
    q.close()


def _ids(server: ScriptedSMTP) -> list[str]:
    return sorted(
        line.split(b"<", 1)[1].split(b">", 1)[0].decode()
        for _s, _r, body in server.messages
        for line in body.split(b"\r\n")
        if line.startswith(b"Message-ID:")
    )


async def test_kill_between_attempts_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    async with ScriptedSMTP() as s:
        _queue_messages(db, s.address, 5)
        code = await _run_child(db, "normal", kill_after=2)
        assert code == -signal.SIGKILL
        assert len(s.messages) == 2
        code = await _run_child(db, "normal", kill_after=None)  # a fresh process finishes the job
        assert code == 0
    assert _ids(s) == [f"q{i}@x.test" for i in range(5)]  # each exactly once
    q = Queue(db)
    assert {e.state for e in q.entries()} == {"delivered"}


async def test_crash_after_commit_never_resends(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    async with ScriptedSMTP() as s:
        _queue_messages(db, s.address, 1)
        assert await _run_child(db, "crash-after-commit", kill_after=None) == -signal.SIGKILL
        assert await _run_child(db, "normal", kill_after=None) == 0
    assert _ids(s) == ["q0@x.test"]


async def test_crash_between_250_and_commit_resends_at_least_once(tmp_path: Path) -> None:
    # The documented at-least-once window: the server said 250 but the process died before the
    # queue recorded it, so the next run delivers again rather than risk losing the message.
    db = tmp_path / "q.db"
    async with ScriptedSMTP() as s:
        _queue_messages(db, s.address, 1)
        assert await _run_child(db, "crash-before-commit", kill_after=None) == -signal.SIGKILL
        assert await _run_child(db, "normal", kill_after=None) == 0
    assert _ids(s) == ["q0@x.test", "q0@x.test"]
    assert Queue(db).entries()[0].state == "delivered"


def test_queue_cli_list_retry_flush(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from smtpdiag.cli import cli

    db = str(tmp_path / "q.db")
    runner = CliRunner()
    assert "the queue is empty" in runner.invoke(cli, ["queue", "list", "--queue-db", db]).output

    async def scenario() -> Any:
        async with ScriptedSMTP() as s:
            _queue_messages(tmp_path / "q.db", s.address, 2)
            listed = await asyncio.to_thread(runner.invoke, cli, ["queue", "list", "--queue-db", db])
            not_due = await asyncio.to_thread(runner.invoke, cli, ["queue", "retry", "--queue-db", db])
            now = await asyncio.to_thread(runner.invoke, cli, ["queue", "retry", "--queue-db", db, "--now"])
            return listed, not_due, now, len(s.messages)

    listed, not_due, now, sent = asyncio.run(scenario())
    assert "r0@y.test" in listed.output and "queued" in listed.output
    assert not_due.exit_code == 0 and "tried 0 message(s)" in not_due.output
    assert now.exit_code == 0 and "2 delivered" in now.output and sent == 2
    out = runner.invoke(cli, ["queue", "flush", "--queue-db", db])
    assert out.exit_code == 0 and "removed 2" in out.output
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"garbage" * 100)
    out = runner.invoke(cli, ["queue", "list", "--queue-db", str(bad)])
    assert out.exit_code != 0 and "cannot open the queue" in out.output
    assert os.path.exists(bad)


def test_cli_expiry_writes_a_dsn_next_to_the_queue(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from smtpdiag.cli import cli

    db = str(tmp_path / "q.db")
    runner = CliRunner()

    async def scenario() -> tuple[Any, Any]:
        async with ScriptedSMTP(replies={"RCPT": "451 4.7.1 Greylisted, come back later"}) as s:
            args = ["send", "--from", "a@x.test", "--to", "b@y.test", "--server", s.address, "--queue-db", db]
            first = await asyncio.to_thread(runner.invoke, cli, args)
            await asyncio.sleep(1.1)
            args = ["queue", "retry", "--queue-db", db, "--now", "--give-up", "1"]
            retry = await asyncio.to_thread(runner.invoke, cli, args)
            return first, retry

    first, retry = asyncio.run(scenario())
    assert first.exit_code == 75 and "queued as message 1" in first.output
    assert retry.exit_code == 0 and "1 expired" in retry.output, retry.output
    (dsn,) = (tmp_path / "dsn").glob("*.eml")
    data = dsn.read_bytes()
    assert b"Action: failed" in data and b"Status: 4.7.1" in data and b"given up" in data
    assert Queue(db).entries()[0].state == "expired"


async def test_unusable_entry_fails_instead_of_crashing_the_run(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.db")
    q.enqueue(
        sender="a@x.test", message=b"\x00 not a message", recipients=["b@y.test"], options={"server": "h:25"}
    )
    report = await q.retry(ignore_schedule=True)
    assert report.failed == ["b@y.test"]
    (entry,) = q.entries()
    assert entry.state == "failed" and entry.last_result is not None and "NUL" in entry.last_result["detail"]
