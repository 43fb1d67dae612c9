"""`ServerConnection`: one SMTP server session as a sans-I/O state machine.

See the package docstring for how a runtime drives it, `state.py` for the transition rules and
`replies.py` for every reply. This module parses input and talks; it never touches a socket, a clock
or a thread, and nothing it holds grows without bound.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from smtpdiag.protocol import replies as R
from smtpdiag.protocol.data import DotReader
from smtpdiag.protocol.events import (
    AuthAttempt,
    Close,
    CommandReceived,
    DataChunk,
    DataStart,
    Delay,
    Envelope,
    Helo,
    MailFrom,
    MessageAborted,
    MessageComplete,
    MessageRejected,
    Output,
    PlaintextDiscarded,
    ProtocolError,
    Quit,
    RcptTo,
    Reset,
    Send,
    StartTLS,
)
from smtpdiag.protocol.policy import ACCEPT, Decision, DefaultPolicy, Policy, Session
from smtpdiag.protocol.state import (
    COMMANDS,
    IN_MESSAGE,
    IN_TRANSACTION,
    JUNK_VERBS,
    KNOWN_VERBS,
    NOT_IMPLEMENTED_VERBS,
    State,
    sequence_error,
)
from smtpdiag.reply import Reply
from smtpdiag.server.settings import Settings

__all__ = ["ServerConnection"]

S = State

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]{1,64}")
_QUOTED_LOCAL = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e]){0,64}"')
_LABEL = re.compile(
    r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?"
)
_ADDRESS_LITERAL = re.compile(r"\[[A-Za-z0-9:.\-]{1,80}\]")
_HELO_NAME = re.compile(r"[A-Za-z0-9\-._:\[\]\u0080-\U0010ffff]{1,255}")
_XTEXT = re.compile(r"[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2}")
_SIMPLE_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}")
_SIMPLE_DOMAIN = re.compile(r"[A-Za-z0-9.\-]{1,253}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_MAX_DIGITS_SIZE = 20


class ServerConnection:
    """One SMTP session, server side. Not thread-safe; one per connection.

    settings: limits and behaviour (`smtpdiag.server.settings.Settings`).
    policy: decisions per stage (default `DefaultPolicy(settings)`).
    peer: the client's address, for the policy and the envelope.
    tls_available: STARTTLS can be offered (default: `settings.starttls`).
    tls_active: the connection is already encrypted (implicit TLS / SMTPS).
    trace: also emit `CommandReceived` for every command line (for transcripts).
    """

    def __init__(
        self,
        settings: Settings,
        policy: Policy | None = None,
        *,
        peer: str = "",
        tls_available: bool | None = None,
        tls_active: bool = False,
        trace: bool = False,
    ) -> None:
        self.settings = settings
        self.policy: Policy = policy if policy is not None else DefaultPolicy(settings)
        self.tls_available = settings.starttls if tls_available is None else tls_available
        self.trace = trace
        self._session = Session(peer=peer, tls_active=tls_active)
        self._state = S.NEW
        self._buf = bytearray()
        self._out: list[Output] = []
        self._skipping_line = False  # discarding an over-long command line up to its LF
        self._junk = 0
        self._overflow = False
        self._reader: DotReader | None = None
        self._normalize = settings.bare_lf == "normalize"
        # AUTH exchange in progress
        self._auth_mech = ""
        self._auth_step = ""
        self._auth_username = ""
        # BDAT chunk in progress
        self._chunk_left = 0
        self._chunk_last = False
        self._chunk_size = 0
        self._chunk_refusal: Reply | None = None  # reply after skipping a refused chunk's octets
        self._chunk_return = S.READY  # state after a skipped chunk
        self._msg_size = 0
        self._msg_doom: str | None = None
        self._handlers: dict[str, Callable[[str], None]] = {
            "EHLO": self._ehlo,
            "HELO": self._helo,
            "MAIL": self._mail,
            "RCPT": self._rcpt,
            "DATA": self._data,
            "BDAT": self._bdat,
            "RSET": self._rset,
            "NOOP": self._noop,
            "QUIT": self._quit,
            "VRFY": self._vrfy,
            "HELP": self._help,
            "STARTTLS": self._starttls,
            "AUTH": self._auth,
        }

    # ------------------------------------------------------------------ public interface
    @property
    def state(self) -> State:
        return self._state

    @property
    def session(self) -> Session:
        """What is known about the session (read it; do not change it)."""
        return self._session

    @property
    def reading_paused(self) -> bool:
        """True while waiting for `complete_message()`: the runtime should stop reading."""
        return self._state is S.STORING

    @property
    def closed(self) -> bool:
        return self._state is S.CLOSED

    @property
    def buffered(self) -> int:
        """Octets of input held (partial line, pipelined input while storing, partial data line)."""
        return len(self._buf) + (self._reader.held if self._reader is not None else 0)

    def start(self) -> list[Output]:
        """Begin the session: the greeting, or the refusal the policy asks for."""
        if self._state is not S.NEW:
            raise RuntimeError("start() called twice")
        out = self._begin()
        decision = self.policy.on_connect(self._session)
        self._state = S.GREETED
        if self._apply(decision, R.greeting(self.settings.hostname, self.settings.greeting), count=False):
            return out
        if not self.closed:
            reply = decision.reply
            if reply is not None and reply.code >= 500:
                self._state = S.REFUSED  # RFC 5321 §3.1: wait for QUIT, 503 to anything else
            else:
                self._close("connection refused by policy")
        return out

    def refuse(self, reply: Reply = R.TOO_MANY_CONNECTIONS) -> list[Output]:
        """Refuse the connection before the greeting (e.g. connection limits): reply, then close."""
        out = self._begin()
        self._send(reply)
        self._close("refused: " + reply.text)
        return out

    def receive_data(self, data: bytes) -> list[Output]:
        """Feed bytes read from the client; return what to do, in order."""
        state = self._state
        if state is S.NEW:
            raise RuntimeError("call start() before receive_data()")
        out = self._begin()
        if state is S.CLOSED or not data:
            return out
        if state is S.TLS_PENDING:
            out.append(PlaintextDiscarded(len(data)))  # RFC 3207 §4.2: never act on it
            return out
        if state is S.STORING:
            if len(self._buf) + len(data) > self.settings.max_input_buffer:
                self._overflow = True  # said and closed after the reply to end of data
            else:
                self._buf += data
            return out
        self._buf += data
        self._process()
        return out

    def complete_message(
        self, decision: Decision | None = None, *, queue_id: str | None = None
    ) -> list[Output]:
        """Answer the end of data after `MessageComplete` (the message is stored, or refused).

        decision None or `ACCEPT`: 250 2.0.0 "queued as <queue_id>". A Decision with a reply: that
        reply (e.g. 452 4.2.2 mailbox full, 451 4.3.0 local error). Then pipelined input goes on.
        """
        out = self._begin()
        if self._state is S.CLOSED:
            return out
        if self._state is not S.STORING:
            raise RuntimeError(f"complete_message() in state {self._state.name}: no message is waiting")
        decision = decision if decision is not None else ACCEPT
        self._state = S.READY
        accepted = self._apply(decision, R.queued(queue_id), count=False)
        self._clear_transaction()
        if accepted:
            self._session.messages_accepted += 1
            self._session.error_count = 0
            self._junk = 0
        if self._state is S.CLOSED:
            return out
        if self._overflow:
            self._send(R.INPUT_OVERFLOW)
            self._close("pipelined input over max_input_buffer")
            return out
        self._process()
        return out

    def tls_started(self) -> list[Output]:
        """The TLS handshake asked for by `StartTLS` succeeded: the session starts over (RFC 3207)."""
        if self._state is S.CLOSED:
            return []
        if self._state is not S.TLS_PENDING:
            raise RuntimeError(f"tls_started() in state {self._state.name}: STARTTLS was not accepted")
        s = self._session
        s.helo, s.esmtp, s.tls_active, s.auth_user = "", False, True, None
        self._clear_transaction()
        self._buf.clear()
        self._state = S.GREETED
        return []

    def eof(self) -> list[Output]:
        """The client closed the connection (or it was lost)."""
        out = self._begin()
        if self._state is not S.CLOSED:
            self._close("client closed the connection")
        return out

    def timeout(self) -> list[Output]:
        """The runtime's command/data/min-rate timer ran out: 421 4.4.2, then close."""
        return self._say_and_close(R.TIMEOUT, "timeout")

    def shutdown(self) -> list[Output]:
        """The server is shutting down: 421 4.3.2, then close."""
        return self._say_and_close(R.SHUTTING_DOWN, "server shutting down")

    # ------------------------------------------------------------------ output helpers
    def _begin(self) -> list[Output]:
        out: list[Output] = []
        self._out = out
        return out

    def _send(self, reply: Reply) -> None:
        if self._session.error_count >= self.settings.soft_error_limit:
            self._out.append(Delay(self.settings.error_sleep_time))
        self._out.append(Send(R.wire(reply), reply))

    def _say_and_close(self, reply: Reply, reason: str) -> list[Output]:
        out = self._begin()
        if self._state is not S.CLOSED:
            self._out.append(Send(R.wire(reply), reply))
            self._close(reason)
        return out

    def _close(self, reason: str) -> None:
        if self._state in IN_MESSAGE:
            self._out.append(MessageAborted(reason))
        self._state = S.CLOSED
        self._buf.clear()
        self._reader = None
        self._out.append(Close(reason))

    def _error(self, reply: Reply, reason: str) -> None:
        """A client mistake: reply, count it, and hang up at the hard error limit."""
        self._session.error_count += 1
        self._out.append(ProtocolError(reply, reason))
        self._send(reply)
        self._check_error_limit()

    def _check_error_limit(self) -> None:
        if self._session.error_count >= self.settings.hard_error_limit and self._state is not S.CLOSED:
            self._out.append(Send(R.wire(R.TOO_MANY_ERRORS), R.TOO_MANY_ERRORS))
            self._close("too many errors")

    def _apply(self, decision: Decision, positive: Reply, *, count: bool = True) -> bool:
        """Carry out a policy decision; True when the command was accepted."""
        if decision.delay_seconds > 0:
            self._out.append(Delay(decision.delay_seconds))
        reply = decision.reply
        if reply is None:
            if decision.disconnect:
                self._close("disconnect by policy")
                return False
            self._send(positive)
            return True
        refused = reply.code >= 400
        if refused and count:
            self._session.error_count += 1
        self._send(reply)
        if decision.disconnect:
            self._close("disconnect by policy")
            return False
        if refused and count:
            self._check_error_limit()
        return not refused

    # ------------------------------------------------------------------ input processing
    def _process(self) -> None:
        """Act on buffered input until it runs out or the state stops taking input."""
        while self._buf:
            state = self._state
            if state is S.DATA:
                self._take_data()
            elif state is S.BDAT:
                self._take_chunk()
            elif state in COMMANDS or state is S.AUTH:
                if not self._take_line():
                    return
            else:  # STORING, TLS_PENDING, CLOSED
                return

    def _take_line(self) -> bool:
        """Handle one command (or AUTH response) line; False when no complete line is buffered."""
        buf = self._buf
        limit = self.settings.max_auth_line if self._state is S.AUTH else self.settings.max_command_line
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > limit:
                self._skipping_line = True  # keep nothing of it: reply when its end arrives
                buf.clear()
            return False
        raw = bytes(buf[:nl])
        del buf[: nl + 1]
        if self._skipping_line or nl + 1 > limit:
            self._skipping_line = False
            if self._state is S.AUTH:
                self._state = S.READY
                self._error(R.AUTH_LINE_TOO_LONG, "AUTH line too long")
            else:
                self._error(R.LINE_TOO_LONG, "command line too long")
            return True
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode("ascii") if raw.isascii() else raw.decode("utf-8")
        except UnicodeDecodeError:
            line = None
        if line is None or _CONTROL.search(line):
            if self._state is S.AUTH:
                self._state = S.READY
                self._error(R.AUTH_CANNOT_DECODE, "AUTH response is not base64")
            else:
                self._error(R.COMMAND_NOT_UTF8, "command line with invalid bytes")
            return True
        if self._state is S.AUTH:
            if self.trace:
                self._out.append(CommandReceived("AUTH", "***"))
            self._auth_response(line)
            return True
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if self.trace:
            shown = f"{verb} {arg.split(' ', 1)[0]} ***" if verb == "AUTH" and " " in arg.strip() else line
            self._out.append(CommandReceived(verb, shown))
        row = COMMANDS[self._state]
        if verb not in row:
            if verb in KNOWN_VERBS:
                if verb == "BDAT":
                    self._bdat_refused(arg, sequence_error(self._state, verb, self._session.rcpt_attempts))
                else:
                    self._error(
                        sequence_error(self._state, verb, self._session.rcpt_attempts), "bad sequence"
                    )
            elif verb in NOT_IMPLEMENTED_VERBS:
                self._error(R.COMMAND_NOT_IMPLEMENTED, f"{verb} not implemented")
            else:
                self._error(R.COMMAND_UNRECOGNIZED, "unrecognized command")
            return True
        if verb in JUNK_VERBS:
            self._junk += 1
            if self._junk > self.settings.junk_command_limit:
                self._session.error_count += 1
        self._handlers[verb](arg)
        if verb in JUNK_VERBS and self._junk > self.settings.junk_command_limit:
            self._check_error_limit()
        return True

    def _goto(self, verb: str) -> None:
        self._state = COMMANDS[self._state][verb]

    # ------------------------------------------------------------------ transaction bookkeeping
    def _clear_transaction(self) -> None:
        s = self._session
        s.sender = None
        s.mail_params = {}
        s.recipients = []
        s.rcpt_params = []
        s.rcpt_attempts = 0
        self._reader = None
        self._msg_size = 0
        self._msg_doom = None

    def _reset_transaction(self, reason: str) -> None:
        """End any transaction (RSET, EHLO/HELO): aborts a message in progress."""
        if self._state in IN_MESSAGE:
            self._out.append(MessageAborted(reason))
        if self._state in IN_TRANSACTION:
            self._out.append(Reset())
        self._clear_transaction()

    def _envelope(self, size: int) -> Envelope:
        s = self._session
        return Envelope(
            sender=s.sender or "",
            recipients=tuple(s.recipients),
            mail_params=dict(s.mail_params),
            rcpt_params=tuple(s.rcpt_params),
            helo=s.helo,
            peer=s.peer,
            tls=s.tls_active,
            auth_user=s.auth_user,
            size=size,
        )

    # ------------------------------------------------------------------ EHLO / HELO
    def _ehlo(self, arg: str) -> None:
        self._greet(arg, esmtp=True)

    def _helo(self, arg: str) -> None:
        self._greet(arg, esmtp=False)

    def _greet(self, arg: str, *, esmtp: bool) -> None:
        name = arg.strip().split(" ", 1)[0]
        if not name or not _HELO_NAME.fullmatch(name):
            self._error(R.SYNTAX_EHLO if esmtp else R.SYNTAX_HELO, "bad EHLO/HELO argument")
            return
        self._reset_transaction("EHLO/HELO during the transaction")
        if self._state in IN_TRANSACTION:
            self._state = S.READY
        decision = self.policy.on_helo(self._session, name)
        positive = (
            R.ehlo_reply(self.settings.hostname, self._keywords())
            if esmtp
            else R.helo_reply(self.settings.hostname)
        )
        verb = "EHLO" if esmtp else "HELO"
        state = self._state
        if self._apply(decision, positive):
            self._session.helo = name
            self._session.esmtp = esmtp
            self._state = COMMANDS[state][verb]
            self._out.append(Helo(name, esmtp))

    def _keywords(self) -> tuple[str, ...]:
        st = self.settings
        kw: list[str] = []
        if st.pipelining:
            kw.append("PIPELINING")
        kw.append(f"SIZE {st.max_message_size}")
        kw.append("8BITMIME")
        if st.smtputf8:
            kw.append("SMTPUTF8")
        kw.append("ENHANCEDSTATUSCODES")
        if self.tls_available and not self._session.tls_active:
            kw.append("STARTTLS")
        if self._auth_offered():
            kw.append("AUTH " + " ".join(m.upper() for m in st.auth_mechanisms))
        if st.dsn:
            kw.append("DSN")
        if st.chunking:
            kw.append("CHUNKING")
        return tuple(kw)

    def _auth_offered(self) -> bool:
        st = self.settings
        if not st.auth_enabled:
            return False
        return self._session.tls_active or not (st.require_tls_for_auth or st.require_tls)

    # ------------------------------------------------------------------ MAIL / RCPT
    def _mail(self, arg: str) -> None:
        st, s = self.settings, self._session
        if st.require_tls and not s.tls_active:
            self._error(R.TLS_REQUIRED, "MAIL before STARTTLS")
            return
        if st.require_auth and s.auth_user is None:
            self._error(R.AUTH_REQUIRED, "MAIL before AUTH")
            return
        if arg[:5].upper() != "FROM:":
            self._error(R.SYNTAX_MAIL, "MAIL syntax")
            return
        address, rest = _split_path(arg[5:])
        if address is None or not _valid_address(address, null_ok=True, postmaster_ok=False):
            self._error(R.BAD_SENDER_SYNTAX, "bad sender address")
            return
        params = _parse_params(rest)
        if params is None:
            self._error(R.BAD_PARAMETER, "bad MAIL parameter syntax")
            return
        problem = self._check_mail_params(params)
        if problem is not None:
            if problem is R.MESSAGE_TOO_BIG:
                self._apply(Decision(problem), problem)
            else:
                self._error(problem, "bad MAIL parameter")
            return
        if not address.isascii() and "SMTPUTF8" not in params:
            self._apply(Decision(R.SMTPUTF8_REQUIRED), R.SMTPUTF8_REQUIRED)
            return
        decision = self.policy.on_mail(s, address, params)
        if self._apply(decision, R.SENDER_OK):
            s.sender = address
            s.mail_params = params
            s.recipients = []
            s.rcpt_params = []
            s.rcpt_attempts = 0
            self._goto("MAIL")
            self._out.append(MailFrom(address, params))

    def _check_mail_params(self, params: dict[str, str | None]) -> Reply | None:
        st = self.settings
        if params and not self._session.esmtp:
            return R.UNKNOWN_PARAMETER  # parameters need EHLO (RFC 5321 §4.1.1.11)
        for key, value in params.items():
            if key == "SIZE":
                if value is None or not _DIGITS.fullmatch(value):
                    return R.BAD_PARAMETER
                if int(value) > st.max_message_size:
                    return R.MESSAGE_TOO_BIG
            elif key == "BODY":
                if value is None or value.upper() not in ("7BIT", "8BITMIME"):
                    return R.BAD_PARAMETER
            elif key == "SMTPUTF8":
                if not st.smtputf8:
                    return R.UNKNOWN_PARAMETER
                if value is not None:
                    return R.BAD_PARAMETER
            elif key == "RET" and st.dsn:
                if value is None or value.upper() not in ("FULL", "HDRS"):
                    return R.BAD_PARAMETER
            elif key == "ENVID" and st.dsn:
                if value is None or len(value) > 100 or not _is_xtext(value):
                    return R.BAD_PARAMETER
            elif key == "AUTH":  # RFC 4954 §5: accepted, the identity is not trusted
                if value is None or len(value) > 500 or not (value == "<>" or _is_xtext(value)):
                    return R.BAD_PARAMETER
            else:
                return R.UNKNOWN_PARAMETER
        return None

    def _rcpt(self, arg: str) -> None:
        st, s = self.settings, self._session
        s.rcpt_attempts += 1
        if arg[:3].upper() != "TO:":
            self._error(R.SYNTAX_RCPT, "RCPT syntax")
            return
        address, rest = _split_path(arg[3:])
        if address is None or not _valid_address(address, null_ok=False, postmaster_ok=True):
            self._error(R.BAD_RECIPIENT_SYNTAX, "bad recipient address")
            return
        params = _parse_params(rest)
        if params is None:
            self._error(R.BAD_PARAMETER, "bad RCPT parameter syntax")
            return
        problem = self._check_rcpt_params(params)
        if problem is not None:
            self._error(problem, "bad RCPT parameter")
            return
        if len(s.recipients) >= st.max_recipients:
            self._send(R.TOO_MANY_RECIPIENTS)  # not an error: the client sends the rest later
            return
        if not address.isascii() and "SMTPUTF8" not in s.mail_params:
            self._apply(Decision(R.SMTPUTF8_REQUIRED), R.SMTPUTF8_REQUIRED)
            return
        decision = self.policy.on_rcpt(s, address, params)
        if self._apply(decision, R.RECIPIENT_OK):
            s.recipients.append(address)
            s.rcpt_params.append(params)
            self._goto("RCPT")
            self._out.append(RcptTo(address, params))

    def _check_rcpt_params(self, params: dict[str, str | None]) -> Reply | None:
        if params and not self._session.esmtp:
            return R.UNKNOWN_PARAMETER
        for key, value in params.items():
            if key == "NOTIFY" and self.settings.dsn:
                if value is None:
                    return R.BAD_PARAMETER
                items = value.upper().split(",")
                if items != ["NEVER"] and (
                    len(set(items)) != len(items) or not set(items) <= {"SUCCESS", "FAILURE", "DELAY"}
                ):
                    return R.BAD_PARAMETER
            elif key == "ORCPT" and self.settings.dsn:
                kind, semi, addr = (value or "").partition(";")
                if not semi or not kind or not addr or len(value or "") > 500 or not _is_xtext(addr):
                    return R.BAD_PARAMETER
            else:
                return R.UNKNOWN_PARAMETER
        return None

    # ------------------------------------------------------------------ DATA
    def _data(self, arg: str) -> None:
        if arg.strip():
            self._error(R.SYNTAX_NO_ARGUMENTS, "DATA with arguments")
            return
        decision = self.policy.on_data(self._session)
        if self._apply(decision, R.START_DATA):
            st = self.settings
            self._reader = DotReader(
                max_size=st.max_message_size, max_line=st.max_text_line, normalize=self._normalize
            )
            self._goto("DATA")
            self._out.append(DataStart("DATA"))

    def _take_data(self) -> None:
        reader = self._reader
        assert reader is not None
        data = bytes(self._buf)
        self._buf.clear()
        chunks, rest = reader.feed(data)
        out = self._out
        for chunk in chunks:
            out.append(DataChunk(chunk))
        if rest is None:
            return
        self._buf += rest
        self._finish_message(reader.size, reader.doom)

    def _finish_message(self, size: int, doom: str | None) -> None:
        """End of content: refuse a doomed message, or hand it to the runtime and wait."""
        if doom is not None:
            reply = {"bare-lf": R.BARE_LF_REJECTED, "long-line": R.TEXT_LINE_TOO_LONG}.get(
                doom, R.MESSAGE_TOO_BIG
            )
            self._out.append(MessageRejected(reply, doom))
            self._state = S.READY
            self._clear_transaction()
            self._send(reply)
            return
        self._out.append(MessageComplete(self._envelope(size)))
        self._state = S.STORING
        self._reader = None

    # ------------------------------------------------------------------ BDAT (RFC 3030)
    def _parse_bdat(self, arg: str) -> tuple[int, bool] | None:
        parts = arg.split()
        if not 1 <= len(parts) <= 2 or not _DIGITS.fullmatch(parts[0]):
            return None
        if len(parts) == 2 and parts[1].upper() != "LAST":
            return None
        return int(parts[0]), len(parts) == 2

    def _bdat_refused(self, arg: str, reply: Reply) -> None:
        """BDAT not allowed now: skip its octets (so they are not read as commands), then refuse."""
        parsed = self._parse_bdat(arg)
        if parsed is None:
            self._error(R.SYNTAX_BDAT, "BDAT syntax")
            if self._state is not S.CLOSED:
                self._close("BDAT size unreadable")
            return
        self._start_skip(parsed[0], reply, self._state)

    def _start_skip(self, size: int, reply: Reply, return_state: State) -> None:
        self._chunk_left = size
        self._chunk_last = False
        self._chunk_refusal = reply
        self._chunk_return = return_state
        self._state = S.BDAT
        if size == 0:
            self._end_chunk()

    def _bdat(self, arg: str) -> None:
        parsed = self._parse_bdat(arg)
        if parsed is None:
            self._error(R.SYNTAX_BDAT, "BDAT syntax")
            if self._state is not S.CLOSED:
                self._close("BDAT size unreadable")
            return
        size, last = parsed
        if not self.settings.chunking:
            self._start_skip(size, R.COMMAND_NOT_IMPLEMENTED, self._state)
            return
        if self._state is S.RCPT:  # first chunk of the message
            decision = self.policy.on_data(self._session)
            if decision.delay_seconds > 0:
                self._out.append(Delay(decision.delay_seconds))
            if decision.disconnect:
                if decision.reply is not None:
                    self._send(decision.reply)
                self._close("disconnect by policy")
                return
            if not decision.accepted:
                # refused: skip this chunk's octets; the transaction is abandoned (state.py rule 4)
                self._reset_transaction("first BDAT refused")
                self._start_skip(size, decision.reply or R.LOCAL_ERROR, S.READY)
                return
            self._msg_size = 0
            self._msg_doom = None
            self._out.append(DataStart("BDAT"))
        self._chunk_left = size
        self._chunk_last = last
        self._chunk_size = size
        self._chunk_refusal = None
        self._state = S.BDAT
        if size == 0:
            self._end_chunk()

    def _take_chunk(self) -> None:
        buf = self._buf
        n = min(self._chunk_left, len(buf))
        if n:
            if self._chunk_refusal is None and self._msg_doom is None:
                self._msg_size += n
                if self._msg_size > self.settings.max_message_size:
                    self._msg_doom = "too-big"
                else:
                    self._out.append(DataChunk(bytes(buf[:n])))
            del buf[:n]
            self._chunk_left -= n
        if self._chunk_left == 0:
            self._end_chunk()

    def _end_chunk(self) -> None:
        refusal = self._chunk_refusal
        if refusal is not None:
            self._chunk_refusal = None
            self._state = self._chunk_return
            self._error(refusal, "BDAT refused")
            return
        if self._msg_doom is not None:
            reply = R.MESSAGE_TOO_BIG
            self._out.append(MessageRejected(reply, self._msg_doom))
            self._state = S.READY
            self._clear_transaction()
            self._out.append(Reset())
            self._send(reply)
            return
        if self._chunk_last:
            self._finish_message(self._msg_size, None)
            return
        self._state = S.CHUNKING
        self._send(R.bdat_chunk_ok(self._chunk_size))

    # ------------------------------------------------------------------ small commands
    def _rset(self, arg: str) -> None:
        if arg.strip():
            self._error(R.SYNTAX_NO_ARGUMENTS, "RSET with arguments")
            return
        self._reset_transaction("RSET")
        self._goto("RSET")
        self._send(R.RESET_OK)

    def _noop(self, arg: str) -> None:
        self._send(R.OK)

    def _vrfy(self, arg: str) -> None:
        if not arg.strip():
            self._error(R.SYNTAX_VRFY, "VRFY without argument")
            return
        self._send(R.VRFY_CANNOT)

    def _help(self, arg: str) -> None:
        self._send(R.HELP)

    def _quit(self, arg: str) -> None:
        self._out.append(Quit())
        self._out.append(Send(R.wire(R.BYE), R.BYE))
        self._close("QUIT")

    # ------------------------------------------------------------------ STARTTLS (RFC 3207)
    def _starttls(self, arg: str) -> None:
        if arg.strip():
            self._error(R.SYNTAX_NO_ARGUMENTS, "STARTTLS with arguments")
            return
        if self._session.tls_active:
            self._error(R.TLS_ALREADY_ACTIVE, "STARTTLS under TLS")
            return
        if not self.tls_available:
            self._error(R.TLS_NOT_AVAILABLE, "STARTTLS not available")
            return
        self._send(R.READY_TLS)
        self._goto("STARTTLS")
        self._out.append(StartTLS())
        if self._buf:
            self._out.append(PlaintextDiscarded(len(self._buf)))  # the command-injection defence
            self._buf.clear()

    # ------------------------------------------------------------------ AUTH (RFC 4954, 4616)
    def _auth(self, arg: str) -> None:
        st, s = self.settings, self._session
        parts = arg.split()
        if not 1 <= len(parts) <= 2:
            self._error(R.SYNTAX_AUTH, "AUTH syntax")
            return
        if not st.auth_enabled:
            self._error(R.AUTH_NOT_ENABLED, "AUTH not enabled")
            return
        if s.auth_user is not None:
            self._error(R.ALREADY_AUTHENTICATED, "AUTH twice")
            return
        mech = parts[0].upper()
        if mech not in {m.upper() for m in st.auth_mechanisms}:
            self._error(R.AUTH_UNKNOWN_MECHANISM, "unknown AUTH mechanism")
            return
        if st.require_tls and not s.tls_active:
            self._error(R.TLS_REQUIRED, "AUTH before STARTTLS")
            return
        if st.require_tls_for_auth and not s.tls_active:
            self._error(R.AUTH_NEEDS_ENCRYPTION, "AUTH without TLS")
            return
        self._auth_mech = mech
        initial = parts[1] if len(parts) == 2 else None
        if mech == "PLAIN":
            if initial is None:
                self._auth_step = "plain"
                self._state = S.AUTH
                self._send(R.AUTH_CHALLENGE_EMPTY)
            else:
                self._auth_plain(initial)
        else:  # LOGIN
            if initial is None:
                self._auth_step = "login-user"
                self._state = S.AUTH
                self._send(R.AUTH_LOGIN_USERNAME)
            else:
                self._auth_login_user(initial)

    def _auth_response(self, line: str) -> None:
        self._state = S.READY
        if line.strip() == "*":
            self._auth_attempt_event(self._auth_username, False)
            self._error(R.AUTH_CANCELLED, "AUTH cancelled")
            return
        step = self._auth_step
        if step == "plain":
            self._auth_plain(line)
        elif step == "login-user":
            self._auth_login_user(line)
        else:
            password = _b64(line)
            if password is None:
                self._error(R.AUTH_CANNOT_DECODE, "AUTH response is not base64")
                return
            self._auth_finish("", self._auth_username, password)

    def _auth_plain(self, text: str) -> None:
        decoded = _b64(text)
        fields = decoded.split("\0") if decoded is not None else []
        if len(fields) != 3 or not fields[1]:
            self._error(R.AUTH_CANNOT_DECODE, "AUTH PLAIN response malformed")
            return
        self._auth_finish(fields[0], fields[1], fields[2])

    def _auth_login_user(self, text: str) -> None:
        username = _b64(text)
        if username is None or not username:
            self._state = S.READY
            self._error(R.AUTH_CANNOT_DECODE, "AUTH LOGIN user name malformed")
            return
        self._auth_username = username
        self._auth_step = "login-pass"
        self._state = S.AUTH
        self._send(R.AUTH_LOGIN_PASSWORD)

    def _auth_finish(self, authzid: str, username: str, password: str) -> None:
        self._state = S.READY
        decision = self.policy.on_auth(self._session, self._auth_mech, authzid, username, password)
        self._auth_attempt_event(username, decision.accepted and not decision.disconnect)
        ok = self._apply(decision, R.AUTH_OK)
        if ok:
            self._session.auth_user = username
        self._auth_username = ""

    def _auth_attempt_event(self, username: str, success: bool) -> None:
        self._out.append(AuthAttempt(self._auth_mech, username, success))


