"""A durable retry queue on SQLite (WAL) for recipients that failed temporarily.

Schedule (RFC 5321 §4.5.4.1): the first retry comes no sooner than `first_retry` (default 30 min)
after the failed attempt; each later wait doubles, up to `max_interval` (default 4 h); a recipient
still failing temporarily `give_up` (default 5 days) after the message was queued is expired, and
a DSN is written for it, as for a permanent failure.

Delivery guarantee: **at least once**. The outcome of a transaction is committed in one SQLite
transaction as soon as the server has answered the end of data (before QUIT, via `on_final`), so
a 250 that was recorded is never sent again. The only window for a duplicate is a crash (or a lost
connection) between the server's 250 leaving the server and that commit: the entry is still
`queued` and the next run sends it again. The alternative (mark "sent" before the final dot:
at most once) would lose mail on every crash in that window, which RFC 5321 §6.1 forbids ("the
receiver-SMTP MUST NOT lose the message"); a duplicate is the lesser harm, and receivers can drop
it by Message-ID.

One run at a time: `retry` holds an exclusive lock file (`<db>.lock`, `fcntl.flock`) so two runs
never send the same entry concurrently; the lock dies with its process, so a killed run never
blocks the next one.

DSNs owed (permanent failure or expiry) are recorded in the same transaction as the state change
(`dsn_pending`); they are written afterwards and the flag cleared, so a crash in between leads to
the DSN being written by the next run rather than never.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from smtpdiag.client.explanation import Explanation
from smtpdiag.client.send import (
    AddressError,
    MessageError,
    RecipientResult,
    RecipientStatus,
    SendResult,
    send_async,
)
from smtpdiag.reply import Reply

DEFAULT_FIRST_RETRY = 30 * 60.0
DEFAULT_MAX_INTERVAL = 4 * 3600.0
DEFAULT_GIVE_UP = 5 * 86400.0
BUSY_TIMEOUT = 10.0  # seconds SQLite waits for a lock held by another process

QueueState = Literal["queued", "delivered", "failed", "expired"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY,
    created     REAL NOT NULL,
    sender      TEXT NOT NULL,
    body        BLOB NOT NULL,
    options     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    address      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed', 'expired')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_attempt REAL,
    last_result  TEXT,
    dsn_pending  INTEGER NOT NULL DEFAULT 0,
    dsn_path     TEXT,
    UNIQUE (message_id, address)
);
CREATE INDEX IF NOT EXISTS recipients_due ON recipients (state, next_attempt);
CREATE TABLE IF NOT EXISTS attempts (
    id           INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    at           REAL NOT NULL,
    status       TEXT NOT NULL,
    reply        TEXT NOT NULL
);
"""


class QueueBusy(RuntimeError):
    """Another process is running the queue right now."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One recipient of one queued message."""

    message_id: int
    recipient: str
    sender: str
    state: QueueState
    attempts: int
    created: float
    next_attempt: float
    last_attempt: float | None
    last_result: dict[str, Any] | None
    dsn_path: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "recipient": self.recipient,
            "sender": self.sender,
            "state": self.state,
            "attempts": self.attempts,
            "created": _iso(self.created),
            "next_attempt": _iso(self.next_attempt) if self.state == "queued" else None,
            "last_attempt": _iso(self.last_attempt) if self.last_attempt else None,
            "last_result": self.last_result,
            "dsn": self.dsn_path,
        }


