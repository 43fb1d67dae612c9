"""Every reply the server can send, in one place.

Each condition has a name, and the name maps to a `Reply(code, lines, enhanced)`. The codes follow
RFC 5321 (basic codes), RFC 3463 and the IANA registry (enhanced codes), RFC 4954 (AUTH), RFC 1870
(SIZE), RFC 3207 (STARTTLS), RFC 3030 (CHUNKING), RFC 6531 (SMTPUTF8), RFC 7504 and what Postfix says
in the same situation.

Enhanced status codes (RFC 2034 §3) are on every 2xx/4xx/5xx reply except the ones RFC 2034 exempts:
the 220 greeting and the replies to EHLO/HELO (an enhanced code would be read as an EHLO keyword).
The two 3xx intermediate replies carry none either: 354 is a go-ahead and 334 carries base64 data.

Decisions recorded here:
- Bare LF / bare CR in message data (RFC 5321 §2.3.8 forbids them; they are the raw material of SMTP
  smuggling): `554 5.5.2`, sent after the end of the data has been read, so the session stays usable.
  Postfix's smtpd_forbid_bare_newline says `521 5.5.2 ... bare <LF> received` and hangs up; we keep
  its enhanced code (5.5.2, syntax error) but use 554 (transaction failed), the code RFC 5321 gives
  to a refused end of data, because we do not disconnect.
- A text line over 1000 octets (RFC 5321 §4.5.3.1.6): `552 5.3.4` at end of data (the message is
  too big for the system in a dimension other than size; Postfix would silently fold the line).
- A command line over 512 octets: `500 5.5.6` (issue list; IANA X.5.6 names an over-long line).
- An unknown MAIL/RCPT parameter: `555 5.5.4` (RFC 5321 §4.1.1.11); a malformed one: `501 5.5.4`.
"""

from __future__ import annotations

from functools import lru_cache

from smtpdiag.reply import Reply

__all__ = [
    "REPLIES",
    "bdat_chunk_ok",
    "ehlo_reply",
    "greeting",
    "helo_reply",
    "queued",
    "wire",
]


def _r(code: int, enhanced: str | None, text: str) -> Reply:
    return Reply(code=code, lines=(text,), enhanced=enhanced)