# ---------------------------------------------------------------------- parsing helpers
def _split_path(text: str) -> tuple[str | None, str]:
    """`<address> params` -> (address without brackets and source route, params); None if malformed.

    A space after the colon (`MAIL FROM: <a@b>`) is tolerated, as most servers do.
    """
    text = text.lstrip(" ")
    if not text.startswith("<"):
        return None, ""
    end = _quoted_end(text) if '"' in text else text.find(">")
    if end < 0:
        return None, ""
    inner, rest = text[1:end], text[end + 1 :]
    if rest and not rest.startswith(" "):
        return None, ""
    if inner.startswith("@"):  # source route "@a,@b:user@c" (RFC 5321 §4.1.2): ignored
        colon = inner.find(":")
        if colon < 0:
            return None, ""
        inner = inner[colon + 1 :]
    return inner, rest.strip()


def _quoted_end(text: str) -> int:
    """Index of the '>' closing a path that contains a quoted local part (lines are <= 64 KiB)."""
    in_quotes = False
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and in_quotes:
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == ">" and not in_quotes:
            return i
    return -1


def _valid_address(address: str, *, null_ok: bool, postmaster_ok: bool) -> bool:
    if not address:
        return null_ok
    if postmaster_ok and address.lower() == "postmaster":
        return True
    if len(address) > 254:
        return False
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(local) > 64 or len(domain) > 253:
        return False
    if _SIMPLE_LOCAL.fullmatch(local) and _SIMPLE_DOMAIN.fullmatch(domain):  # the common case, fast
        return (
            ".." not in local
            and local[0] != "."
            and local[-1] != "."
            and _simple_domain_ok(domain.removesuffix("."))
        )
    if local.startswith('"'):
        if not _QUOTED_LOCAL.fullmatch(local):
            return False
    elif not all(_ATEXT.fullmatch(atom) for atom in local.split(".")):
        return False
    return _valid_domain(domain)


