"""The asyncio server: a thin transport around the sans-I/O protocol core.

One `SmtpSession` (an `asyncio.Protocol`) per connection feeds received bytes to its
`ServerConnection` and carries out what comes back, in order: write replies, wait out delays,
upgrade to TLS, stream message content into storage, commit the message before the reply to the
end of data, close. While it waits (a delay, a commit, a TLS handshake) it stops reading and holds
what already arrived, so replies always go out in the order of the commands.

Also here, because they need sockets and clocks: connection limits (total and per client IP),
command/data timeouts and the minimum data rate, the AUTH brute-force throttle (via the policy),
graceful shutdown with 421 4.3.2, and `run_until_signalled()` behind `smtpdiag serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import IO, Any, Final, cast

from smtpdiag.protocol import replies as R
from smtpdiag.protocol.events import (
    AuthAttempt,
    Close,
    CommandReceived,
    DataChunk,
    DataStart,
    Delay,
    Helo,
    MailFrom,
    MessageAborted,
    MessageComplete,
    MessageRejected,
    Output,
    PlaintextDiscarded,
    ProtocolError,
    RcptTo,
    Reset,
    Send,
    StartTLS,
)
from smtpdiag.protocol.policy import ACCEPT, Decision, DefaultPolicy
from smtpdiag.protocol.server import ServerConnection
from smtpdiag.reply import Reply
from smtpdiag.server.faults import FaultDecision, FaultEngine, FaultRule
from smtpdiag.server.policy import AuthThrottle, RuntimePolicy
from smtpdiag.server.scenarios import get_scenario
from smtpdiag.server.settings import Settings
from smtpdiag.server.storage import (
    MaildirStore,
    MemoryStore,
    MessageStore,
    MessageWriter,
    QuotaExceeded,
    StorageError,
    StorageFull,
    StoredMessage,
)
from smtpdiag.server.tls import GeneratedCertificate, server_context
from smtpdiag.server.transcript import Transcript, TranscriptLog

__all__ = ["ListenError", "ServerThread", "SmtpServer", "install_uvloop", "run_until_signalled"]

INTERNAL_ERROR: Final = Reply(code=421, lines=("Internal error, closing connection",), enhanced="4.3.0")
SHUTDOWN_GRACE: Final = 5.0  # seconds a message under way may take to finish when stopping
_session_ids = itertools.count(1)


def install_uvloop() -> bool:
    """Use uvloop's event loop policy when it is installed; True if it is now in use."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


class ListenError(OSError):
    """An address could not be bound; the message names it and says why."""

    def __init__(self, address: str, exc: OSError) -> None:
        in_use = exc.errno in (98, 48, 10048)  # EADDRINUSE on Linux, BSD/macOS, Windows
        reason = "address already in use" if in_use else (exc.strerror or str(exc))
        super().__init__(exc.errno, f"cannot listen on {address}: {reason}")
        self.address = address

    def __str__(self) -> str:
        return str(self.strerror)


def _storage_reply(exc: StorageError) -> Reply:
    if isinstance(exc, QuotaExceeded):
        return R.MAILBOX_FULL_PERMANENT if exc.permanent else R.MAILBOX_FULL
    return R.STORAGE_FULL if isinstance(exc, StorageFull) else R.LOCAL_ERROR


