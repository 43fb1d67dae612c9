"""The sans-I/O ESMTP server core: bytes in, replies, events and actions out.

No sockets, clocks or threads: a runtime (asyncio in `smtpdiag.server.runtime`, or a test) feeds the
bytes it reads and carries out what comes back. Modules:

- `replies`  every reply the server can send, by name (one place to read them all)
- `state`    every state-transition rule, as tables, with the theory of operation
- `events`   the typed, frozen outputs: `Send`, `Delay`, `StartTLS`, `Close` and the events
- `policy`   `Policy` (the decisions that depend on configuration or fault rules), `Decision`,
             `DefaultPolicy` (local domains/mailboxes, AUTH users), `Session`
- `server`   `ServerConnection`, the state machine itself
- `data`     `DotReader`, the DATA content scanner (CRLF.CRLF, dot-unstuffing, bare LF/CR, limits)

Use (what a runtime does, in order):

    conn = ServerConnection(settings, policy, peer="192.0.2.7", tls_available=True)
    outputs = conn.start()                         # the greeting (or a refusal)
    outputs = conn.receive_data(bytes_read)        # for each read from the socket
    outputs = conn.complete_message(Decision())    # after each MessageComplete, once stored
    outputs = conn.tls_started()                   # after the handshake asked for by StartTLS
    outputs = conn.eof() / conn.timeout() / conn.shutdown()

Each call returns a list of outputs to carry out IN ORDER:

- `Send(data, reply)`: write `data` (`reply` is there for the transcript).
- `Delay(seconds)`: wait before carrying out the rest (policy delay, error throttling).
- `StartTLS()`: after writing what came before, start TLS on the transport, then call `tls_started()`.
- `Close(reason)`: after writing what came before, close the connection.
- `DataChunk(data)`: append to the message being stored (content is never buffered whole here).
- `MessageComplete(envelope)`: the content ended; commit the message (fsync...), then call
  `complete_message(decision)` -- the reply to the end of data is only sent then. While waiting,
  `reading_paused` is True and further input is only buffered (bounded by `max_input_buffer`).
- `MessageRejected(reply, reason)` / `MessageAborted(reason)`: discard what was written.
- The other events (`Helo`, `MailFrom`, `RcptTo`, `AuthAttempt`, `DataStart`, `Reset`, `Quit`,
  `ProtocolError`, `PlaintextDiscarded`, `CommandReceived` when `trace=True`) are information, e.g.
  for the transcript.

The policy (`Policy` protocol: on_connect/on_helo/on_mail/on_rcpt/on_data/on_auth) is called
synchronously and returns a `Decision(reply=None|Reply, delay_seconds, disconnect, drop)`;
`DefaultPolicy(settings)` implements local delivery rules. Limits come from
`smtpdiag.server.settings.Settings`.
"""

from __future__ import annotations

from smtpdiag.protocol.data import DotReader
from smtpdiag.protocol.events import (
    AuthAttempt,
    Close,
    CommandReceived,
    DataChunk,
    DataStart,
    Delay,
    Envelope,
    Event,
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
from smtpdiag.protocol.server import ServerConnection
from smtpdiag.protocol.state import State

__all__ = [
    "ACCEPT",
    "AuthAttempt",
    "Close",
    "CommandReceived",
    "DataChunk",
    "DataStart",
    "Decision",
    "DefaultPolicy",
    "Delay",
    "DotReader",
    "Envelope",
    "Event",
    "Helo",
    "MailFrom",
    "MessageAborted",
    "MessageComplete",
    "MessageRejected",
    "Output",
    "PlaintextDiscarded",
    "Policy",
    "ProtocolError",
    "Quit",
    "RcptTo",
    "Reset",
    "Send",
    "ServerConnection",
    "Session",
    "StartTLS",
    "State",
]