def _simple_domain_ok(domain: str) -> bool:
    """Label rules for an ASCII letters-digits-hyphen-dot domain (RFC 5321 §4.1.2, RFC 1035)."""
    if not domain or domain[0] in ".-" or domain[-1] in ".-":
        return False
    if ".." in domain or ".-" in domain or "-." in domain:
        return False
    return len(domain) <= 63 or all(len(label) <= 63 for label in domain.split("."))


def _valid_domain(domain: str) -> bool:
    if domain.startswith("["):
        return _ADDRESS_LITERAL.fullmatch(domain) is not None
    return all(_LABEL.fullmatch(label) for label in domain.removesuffix(".").split("."))


def _parse_params(text: str) -> dict[str, str | None] | None:
    """`KEY=VALUE KEY2` -> {"KEY": "VALUE", "KEY2": None}; None on syntax errors or duplicates."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    for item in text.split():
        key, eq, value = item.partition("=")
        key = key.upper()
        if not key or len(key) > 32 or not key.isascii() or not key.replace("-", "").isalnum():
            return None
        if eq and not value:
            return None
        if key in params or len(params) >= 16:
            return None
        params[key] = value if eq else None
    return params


def _is_xtext(value: str) -> bool:
    """RFC 3461 §4 xtext: printable ASCII except '+' and '=', or '+' and two upper-case hex digits."""
    i, n = 0, len(value)
    while i < n:
        m = _XTEXT.match(value, i)
        if m is None:
            return False
        i = m.end()
    return True


def _b64(text: str) -> str | None:
    """Strict base64 -> UTF-8 text; None when it is not (RFC 4954 §4: 501 5.5.2)."""
    text = text.strip()
    if text == "=":
        return ""
    try:
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        return None
