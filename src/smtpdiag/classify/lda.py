"""Local delivery agents: the errors of the program that writes mail into the mailbox.

When the last hop is local delivery (Dovecot's LDA, mail.local, procmail, maildrop, vpopmail,
vmailmgr), the bounce quotes that program's own message ("mail.local: unknown user: bob",
"procmail: ... Service unavailable"). Each program has a few fixed messages whose meaning is
known; a message of such a program that is not in its table is a local mailer error.
This reading applies only when the failure happened at local delivery, i.e. the SMTP command is
unknown or DATA (Sisimai's convention, whose reasons the tables restate).
"""

from __future__ import annotations

from typing import Final

#: (agent, lower-case markers that show the message is that agent's).
AGENTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("dovecot", ("> was automatically rejected:",)),
    ("mail.local", ("mail.local: ",)),
    ("procmail", ("procmail: ", "/procmail ")),
    ("maildrop", ("maildrop: ",)),
    ("vpopmail", ("vdelivermail: ",)),
    ("vmailmgr", ("vdeliver: ",)),
)

#: agent -> ((lower-case phrase, reason), ...), tried in order.
MESSAGES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "dovecot": (
        ("not enough disk space", "mailboxfull"),
        ("quota exceeded", "mailboxfull"),
        ("mailbox doesn't exist: ", "userunknown"),
    ),
    "mail.local": (
        ("disc quota exceeded", "mailboxfull"),
        ("mailbox full or quota exceeded", "mailboxfull"),
        ("temporary file write error", "systemerror"),
        (": invalid mailbox path", "userunknown"),
        (": unknown user:", "userunknown"),
        (": user missing home directory", "userunknown"),
        (": user unknown", "userunknown"),
    ),
    "procmail": (
        ("quota exceeded while writing", "mailboxfull"),
        ("user over quota", "mailboxfull"),
        ("service unavailable", "systemerror"),
        ("no space left to finish writing", "systemfull"),
    ),
    "maildrop": (
        ("maildir over quota.", "mailboxfull"),
        ("invalid user specified.", "userunknown"),
        ("cannot find system user", "userunknown"),
    ),
    "vpopmail": (
        ("user does not exist, but will deliver to ", "filtered"),
        ("domain is over quota", "mailboxfull"),
        ("user is over quota", "mailboxfull"),
        ("account is locked email bounced", "suspend"),
        ("sorry, no mailbox here by that name.", "userunknown"),
    ),
    "vmailmgr": (
        ("delivery failed due to system quota violation", "mailboxfull"),
        ("invalid or unknown base user or domain", "userunknown"),
        ("invalid or unknown virtual user", "userunknown"),
        ("user name does not refer to a virtual user", "userunknown"),
    ),
}

MAX_TEXT: Final = 4096  # characters of a diagnostic looked at

# (marker, agent) in AGENTS' order: one flat loop over the markers (the first agent with one wins)
_MARKER_AGENT: Final[tuple[tuple[str, str], ...]] = tuple(
    (marker, agent) for agent, markers in AGENTS for marker in markers
)


def local_agent_reason(diagnostic: str, command: str = "") -> str:
    """The reason a local delivery agent's message names; "" when the text is not such a message.

    `command` is the SMTP command the failure happened at, if known: a refusal at RCPT or before
    is a remote server's, not a local delivery agent's, and gives "".
    """
    if not diagnostic or command not in ("", "DATA"):
        return ""
    low = diagnostic[:MAX_TEXT].lower()
    for marker, agent in _MARKER_AGENT:
        if marker in low:
            for phrase, reason in MESSAGES[agent]:
                if phrase in low:
                    return reason
            return "mailererror"  # e.g. procmail: Couldn't create "/var/mail/..."
    return ""
