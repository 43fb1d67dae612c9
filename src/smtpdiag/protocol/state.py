"""Everything that decides a state transition of the SMTP server dialogue, as tables.

Rules this module keeps (RFC 5321 §3 and §4.1.4, RFC 3207, RFC 3030, RFC 4954):

1. A session starts with the greeting; nothing but EHLO/HELO, NOOP, RSET, HELP, VRFY, QUIT is
   accepted before EHLO/HELO (503 5.5.1 "send EHLO/HELO first").
2. A mail transaction is MAIL, one or more RCPT, then DATA or a series of BDAT chunks ending with
   BDAT LAST. MAIL inside a transaction is refused (nested MAIL); RCPT before MAIL and DATA before
   RCPT are bad sequences; DATA after RCPT commands that were all refused is 554 5.5.1.
3. RSET, EHLO and HELO end any transaction (EHLO/HELO also restart the session's ESMTP state).
4. DATA and BDAT are never mixed within a transaction; after any refused BDAT chunk the transaction
   is abandoned, so a pipelined later chunk can never be taken for the start of a message.
5. STARTTLS and AUTH are only allowed outside a transaction. After STARTTLS's 220 the session goes
   back to the start (no EHLO yet, no AUTH), and any plaintext the client pipelined after STARTTLS
   is discarded (RFC 3207 §4.2).
6. When the greeting refused the client with a 5xx (the policy said so), only QUIT is answered;
   everything else gets 503 (RFC 5321 §3.1).
7. The end of the message content hands the message to the runtime and the dialogue waits (STORING)
   until the runtime says whether it was stored: no reply can overtake the reply to end of data.

Theory of operation: the connection is in exactly one `State`. In the command states the input is cut
into lines, and `COMMANDS[state]` says which verbs are allowed and which state a *successful* verb leads
to (a refused verb leaves the state unchanged unless the tables below say otherwise). A verb that is
known but not allowed in the state gets the reply `SEQUENCE_ERRORS[(state, verb)]` (default: plain
503 5.5.1). In the other states the input is not commands: message content (DATA, BDAT), an AUTH
response line (AUTH), or nothing at all (STORING buffers it, TLS_PENDING throws it away, CLOSED ignores
it). The server module (`server.py`) does the parsing and the talking; this module only decides.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Final

from smtpdiag.protocol import replies as R
from smtpdiag.reply import Reply

__all__ = [
    "COMMANDS",
    "COMMAND_STATES",
    "IN_MESSAGE",
    "IN_TRANSACTION",
    "JUNK_VERBS",
    "KNOWN_VERBS",
    "NOT_IMPLEMENTED_VERBS",
    "SEQUENCE_ERRORS",
    "State",
    "sequence_error",
]


class State(enum.Enum):
    # identity hash: states are looked up in tables on every command; Enum's own __hash__ is Python code
    __hash__ = object.__hash__

    NEW = "NEW"  # start() not called yet
    GREETED = "GREETED"  # greeting sent, waiting for EHLO/HELO
    READY = "READY"  # EHLO/HELO done, no transaction
    MAIL = "MAIL"  # MAIL accepted, no recipient yet
    RCPT = "RCPT"  # at least one recipient accepted
    DATA = "DATA"  # reading DATA content until CRLF.CRLF
    BDAT = "BDAT"  # reading the octets of a BDAT chunk
    CHUNKING = "CHUNKING"  # between BDAT chunks of one message
    AUTH = "AUTH"  # waiting for an AUTH response line
    STORING = "STORING"  # message complete, waiting for complete_message()
    TLS_PENDING = "TLS_PENDING"  # 220 to STARTTLS sent, waiting for tls_started()
    REFUSED = "REFUSED"  # greeting refused the client (5xx): only QUIT
    CLOSED = "CLOSED"


S = State

#: verbs this server implements
KNOWN_VERBS: Final = frozenset(
    {
        "EHLO",
        "HELO",
        "MAIL",
        "RCPT",
        "DATA",
        "BDAT",
        "RSET",
        "NOOP",
        "QUIT",
        "VRFY",
        "HELP",
        "STARTTLS",
        "AUTH",
    }
)
#: verbs of RFC 5321 and its extensions that are recognised but not implemented: 502 5.5.1
NOT_IMPLEMENTED_VERBS: Final = frozenset({"EXPN", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML", "VERB"})
#: verbs that do not move mail; past `junk_command_limit` of them each counts as an error
JUNK_VERBS: Final = frozenset({"NOOP", "RSET", "VRFY", "HELP"})

_ANYTIME = {"NOOP": None, "QUIT": S.CLOSED, "VRFY": None, "HELP": None}  # None: state unchanged


def _row(state: State, **verbs: State | None) -> dict[str, State]:
    row = {**_ANYTIME, **verbs}
    return {verb: (state if nxt is None else nxt) for verb, nxt in row.items()}


#: {state: {verb: state after the verb succeeds}}; a verb missing from a command state's row is a
#: sequence error in that state.
COMMANDS: Final[MappingProxyType[State, MappingProxyType[str, State]]] = MappingProxyType(
    {
        state: MappingProxyType(row)
        for state, row in {
            S.GREETED: _row(S.GREETED, EHLO=S.READY, HELO=S.READY, RSET=S.GREETED),
            S.READY: _row(
                S.READY,
                EHLO=S.READY,
                HELO=S.READY,
                RSET=S.READY,
                MAIL=S.MAIL,
                STARTTLS=S.TLS_PENDING,
                AUTH=S.READY,  # AUTH with a complete initial response; otherwise via S.AUTH
            ),
            S.MAIL: _row(S.MAIL, EHLO=S.READY, HELO=S.READY, RSET=S.READY, RCPT=S.RCPT),
            S.RCPT: _row(
                S.RCPT, EHLO=S.READY, HELO=S.READY, RSET=S.READY, RCPT=S.RCPT, DATA=S.DATA, BDAT=S.BDAT
            ),
            S.CHUNKING: _row(S.CHUNKING, EHLO=S.READY, HELO=S.READY, RSET=S.READY, BDAT=S.BDAT),
            S.REFUSED: {"QUIT": S.CLOSED},
        }.items()
    }
)

#: states in which input lines are commands
COMMAND_STATES: Final = frozenset(COMMANDS)
#: states in which a mail transaction exists (RSET/EHLO/QUIT must clear it)
IN_TRANSACTION: Final = frozenset({S.MAIL, S.RCPT, S.DATA, S.BDAT, S.CHUNKING})
#: states in which message content has started (leaving them early aborts the message)
IN_MESSAGE: Final = frozenset({S.DATA, S.BDAT, S.CHUNKING})

#: the reply to a known verb used out of sequence
SEQUENCE_ERRORS: Final[MappingProxyType[tuple[State, str], Reply]] = MappingProxyType(
    {
        **{(S.GREETED, verb): R.NEED_HELO for verb in ("MAIL", "RCPT", "DATA", "BDAT", "STARTTLS", "AUTH")},
        (S.READY, "RCPT"): R.NEED_MAIL,
        (S.READY, "DATA"): R.NEED_MAIL,
        (S.READY, "BDAT"): R.NEED_MAIL,
        (S.MAIL, "MAIL"): R.NESTED_MAIL,
        (S.MAIL, "DATA"): R.NEED_RCPT,  # or NO_VALID_RECIPIENTS: see sequence_error()
        (S.MAIL, "BDAT"): R.NEED_RCPT,
        (S.MAIL, "STARTTLS"): R.TRANSACTION_IN_PROGRESS,
        (S.MAIL, "AUTH"): R.TRANSACTION_IN_PROGRESS,
        (S.RCPT, "MAIL"): R.NESTED_MAIL,
        (S.RCPT, "STARTTLS"): R.TRANSACTION_IN_PROGRESS,
        (S.RCPT, "AUTH"): R.TRANSACTION_IN_PROGRESS,
        (S.CHUNKING, "DATA"): R.BDAT_DATA_MIXED,
        (S.CHUNKING, "MAIL"): R.NESTED_MAIL,
        (S.CHUNKING, "RCPT"): R.TRANSACTION_IN_PROGRESS,
        (S.CHUNKING, "STARTTLS"): R.TRANSACTION_IN_PROGRESS,
        (S.CHUNKING, "AUTH"): R.TRANSACTION_IN_PROGRESS,
    }
)


def sequence_error(state: State, verb: str, rcpt_attempts: int) -> Reply:
    """The reply to `verb` when it is not allowed in `state`."""
    if state is S.REFUSED:
        return R.REFUSED_WAIT_QUIT
    if state is S.MAIL and verb in ("DATA", "BDAT") and rcpt_attempts:
        return R.NO_VALID_RECIPIENTS  # RCPT was tried but every recipient was refused (RFC 5321 §3.3)
    return SEQUENCE_ERRORS.get((state, verb), R.BAD_SEQUENCE)