class SmtpSession(asyncio.Protocol):
    """One client connection."""

    __slots__ = (
        "auth_user",
        "batching",
        "busy",
        "closed",
        "conn",
        "counted",
        "data_bytes",
        "data_started",
        "held",
        "helo",
        "in_data",
        "last_activity",
        "loop",
        "peer_ip",
        "policy",
        "reading_paused",
        "recipients",
        "sender",
        "server",
        "session_id",
        "stopping",
        "timeout",
        "tls",
        "transcript",
        "transport",
        "wbuf",
        "write_error",
        "writer",
    )

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.conn: ServerConnection | None = None
        self.policy: RuntimePolicy | None = None
        self.transcript: Transcript | None = None
        self.session_id = ""
        self.closed = False
        self.counted = False
        # flow: while busy, received bytes wait in `held` and reading is paused
        self.busy = False
        self.held = bytearray()
        self.reading_paused = False
        self.batching = False  # inside _run: replies are gathered in wbuf
        self.wbuf: list[bytes] = []
        # the message being received
        self.writer: MessageWriter | None = None
        self.write_error: StorageError | None = None
        self.sender = ""
        self.recipients: list[str] = []
        self.helo = ""
        self.tls = False
        self.auth_user: str | None = None
        self.in_data = False
        self.data_started = 0.0
        self.data_bytes = 0
        # timeouts: the server's sweeper compares `last_activity` + `timeout` with the clock
        self.last_activity = 0.0
        self.timeout = 0.0
        self.stopping = False

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        server = self.server
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else ""
        if server.closing:
            self._refuse(R.SHUTTING_DOWN)
            return
        if not server.admit(self):
            self._refuse(R.TOO_MANY_CONNECTIONS)
            return
        self.counted = True
        self.session_id = f"{server.instance}-{next(_session_ids)}"
        if server.keep_transcripts:
            sock = transport.get_extra_info("sockname")
            self.transcript = server.transcripts.open(
                self.session_id,
                client=f"{self.peer_ip}:{peer[1] if peer else ''}",
                server=f"{sock[0]}:{sock[1]}" if sock else "",
            )
        self.policy = RuntimePolicy(
            server.settings, server.base_policy, server.faults, server.store, server.throttle
        )
        if self.transcript is not None or server.log is not None:
            self.policy.on_fault = self._fault_fired
        self.conn = ServerConnection(
            server.settings,
            self.policy,
            peer=self.peer_ip,
            tls_available=server.tls_context is not None,
            trace=self.transcript is not None,
        )
        self.last_activity = self.loop.time()
        self._arm_timer(server.settings.command_timeout)
        try:
            self._run(self.conn.start())
        except Exception as exc:
            self._internal_error(exc)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_activity = self.loop.time()
        if self.busy:
            self.held += data
            if len(self.held) > self.server.settings.max_input_buffer:
                self._fatal(R.INPUT_OVERFLOW, "input buffer overflow")
            elif not self.reading_paused and self.transport is not None:
                self.reading_paused = True
                self.transport.pause_reading()
            return
        if self.in_data:
            self.data_bytes += len(data)
            self._check_rate()
            if self.closed:
                return
        assert self.conn is not None
        try:
            self._run(self.conn.receive_data(data))
        except Exception as exc:  # a bug must not leave the client hanging or stop the server
            self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> None:
        self._log_event("internal error", error=repr(exc)[:500])
        self.server.say(f"{self.peer_ip} internal error: {exc!r}"[:500])
        self.batching = False
        self.wbuf.clear()
        self._fatal(INTERNAL_ERROR, "internal error")

    def eof_received(self) -> bool | None:
        return None  # close

    def connection_lost(self, exc: Exception | None) -> None:
        self._cleanup()

    # --- carrying out the core's outputs --------------------------------------------------------

    def _run(self, outputs: Sequence[Output]) -> None:
        """Carry out outputs synchronously until one needs waiting; then continue in a task.

        Replies to pipelined commands are gathered and written with one write at the end.
        """
        self.batching = True
        try:
            self._run_outputs(outputs)
        finally:
            self.batching = False
            if self.wbuf:
                self._flush()
        if self.stopping and not self.busy and not self.in_data and not self.closed:
            self._fatal(R.SHUTTING_DOWN, "shutdown")

    def _run_outputs(self, outputs: Sequence[Output]) -> None:
        for i, out in enumerate(outputs):
            if self.closed:
                return
            kind = type(out)
            if kind is Send:
                self._send(out)  # type: ignore[arg-type]
            elif kind is DataChunk:
                self._chunk(out.data)  # type: ignore[union-attr]
            elif kind is MessageComplete or kind is Delay or kind is StartTLS:
                if kind is MessageComplete and not self.server.store.durable and not self._has_eod_delay():
                    more = self._complete_sync(out)  # type: ignore[arg-type]
                    self._run_rest(more, outputs[i + 1 :])
                    return
                self._go_async(outputs[i:])
                return
            elif kind is Close:
                self._close()
                return
            else:
                self._event(out)

    def _run_rest(self, first: Sequence[Output], rest: Sequence[Output]) -> None:
        if rest:
            self._run_outputs([*first, *rest])
        else:
            self._run_outputs(first)

    def _go_async(self, outputs: Sequence[Output]) -> None:
        self._flush()
        self.busy = True
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        task = self.loop.create_task(self._run_async(list(outputs)))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _run_async(self, outputs: list[Output]) -> None:
        try:
            queue = outputs
            while queue and not self.closed:
                out = queue.pop(0)
                if isinstance(out, Send):
                    self._send(out)
                elif isinstance(out, Delay):
                    if out.seconds > 0:
                        await asyncio.sleep(out.seconds)
                elif isinstance(out, StartTLS):
                    more = await self._start_tls()
                    queue = [*more, *queue]
                elif isinstance(out, MessageComplete):
                    more = await self._complete_async(out)
                    queue = [*more, *queue]
                elif isinstance(out, DataChunk):
                    self._chunk(out.data)
                elif isinstance(out, Close):
                    self._close()
                    return
                else:
                    self._event(out)
        except Exception as exc:  # a bug must not leave the client hanging
            self._internal_error(exc)
            return
        finally:
            self.busy = False
        if self.closed:
            return
        if self.stopping:
            self._fatal(R.SHUTTING_DOWN, "shutdown")
            return
        held = bytes(self.held)
        self.held.clear()
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        if held:
            self.data_received(held)

    def _send(self, out: Send) -> None:
        if self.transcript is not None:
            self.transcript.reply(out.data)
        if self.batching:
            self.wbuf.append(out.data)
        elif self.transport is not None:
            self.transport.write(out.data)

    def _flush(self) -> None:
        if self.wbuf:
            data = b"".join(self.wbuf) if len(self.wbuf) > 1 else self.wbuf[0]
            self.wbuf.clear()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    def _write_reply(self, reply: Reply) -> None:
        data = R.wire(reply)
        if self.transcript is not None:
            self.transcript.reply(data)
        self._flush()
        if self.transport is not None:
            self.transport.write(data)

    def _event(self, out: Output) -> None:
        kind = type(out)
        if kind is CommandReceived:
            if self.transcript is not None:
                self.transcript.command(out.line)  # type: ignore[union-attr]
        elif kind is MailFrom:
            self.sender = out.sender  # type: ignore[union-attr]
            self.recipients = []
        elif kind is RcptTo:
            self.recipients.append(out.recipient)  # type: ignore[union-attr]
        elif kind is DataStart:
            self._begin_message()
        elif kind is MessageRejected or kind is MessageAborted:
            self._abort_message(getattr(out, "reason", ""))
        elif kind is Reset:
            if self.policy is not None:
                self.policy.drop_message = False
            self._abort_message("reset")
            self.sender = ""
            self.recipients = []
        elif kind is Helo:
            self.helo = out.hostname  # type: ignore[union-attr]
        elif kind is AuthAttempt:
            if out.success:  # type: ignore[union-attr]
                self.auth_user = out.username  # type: ignore[union-attr]
            self._log_event("auth", mechanism=out.mechanism, success=out.success)  # type: ignore[union-attr]
        elif kind is ProtocolError or kind is PlaintextDiscarded:
            self._log_event(kind.__name__)

    def _fault_fired(self, stage: str, decision: FaultDecision) -> None:
        reply = decision.reply
        what = (
            f"{reply[0]} {reply[1] or ''} {reply[2]}".replace("  ", " ")
            if reply
            else (
                "raw output"
                if decision.raw
                else "disconnect"
                if decision.disconnect
                else "drop"
                if decision.drop
                else "delay"
            )
        )
        self._log_event("fault", stage=stage, rule=decision.rule_id, name=decision.rule_name, action=what)
        if self.server.log is not None:
            label = f"#{decision.rule_id}" + (f" {decision.rule_name}" if decision.rule_name else "")
            delay = f" after {decision.delay:g} s" if decision.delay else ""
            self.server.say(f"{self.peer_ip} rule {label} at {stage}: {what}{delay}")

    def _log_event(self, what: str, **details: Any) -> None:
        if self.transcript is not None:
            self.transcript.event(what, **details)

    # --- messages --------------------------------------------------------------------------------

    def _begin_message(self) -> None:
        self.in_data = True
        self.data_started = self.loop.time()
        self.data_bytes = 0
        self._arm_timer(self.server.settings.data_timeout)
        try:
            self.writer = self.server.store.begin(
                self.sender,
                self.recipients,
                client_ip=self.peer_ip,
                helo=self.helo,
                session_id=self.session_id,
                local_name=self.server.settings.hostname,
            )
            self.write_error = None
        except StorageError as exc:
            self.writer = None
            self.write_error = exc

    def _chunk(self, data: bytes) -> None:
        writer = self.writer
        if writer is not None:
            try:
                writer.write(data)
            except StorageError as exc:
                self.writer = None
                self.write_error = exc

    def _abort_message(self, reason: str) -> None:
        self.in_data = False
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    def _has_eod_delay(self) -> bool:
        return self.server.faults.has_stage("end_of_data")

    def _end_of_data_faults(self) -> Decision | None:
        """The end_of_data rules' verdict; None when the message is to be stored normally."""
        assert self.policy is not None and self.conn is not None
        if not self._has_eod_delay():
            return None
        decision = self.policy.end_of_data(self.conn.session)
        if (
            decision.reply is None
            and not decision.disconnect
            and not decision.drop
            and not decision.delay_seconds
        ):
            return None
        return decision

    def _store_error_reply(self, writer: MessageWriter | None) -> Reply | None:
        err = self.write_error
        self.write_error = None
        if err is None and writer is None:
            err = StorageError("no writer")
        return None if err is None else _storage_reply(err)

    def _check_quota(self, recipients: Iterable[str], size: int) -> Reply | None:
        for rcpt in recipients:
            try:
                self.server.store.check_quota(rcpt, size)
            except QuotaExceeded as exc:
                return R.MAILBOX_FULL_PERMANENT if exc.permanent else R.MAILBOX_FULL
        return None

    def _prepare_commit(self, out: MessageComplete) -> tuple[MessageWriter | None, Decision | None]:
        """(writer to commit, None), or (None, the decision to answer the end of data with)."""
        self.in_data = False
        self._arm_timer(self.server.settings.command_timeout)
        writer = self.writer
        self.writer = None
        drop = False
        if self.policy is not None:
            drop = self.policy.drop_message
            self.policy.drop_message = False
        refused = self._store_error_reply(writer) or self._check_quota(
            out.envelope.recipients, out.envelope.size
        )
        if refused is not None or writer is None:
            if writer is not None:
                writer.abort()
            return None, Decision(refused or R.LOCAL_ERROR)
        if drop:
            writer.abort()
            self._log_event("dropped")
            return None, ACCEPT
        return writer, None

    def _stored(self, stored: StoredMessage) -> Sequence[Output]:
        assert self.conn is not None
        self.server.messages_stored += 1
        self._log_event("stored", id=stored.id, size=stored.size)
        if self.server.log is not None:
            self.server.say(
                f"{self.peer_ip} stored {stored.id} ({stored.size} octets) from <{stored.sender}>"
                f" to {', '.join(stored.recipients)}"
            )
        if self.closed:
            return []
        return self.conn.complete_message(None, queue_id=stored.id)

    def _complete_sync(self, out: MessageComplete) -> Sequence[Output]:
        """Memory storage with no end-of-data rules: store and answer at once."""
        assert self.conn is not None
        writer, decision = self._prepare_commit(out)
        if writer is None:
            return self.conn.complete_message(decision)
        try:
            stored = writer.commit()
        except StorageError as exc:
            return self.conn.complete_message(Decision(_storage_reply(exc)))
        return self._stored(stored)

    async def _complete_async(self, out: MessageComplete) -> Sequence[Output]:
        assert self.conn is not None
        self.in_data = False  # the client has said its part; waiting now is on us
        self._arm_timer(self.server.settings.command_timeout)
        fault = self._end_of_data_faults()
        if fault is not None:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if self.closed:
                return []
            if fault.reply is not None or fault.disconnect:
                self._abort_message("refused at end of data")
                if self.policy is not None:
                    self.policy.drop_message = False
                self._arm_timer(self.server.settings.command_timeout)
                disconnect = fault.disconnect or (fault.reply is not None and fault.reply.code == 421)
                return self.conn.complete_message(Decision(fault.reply, disconnect=disconnect))
        writer, decision = self._prepare_commit(out)
        if writer is None:
            return self.conn.complete_message(decision)
        try:
            if self.server.store.durable:
                stored = await self.loop.run_in_executor(self.server.executor, writer.commit)
            else:
                stored = writer.commit()
        except StorageError as exc:
            return [] if self.closed else self.conn.complete_message(Decision(_storage_reply(exc)))
        return self._stored(stored)

    # --- TLS -------------------------------------------------------------------------------------

    async def _start_tls(self) -> Sequence[Output]:
        assert self.conn is not None and self.transport is not None
        ctx = self.server.tls_context
        if ctx is None:  # the core only offers STARTTLS when we said it is available
            self._close()
            return []
        if self.held:  # plaintext pipelined after STARTTLS is discarded (RFC 3207 4.2)
            self._log_event("PlaintextDiscarded", octets=len(self.held))
            self.held.clear()
        try:
            new_transport = await asyncio.wait_for(
                self.loop.start_tls(self.transport, self, ctx, server_side=True),
                timeout=min(self.server.settings.command_timeout, 60.0),
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            self._log_event("tls failed", error=str(exc)[:200])
            self._close()
            return []
        if new_transport is None:
            self._close()
            return []
        self.transport = new_transport
        self.reading_paused = False  # the SSL transport reads on its own
        self.tls = True
        ssl_obj = new_transport.get_extra_info("ssl_object")
        self._log_event(
            "tls",
            version=getattr(ssl_obj, "version", lambda: "")(),
            cipher=(getattr(ssl_obj, "cipher", lambda: None)() or ("",))[0],
        )
        return self.conn.tls_started()

    # --- timeouts --------------------------------------------------------------------------------

    def _arm_timer(self, seconds: float) -> None:
        """Allow `seconds` of silence from the client (counted from its last activity)."""
        self.timeout = seconds

    def check_timeout(self, now: float) -> None:
        """Called by the server's sweeper: 421 4.4.2 if the client has been silent too long."""
        if self.closed or (self.busy and not self.in_data):
            return  # waiting on ourselves (a delay, a commit): not the client's fault
        if now - self.last_activity >= self.timeout:
            self._fatal(R.TIMEOUT, "timeout")
        elif self.in_data:
            self._check_rate()

    def _check_rate(self) -> None:
        rate = self.server.settings.min_data_rate
        if not rate or not self.in_data:
            return
        elapsed = self.loop.time() - self.data_started
        if elapsed > self.server.settings.data_timeout and self.data_bytes / elapsed < rate:
            self._fatal(R.TIMEOUT, "minimum data rate")

    # --- closing ---------------------------------------------------------------------------------

    def _refuse(self, reply: Reply) -> None:
        assert self.transport is not None
        self.transport.write(R.wire(reply))
        self.closed = True
        self.transport.close()

    def _fatal(self, reply: Reply, why: str) -> None:
        """Send a 421 on our own initiative and close (through the core when it can say it)."""
        if self.closed:
            return
        self._log_event(why)
        conn = self.conn
        if conn is not None and not conn.closed and reply in (R.TIMEOUT, R.SHUTTING_DOWN):
            outputs = conn.timeout() if reply is R.TIMEOUT else conn.shutdown()
            for out in outputs:
                if isinstance(out, Send):
                    self._send(out)
            self._close()
            return
        self._write_reply(reply)
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self._flush()
        if self.policy is not None and self.policy.raw_output is not None and self.transport is not None:
            self.transport.write(self.policy.raw_output)
            self.policy.raw_output = None
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._cleanup()

    def _cleanup(self) -> None:
        self.closed = True
        self._abort_message("disconnect")
        if self.counted:
            self.counted = False
            self.server.release(self)
        if self.transcript is not None:
            self.transcript.close()

    def shutdown(self) -> None:
        """The server is stopping: 421 4.3.2 now, or after the message under way."""
        self.stopping = True
        if not self.busy and not self.in_data:
            self._fatal(R.SHUTTING_DOWN, "shutdown")


class SmtpServer:
    """A running `smtpdiag serve`: listener, sessions, rules, storage, transcripts, HTTP API."""

    def __init__(
        self,
        settings: Settings,
        *,
        rules: Iterable[FaultRule] = (),
        seed: int | None = None,
        store: MessageStore | None = None,
        keep_transcripts: bool = True,
        log: IO[str] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.faults = FaultEngine(rules, seed=seed)
        if store is None:
            if settings.storage == "memory":
                store = MemoryStore(quota=settings.quota_per_mailbox or None)
            else:
                store = MaildirStore(
                    settings.maildir, quota=settings.quota_per_mailbox or None, fsync=settings.fsync
                )
        self.store = store
        self.transcripts = TranscriptLog(settings.transcript_dir or None)
        self.keep_transcripts = keep_transcripts or bool(settings.transcript_dir)
        self.base_policy = DefaultPolicy(settings)
        self.throttle = AuthThrottle(settings.auth_failure_limit, settings.auth_failure_window)
        self.tls_context: ssl.SSLContext | None = None
        self.tls_certificate: GeneratedCertificate | None = None
        self.sessions: set[SmtpSession] = set()
        self.per_ip: dict[str, int] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closing = False
        self.instance = f"{int(time.time()):x}{os.getpid():x}"
        self.executor: Any = None
        self._server: asyncio.Server | None = None
        self._http: Any = None
        self.host = settings.listen_host
        self.port = settings.listen_port
        self.http_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self.sweep_interval = 1.0
        self.connections_total = 0  # sessions admitted since start
        self.messages_stored = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def _sweep(self) -> None:
        """Check every session's timeouts; one timer for all sessions instead of one each."""
        if self.closing or self._loop is None:
            return
        now = self._loop.time()
        for session in list(self.sessions):
            session.check_timeout(now)
        self._sweeper = self._loop.call_at(now + self.sweep_interval, self._sweep)

    def say(self, line: str) -> None:
        """One line to the log (stderr for `smtpdiag serve`), if there is one."""
        if self.log is not None:
            stamp = time.strftime("%H:%M:%S")
            try:
                print(f"{stamp} {line}", file=self.log, flush=True)
            except (OSError, ValueError):
                self.log = None

    def admit(self, session: SmtpSession) -> bool:
        s = self.settings
        if (
            len(self.sessions) >= s.max_connections
            or self.per_ip.get(session.peer_ip, 0) >= s.max_connections_per_ip
        ):
            return False
        self.sessions.add(session)
        self.per_ip[session.peer_ip] = self.per_ip.get(session.peer_ip, 0) + 1
        self.connections_total += 1
        return True

    def release(self, session: SmtpSession) -> None:
        self.sessions.discard(session)
        n = self.per_ip.get(session.peer_ip, 0) - 1
        if n > 0:
            self.per_ip[session.peer_ip] = n
        else:
            self.per_ip.pop(session.peer_ip, None)

    # --- control --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Settings (passwords masked) and counters."""
        return {
            "settings": self.settings.as_dict(),
            "listening": f"{self.host}:{self.port}",
            "sessions_open": len(self.sessions),
            "connections_total": self.connections_total,
            "messages_stored": self.messages_stored,
            "messages_in_store": self.store.count(),
            "rules": len(self.faults),
        }

    def scenario(self, name: str) -> list[int]:
        """Replace the fault rules with a named scenario's."""
        return self.faults.replace_all(get_scenario(name).rules)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving (OSError if the address is in use)."""
        from concurrent.futures import ThreadPoolExecutor

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        s = self.settings
        if s.starttls:
            cert = s.tls_cert or None
            key = s.tls_key or None
            self.tls_context, self.tls_certificate = server_context(cert, key, hostname=s.hostname)
        if self.store.durable:
            self.executor = ThreadPoolExecutor(
                max_workers=min(32, s.max_connections), thread_name_prefix="smtpdiag-store"
            )
        try:
            self._server = await self._loop.create_server(
                lambda: SmtpSession(self),
                s.listen_host,
                s.listen_port,
                backlog=min(1024, s.max_connections * 2),
                reuse_address=True,
            )
        except OSError as exc:
            raise ListenError(s.listen, exc) from exc
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])
        # timeouts are checked this often: fine enough for the shortest configured timeout
        self.sweep_interval = max(0.02, min(1.0, s.command_timeout / 10, s.data_timeout / 10))
        self._sweeper = self._loop.call_later(self.sweep_interval, self._sweep)
        if s.http_listen:
            from smtpdiag.server.http_api import HttpApi
            from smtpdiag.server.settings import parse_hostport

            host, port = parse_hostport(s.http_listen, "http_listen")
            self._http = HttpApi(self, host, port)
            try:
                await self._http.start()
            except OSError as exc:
                self._server.close()
                raise ListenError(s.http_listen, exc) from exc
            self.http_port = self._http.port

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, say 421 4.3.2 to every session (after a message under way), close."""
        if self.closing:
            return
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        if self._http is not None:
            await self._http.close()
        for session in list(self.sessions):
            session.shutdown()
        deadline = time.monotonic() + grace
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session._fatal(R.SHUTTING_DOWN, "shutdown")
        for task in list(self.tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if isinstance(self.store, MaildirStore):
            self.store.close()
        if self._stopped is not None:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()


class ServerThread:
    """A server running in a background thread with its own event loop (for tests and sync code)."""

    def __init__(self, settings: Settings, *, use_uvloop: bool = False, **kwargs: Any) -> None:
        self.server = SmtpServer(settings, **kwargs)
        self.use_uvloop = use_uvloop
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> SmtpServer:
        self._thread = threading.Thread(target=self._main, name="smtpdiag-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("smtpdiag server did not start in time")
        if self._error is not None:
            raise self._error
        return self.server

    def _main(self) -> None:
        loop: asyncio.AbstractEventLoop
        if self.use_uvloop:
            import uvloop

            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(self.server.wait_stopped())
        finally:
            loop.close()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` in the server's loop thread and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stop(self, grace: float = 1.0) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(grace), self._loop)
            with contextlib.suppress(Exception):
                fut.result(grace + 10)
        self._thread.join(10)
        self._thread = None


def run_until_signalled(
    settings: Settings,
    *,
    rules: Iterable[FaultRule] = (),
    seed: int | None = None,
    log: IO[str] | None = None,
    keep_transcripts: bool = True,
) -> int:
    """`smtpdiag serve`: run until SIGINT/SIGTERM; return the exit code (0, or 1 if it cannot start)."""
    install_uvloop()
    return asyncio.run(_serve_main(settings, list(rules), seed, log, keep_transcripts))


async def _serve_main(
    settings: Settings, rules: list[FaultRule], seed: int | None, log: IO[str] | None, keep_transcripts: bool
) -> int:
    from smtpdiag.server.tls import TlsSetupError

    try:
        server = SmtpServer(settings, rules=rules, seed=seed, keep_transcripts=keep_transcripts, log=log)
    except OSError as exc:
        print(
            f"smtpdiag serve: cannot use storage {settings.maildir}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    try:
        await server.start()
    except ListenError as exc:
        print(f"smtpdiag serve: {exc}", file=sys.stderr)
        return 1
    except TlsSetupError as exc:
        print(f"smtpdiag serve: {exc}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # the start-up lines always go to stderr (they say where to connect); `log` gets the activity
    where = "memory" if settings.storage == "memory" else f"Maildir {settings.maildir}"
    print(f"smtpdiag serve: listening on {server.host}:{server.port}, storing to {where}", file=sys.stderr)
    if server.http_port is not None:
        http_host = settings.http_listen.rsplit(":", 1)[0]
        print(f"smtpdiag serve: HTTP API on http://{http_host}:{server.http_port}/", file=sys.stderr)
    if len(server.faults):
        print(f"smtpdiag serve: {len(server.faults)} fault rule(s) active", file=sys.stderr)
    sys.stderr.flush()
    await stop.wait()
    print("smtpdiag serve: shutting down", file=sys.stderr)
    sys.stderr.flush()
    await server.stop()
    return 0