# --- positive -------------------------------------------------------------------------------------
OK = _r(250, "2.0.0", "Ok")
SENDER_OK = _r(250, "2.1.0", "Ok")
RECIPIENT_OK = _r(250, "2.1.5", "Ok")
RESET_OK = _r(250, "2.0.0", "Ok")
BYE = _r(221, "2.0.0", "Bye")
VRFY_CANNOT = _r(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery")
HELP = _r(
    214,
    "2.0.0",
    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH (RFC 5321)",
)
START_DATA = Reply(code=354, lines=("End data with <CR><LF>.<CR><LF>",), enhanced=None)
READY_TLS = _r(220, "2.0.0", "Ready to start TLS")
AUTH_OK = _r(235, "2.7.0", "Authentication successful")
AUTH_CHALLENGE_EMPTY = Reply(code=334, lines=("",), enhanced=None)
AUTH_LOGIN_USERNAME = Reply(code=334, lines=("VXNlcm5hbWU6",), enhanced=None)  # base64 "Username:"
AUTH_LOGIN_PASSWORD = Reply(code=334, lines=("UGFzc3dvcmQ6",), enhanced=None)  # base64 "Password:"

# --- syntax and sequence (the client's mistakes) ---------------------------------------------------
COMMAND_UNRECOGNIZED = _r(500, "5.5.1", "Command unrecognized")
COMMAND_NOT_IMPLEMENTED = _r(502, "5.5.1", "Command not implemented")
LINE_TOO_LONG = _r(500, "5.5.6", "Command line too long (RFC 5321 4.5.3.1.4)")
AUTH_LINE_TOO_LONG = _r(500, "5.5.6", "Authentication exchange line too long")
COMMAND_NOT_UTF8 = _r(500, "5.5.2", "Command line is not valid UTF-8 or contains control characters")
SYNTAX_EHLO = _r(501, "5.5.4", "Syntax: EHLO hostname")
SYNTAX_HELO = _r(501, "5.5.4", "Syntax: HELO hostname")
SYNTAX_MAIL = _r(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
SYNTAX_RCPT = _r(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
SYNTAX_NO_ARGUMENTS = _r(501, "5.5.4", "Syntax error: this command takes no arguments")
SYNTAX_VRFY = _r(501, "5.5.4", "Syntax: VRFY address")
SYNTAX_AUTH = _r(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
SYNTAX_BDAT = _r(501, "5.5.4", "Syntax: BDAT size [LAST]; the chunk cannot be skipped, closing")
BAD_PARAMETER = _r(501, "5.5.4", "Invalid parameter syntax")
DUPLICATE_PARAMETER = _r(501, "5.5.4", "Parameter given twice")
UNKNOWN_PARAMETER = _r(555, "5.5.4", "Unsupported MAIL FROM or RCPT TO parameter")
BAD_SENDER_SYNTAX = _r(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_SYNTAX = _r(501, "5.1.3", "Bad recipient address syntax")
BAD_SEQUENCE = _r(503, "5.5.1", "Bad sequence of commands")
NEED_HELO = _r(503, "5.5.1", "Bad sequence of commands: send EHLO/HELO first")
NEED_MAIL = _r(503, "5.5.1", "Bad sequence of commands: need MAIL before RCPT")
NEED_RCPT = _r(503, "5.5.1", "Bad sequence of commands: need RCPT before DATA")
NESTED_MAIL = _r(503, "5.5.1", "Bad sequence of commands: nested MAIL command")
TRANSACTION_IN_PROGRESS = _r(503, "5.5.1", "Bad sequence of commands: mail transaction in progress")
BDAT_DATA_MIXED = _r(503, "5.5.1", "Bad sequence of commands: DATA cannot follow BDAT")
REFUSED_WAIT_QUIT = _r(503, "5.5.1", "Bad sequence of commands: connection refused, send QUIT")
NO_VALID_RECIPIENTS = _r(554, "5.5.1", "No valid recipients")
TLS_ALREADY_ACTIVE = _r(503, "5.5.1", "Bad sequence of commands: TLS already active")
ALREADY_AUTHENTICATED = _r(503, "5.5.1", "Bad sequence of commands: already authenticated")
AUTH_NOT_ENABLED = _r(503, "5.5.1", "Authentication not enabled")
AUTH_CANCELLED = _r(501, "5.7.0", "Authentication cancelled")
AUTH_CANNOT_DECODE = _r(501, "5.5.2", "Cannot decode base64 response")

# --- authentication and TLS ------------------------------------------------------------------------
AUTH_REQUIRED = _r(530, "5.7.0", "Authentication required")
AUTH_FAILED = _r(535, "5.7.8", "Authentication credentials invalid")
AUTH_NEEDS_ENCRYPTION = _r(538, "5.7.11", "Encryption required for requested authentication mechanism")
AUTH_TOO_WEAK = _r(534, "5.7.9", "Authentication mechanism is too weak")
AUTH_UNKNOWN_MECHANISM = _r(504, "5.5.4", "Unrecognized authentication type")
AUTH_THROTTLED = _r(454, "4.7.0", "Too many failed authentication attempts, try again later")
AUTH_TEMPORARY_FAILURE = _r(454, "4.7.0", "Temporary authentication failure")
TLS_NOT_AVAILABLE = _r(454, "4.7.0", "TLS not available")
TLS_REQUIRED = _r(530, "5.7.0", "Must issue a STARTTLS command first")

# --- recipients, senders, policy -------------------------------------------------------------------
USER_UNKNOWN = _r(550, "5.1.1", "Recipient address rejected: user unknown in local recipient table")
RELAY_DENIED = _r(554, "5.7.1", "Relay access denied")
SENDER_REJECTED = _r(553, "5.7.1", "Sender address rejected: not permitted")
SENDER_DOMAIN_UNKNOWN = _r(550, "5.1.8", "Sender address rejected: domain not found")
SMTPUTF8_REQUIRED = _r(553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter (RFC 6531)")
TOO_MANY_RECIPIENTS = _r(452, "4.5.3", "Too many recipients")
MAILBOX_FULL = _r(452, "4.2.2", "Mailbox full, try again later")
MAILBOX_FULL_PERMANENT = _r(552, "5.2.2", "Mailbox full: quota exceeded")
MAILBOX_UNAVAILABLE = _r(550, "5.2.1", "Mailbox unavailable")
SPAM_REJECTED = _r(550, "5.7.1", "Message rejected as spam")
LOCAL_ERROR = _r(451, "4.3.0", "Local error in processing, try again later")
STORAGE_FULL = _r(452, "4.3.1", "Insufficient system storage")
RATE_LIMITED = _r(421, "4.7.0", "Too many messages, slow down")
RATE_LIMITED_SOFT = _r(450, "4.7.1", "Rate limit exceeded, try again later")
GREYLISTED = _r(450, "4.7.1", "Greylisted, try again later")
GREYLISTED_451 = _r(451, "4.7.1", "Greylisted, try again later")

# --- size and content ------------------------------------------------------------------------------
MESSAGE_TOO_BIG = _r(552, "5.3.4", "Message size exceeds fixed limit")
TEXT_LINE_TOO_LONG = _r(552, "5.3.4", "Message rejected: a text line is too long (RFC 5321 4.5.3.1.6)")
BARE_LF_REJECTED = _r(
    554, "5.5.2", "Message rejected: bare <LF> or <CR> line ending; use <CR><LF> (RFC 5321 2.3.8)"
)

# --- session-level ---------------------------------------------------------------------------------
TOO_MANY_ERRORS = _r(421, "4.7.0", "Too many errors, closing connection")
TIMEOUT = _r(421, "4.4.2", "Timeout exceeded, closing connection")
SHUTTING_DOWN = _r(421, "4.3.2", "Service shutting down, closing connection")
SERVICE_UNAVAILABLE = _r(421, "4.3.2", "Service not available, closing connection")
TOO_MANY_CONNECTIONS = _r(421, "4.7.0", "Too many connections, try again later")
CONNECTION_REFUSED = _r(554, "5.7.1", "Connection refused")
INPUT_OVERFLOW = _r(421, "4.7.0", "Too much pipelined input, closing connection")

#: Every fixed reply by name (the formatted ones are made by the functions below).
REPLIES: dict[str, Reply] = {
    name: value for name, value in dict(globals()).items() if isinstance(value, Reply) and name.isupper()
}


# --- formatted replies -----------------------------------------------------------------------------
def greeting(hostname: str, text: str) -> Reply:
    """The 220 banner (RFC 5321 §4.2: no enhanced code on the greeting, RFC 2034 §3)."""
    return Reply(code=220, lines=(f"{hostname} {text}".strip(),), enhanced=None)


def helo_reply(hostname: str) -> Reply:
    return Reply(code=250, lines=(hostname,), enhanced=None)


def ehlo_reply(hostname: str, keywords: tuple[str, ...]) -> Reply:
    """`250-hostname` then one line per extension keyword (RFC 5321 §4.1.1.1)."""
    return Reply(code=250, lines=(hostname, *keywords), enhanced=None)


def queued(queue_id: str | None) -> Reply:
    text = f"Ok: queued as {queue_id}" if queue_id else "Ok: queued"
    return Reply(code=250, lines=(text,), enhanced="2.0.0")


def bdat_chunk_ok(octets: int) -> Reply:
    return Reply(code=250, lines=(f"Ok: {octets} octets received",), enhanced="2.0.0")


# The fixed replies are module constants that live as long as the process, so their ids are stable.
_WIRE_BY_ID: dict[int, bytes] = {id(r): r.to_wire() for r in REPLIES.values()}


def wire(reply: Reply) -> bytes:
    """`reply.to_wire()`, pre-rendered for the fixed replies (the hot path renders nothing)."""
    data = _WIRE_BY_ID.get(id(reply))
    return data if data is not None else _render(reply)


@lru_cache(maxsize=256)
def _render(reply: Reply) -> bytes:
    return reply.to_wire()