@dataclass(slots=True)
class RetryReport:
    """What one `retry` run did."""

    attempted: int = 0  # messages tried
    delivered: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    dsns: list[str] = field(default_factory=list)
    results: list[SendResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "delivered": self.delivered,
            "deferred": self.deferred,
            "failed": self.failed,
            "expired": self.expired,
            "dsns": self.dsns,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _result_json(r: RecipientResult) -> str:
    return json.dumps(r.to_json(), ensure_ascii=False)


SendFunction = Callable[..., Awaitable[SendResult]]
DSNHandler = Callable[[dict[str, Any], list[RecipientResult], bool], str | None]


class Queue:
    """The queue database. Cheap to open; every change is its own transaction."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        first_retry: float = DEFAULT_FIRST_RETRY,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        give_up: float = DEFAULT_GIVE_UP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if first_retry < 0 or max_interval < first_retry or give_up <= 0:
            raise ValueError("need 0 <= first_retry <= max_interval and give_up > 0")
        self.path = Path(path)
        self.first_retry = first_retry
        self.max_interval = max_interval
        self.give_up = give_up
        self.clock = clock
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we go on
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- schedule ---------------------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1 -> first_retry, then doubling)."""
        exponent = max(attempts - 1, 0)
        return float(min(self.first_retry * (2 ** min(exponent, 32)), self.max_interval))

    # -- adding -----------------------------------------------------------------------------------
    def enqueue(
        self,
        *,
        sender: str,
        message: bytes,
        recipients: Sequence[RecipientResult | str],
        options: dict[str, Any] | None = None,
        attempted: bool = True,
    ) -> int:
        """Queue `message` for `recipients`; `attempted`: a first attempt already failed just now.

        `options` are the delivery settings for retries (server, port, starttls, dsn_dir, ...); they
        must be JSON-serialisable and never contain secrets.
        """
        if not recipients:
            raise ValueError("nothing to queue: no recipients")
        now = self.clock()
        opts = dict(options or {})
        if any("password" in key.lower() for key in opts):
            raise ValueError("queue options must not contain passwords")
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO messages (created, sender, body, options) VALUES (?, ?, ?, ?)",
                (now, sender, message, json.dumps(opts)),
            )
            message_id = int(cursor.lastrowid or 0)
            for item in recipients:
                address = item if isinstance(item, str) else item.recipient
                result = None if isinstance(item, str) else _result_json(item)
                tries = 1 if attempted else 0
                db.execute(
                    "INSERT INTO recipients (message_id, address, state, attempts, next_attempt,"
                    " last_attempt, last_result) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                    (
                        message_id,
                        address,
                        tries,
                        now + (self.backoff(tries) if attempted else 0.0),
                        now if attempted else None,
                        result,
                    ),
                )
        return message_id

    # -- reading ----------------------------------------------------------------------------------
    def entries(self, *, state: QueueState | None = None) -> list[QueueEntry]:
        sql = (
            "SELECT r.*, m.sender, m.created FROM recipients r JOIN messages m ON m.id = r.message_id"
            + (" WHERE r.state = ?" if state else "")
            + " ORDER BY r.message_id, r.id"
        )
        rows = self._db.execute(sql, (state,) if state else ()).fetchall()
        return [
            QueueEntry(
                message_id=row["message_id"],
                recipient=row["address"],
                sender=row["sender"],
                state=row["state"],
                attempts=row["attempts"],
                created=row["created"],
                next_attempt=row["next_attempt"],
                last_attempt=row["last_attempt"],
                last_result=json.loads(row["last_result"]) if row["last_result"] else None,
                dsn_path=row["dsn_path"],
            )
            for row in rows
        ]

    def attempts_log(self) -> list[tuple[str, str, str]]:
        """(recipient, status, reply) of every recorded attempt, oldest first."""
        rows = self._db.execute(
            "SELECT r.address, a.status, a.reply FROM attempts a JOIN recipients r ON r.id = a.recipient_id"
            " ORDER BY a.id"
        ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def _message(self, message_id: int) -> dict[str, Any]:
        row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return {
            "id": row["id"],
            "created": row["created"],
            "sender": row["sender"],
            "body": bytes(row["body"]),
            "options": json.loads(row["options"]),
        }

    def due(self, *, ignore_schedule: bool = False) -> dict[int, list[str]]:
        """message id -> queued recipients whose next attempt is due."""
        now = self.clock()
        rows = self._db.execute(
            "SELECT message_id, address FROM recipients WHERE state = 'queued'"
            + ("" if ignore_schedule else " AND next_attempt <= ?")
            + " ORDER BY message_id, id",
            () if ignore_schedule else (now,),
        ).fetchall()
        out: dict[int, list[str]] = {}
        for row in rows:
            out.setdefault(int(row[0]), []).append(str(row[1]))
        return out

    # -- recording --------------------------------------------------------------------------------
    def record(self, message_id: int, results: Sequence[RecipientResult]) -> dict[str, QueueState]:
        """Record the results of one attempt in one transaction; returns each recipient's new state.

        Only recipients still `queued` change: a result arriving twice (on_final, then the end of
        send) is recorded once.
        """
        now = self.clock()
        states: dict[str, QueueState] = {}
        with self._transaction() as db:
            created = db.execute("SELECT created FROM messages WHERE id = ?", (message_id,)).fetchone()
            if created is None:
                return states
            for r in results:
                row = db.execute(
                    "SELECT id, attempts, state FROM recipients WHERE message_id = ? AND address = ?",
                    (message_id, r.recipient),
                ).fetchone()
                if row is None or row["state"] != "queued":
                    continue
                attempts = int(row["attempts"]) + 1
                new_state: QueueState
                if r.status == "accepted":
                    new_state, next_attempt, dsn = "delivered", now, 0
                elif r.status == "permanent":
                    new_state, next_attempt, dsn = "failed", now, 1
                else:
                    next_attempt = now + self.backoff(attempts)
                    expired = now - float(created[0]) >= self.give_up
                    new_state, dsn = ("expired", 1) if expired else ("queued", 0)
                db.execute(
                    "UPDATE recipients SET state = ?, attempts = ?, next_attempt = ?, last_attempt = ?,"
                    " last_result = ?, dsn_pending = ? WHERE id = ?",
                    (new_state, attempts, next_attempt, now, _result_json(r), dsn, row["id"]),
                )
                db.execute(
                    "INSERT INTO attempts (recipient_id, at, status, reply) VALUES (?, ?, ?, ?)",
                    (row["id"], now, r.status, r.text),
                )
                states[r.recipient] = new_state
        return states

    # -- running ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _run_lock(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise QueueBusy(f"another process is running the queue {self.path}") from None
            yield
        finally:
            os.close(fd)

    async def retry(
        self,
        *,
        ignore_schedule: bool = False,
        send_function: SendFunction = send_async,
        on_dsn: DSNHandler | None = None,
        send_options: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> RetryReport:
        """Try every due entry once (all queued ones with `ignore_schedule`).

        `send_options` are passed to the send function on top of each message's stored options
        (e.g. a password, a resolver, timeouts: things never stored). `on_dsn(message, results,
        expired)` is called for recipients that failed permanently or expired and returns where the
        DSN went (or None); see `smtpdiag.cli.client_cmd` for the default that writes files.
        """
        report = RetryReport()
        with self._run_lock():
            self._deliver_pending_dsns(on_dsn, report)
            for count, (message_id, recipients) in enumerate(
                self.due(ignore_schedule=ignore_schedule).items()
            ):
                if limit is not None and count >= limit:
                    break
                message = self._message(message_id)
                options = {**message["options"], **(send_options or {})}
                options.pop("dsn_dir", None)
                options.pop("dsn_to_sender", None)
                report.attempted += 1

                def commit(results: list[RecipientResult], mid: int = message_id) -> None:
                    self.record(mid, results)

                try:
                    result = await send_function(
                        message["body"],
                        sender=message["sender"],
                        recipients=recipients,
                        on_final=commit,
                        **options,
                    )
                except (AddressError, MessageError) as exc:
                    # The entry itself is unusable (edited database, stricter checks than when it
                    # was queued): retrying cannot help, so it fails like a permanent refusal.
                    result = SendResult(
                        sender=message["sender"],
                        recipients=[
                            RecipientResult(r, "permanent", "QUEUE", detail=str(exc), enhanced_status="5.6.0")
                            for r in recipients
                        ],
                    )
                report.results.append(result)
                states = self.record(message_id, result.recipients)
                final_states = self._states(message_id)
                for r in result.recipients:
                    state = states.get(r.recipient) or final_states.get(r.recipient)
                    {"delivered": report.delivered, "queued": report.deferred, "failed": report.failed}.get(
                        state or "", report.expired
                    ).append(r.recipient)
            self._deliver_pending_dsns(on_dsn, report)
        return report

    def _states(self, message_id: int) -> dict[str, QueueState]:
        rows = self._db.execute(
            "SELECT address, state FROM recipients WHERE message_id = ?", (message_id,)
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def _deliver_pending_dsns(self, on_dsn: DSNHandler | None, report: RetryReport) -> None:
        if on_dsn is None:
            return
        rows = self._db.execute(
            "SELECT message_id, address, state, last_result FROM recipients WHERE dsn_pending = 1"
            " ORDER BY message_id, id"
        ).fetchall()
        by_message: dict[tuple[int, bool], list[RecipientResult]] = {}
        for row in rows:
            expired = row["state"] == "expired"
            by_message.setdefault((int(row["message_id"]), expired), []).append(
                _result_from_json(row["address"], row["last_result"], expired)
            )
        for (message_id, expired), results in by_message.items():
            where = on_dsn(self._message(message_id), results, expired)
            with self._transaction() as db:
                for r in results:
                    db.execute(
                        "UPDATE recipients SET dsn_pending = 0, dsn_path = ?"
                        " WHERE message_id = ? AND address = ?",
                        (where, message_id, r.recipient),
                    )
            if where:
                report.dsns.append(where)

    # -- removing ---------------------------------------------------------------------------------
    def flush(self, message_ids: Sequence[int] | None = None, *, state: QueueState | None = None) -> int:
        """Drop messages (all, the given ids, or those having a recipient in `state`); returns how many."""
        with self._transaction() as db:
            if message_ids:
                marks = ",".join("?" * len(message_ids))
                cursor = db.execute(f"DELETE FROM messages WHERE id IN ({marks})", tuple(message_ids))
            elif state:
                cursor = db.execute(
                    "DELETE FROM messages WHERE id IN (SELECT message_id FROM recipients WHERE state = ?)",
                    (state,),
                )
            else:
                cursor = db.execute("DELETE FROM messages")
            return int(cursor.rowcount)

    def expires_at(self, created: float) -> datetime:
        return datetime.fromtimestamp(created, UTC) + timedelta(seconds=self.give_up)


def _result_from_json(address: str, text: str | None, expired: bool) -> RecipientResult:
    data: dict[str, Any] = json.loads(text) if text else {}
    reply = None
    if data.get("code"):
        raw = str(data.get("reply") or "")
        code = int(data["code"])
        rest = raw[3:].strip()
        enhanced = data.get("enhanced")
        if enhanced and rest.startswith(str(enhanced)):
            rest = rest[len(str(enhanced)) :].strip()
        reply = Reply(code=code, lines=(rest,), enhanced=enhanced)
    explanation_data = data.get("explanation") or None
    explanation = (
        Explanation(
            summary=str(explanation_data.get("summary", "")),
            reason=str(explanation_data.get("reason", "")),
            permanent=explanation_data.get("permanent"),
            retry=str(explanation_data.get("retry", "")),
        )
        if isinstance(explanation_data, dict)
        else None
    )
    status: RecipientStatus = "transient" if expired else "permanent"
    if data.get("status") in ("accepted", "transient", "permanent"):
        status = data["status"]
    return RecipientResult(
        recipient=address,
        status=status,
        step=str(data.get("step") or ""),
        reply=reply,
        detail=str(data.get("detail") or ""),
        explanation=explanation,
        server=str(data.get("server") or ""),
        enhanced_status=str(data.get("enhanced") or ""),
    )
