"""Named scenarios: one switch that makes the server reproduce a failure people meet in the wild.

Each scenario is a small list of fault rules (see `faults.py`) plus a description of the failure
it reproduces, the reply a client will see, and what the client should conclude. Most come from
the seed article (a sysadmin's list of SMTP error replies and readers' questions).

`smtpdiag serve --scenario NAME`, `POST /scenario/NAME` and the pytest fixture's
`.scenario(NAME)` all use this table; `smtpdiag serve --list-scenarios` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from smtpdiag.server.faults import FaultRule


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str  # one line: the failure
    reply: str  # what the client sees ("550 5.7.1 at end of DATA")
    rules: tuple[FaultRule, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "reply": self.reply,
            "rules": [r.to_dict() for r in self.rules],
        }


def _s(name: str, summary: str, reply: str, *rules: dict[str, Any]) -> Scenario:
    return Scenario(name, summary, reply, tuple(FaultRule.from_dict({"name": name, **r}) for r in rules))


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        _s(
            "mailbox-full",
            "The recipient's mailbox is over its quota; a later retry may succeed.",
            "452 4.2.2 at RCPT",
            {"stage": "rcpt", "code": 452, "enhanced": "4.2.2", "text": "Mailbox full, try again later"},
        ),
        _s(
            "mailbox-full-permanent",
            "The mailbox is full and the server calls it permanent (exceeded storage allocation).",
            "552 5.2.2 at RCPT",
            {
                "stage": "rcpt",
                "code": 552,
                "enhanced": "5.2.2",
                "text": "Requested mail action aborted: exceeded storage allocation",
            },
        ),
        _s(
            "spam-rejected",
            "A content filter judged the message to be spam.",
            "550 5.7.1 at end of DATA",
            {
                "stage": "end_of_data",
                "code": 550,
                "enhanced": "5.7.1",
                "text": "This message is rejected by our SPAM filters",
            },
        ),
        _s(
            "auth-required",
            "MAIL without AUTH is refused (give the server users, e.g. [serve] users, to let clients in).",
            "530 5.7.0 at MAIL (until AUTH succeeds)",
            {
                "stage": "mail",
                "authenticated": False,
                "code": 530,
                "enhanced": "5.7.0",
                "text": "Authentication required",
            },
        ),
        _s(
            "auth-failed",
            "The user name or password is wrong.",
            "535 5.7.8 at AUTH",
            {
                "stage": "auth",
                "code": 535,
                "enhanced": "5.7.8",
                "text": "Username and Password not accepted",
            },
        ),
        _s(
            "relay-denied",
            "The server is not the destination of the recipient's domain and will not relay for this client.",
            "554 5.7.1 at RCPT",
            {"stage": "rcpt", "code": 554, "enhanced": "5.7.1", "text": "Relay access denied"},
        ),
        _s(
            "access-denied",
            "An anti-spam policy refuses the recipient for this sender or client.",
            "550 5.7.1 at RCPT",
            {
                "stage": "rcpt",
                "code": 550,
                "enhanced": "5.7.1",
                "text": "Recipient address rejected: Access denied",
            },
        ),
        _s(
            "sender-rejected",
            "The sender address is refused (blocked sender, or a domain that does not exist).",
            "553 5.7.1 at MAIL",
            {
                "stage": "mail",
                "code": 553,
                "enhanced": "5.7.1",
                "text": "Sender address rejected: Access denied",
            },
        ),
        _s(
            "greylisting",
            "The first attempt of each (client, sender, recipient) is deferred; a retry after 30 s passes.",
            "450 4.7.1 at RCPT, then 250 after 30 s",
            {"stage": "rcpt", "action": "greylist", "greylist_seconds": 30},
        ),
        _s(
            "message-too-big",
            "The message is larger than the server (or the recipient's mailbox) accepts.",
            "552 5.3.4 at end of DATA",
            {
                "stage": "end_of_data",
                "code": 552,
                "enhanced": "5.3.4",
                "text": "Message size exceeds fixed maximum message size",
            },
        ),
        _s(
            "user-unknown",
            "The recipient's address does not exist on this server.",
            "550 5.1.1 at RCPT",
            {
                "stage": "rcpt",
                "code": 550,
                "enhanced": "5.1.1",
                "text": "Recipient address rejected: User unknown in local recipient table",
            },
        ),
        _s(
            "mailbox-unavailable",
            "The mailbox exists but cannot take mail now (disabled, locked, or being cleaned up).",
            "550 5.2.1 at RCPT",
            {
                "stage": "rcpt",
                "code": 550,
                "enhanced": "5.2.1",
                "text": "Requested action not taken: mailbox unavailable",
            },
        ),
        _s(
            "mailbox-busy",
            "The mailbox is temporarily unavailable (busy or locked); retrying later helps.",
            "450 4.2.1 at RCPT",
            {
                "stage": "rcpt",
                "code": 450,
                "enhanced": "4.2.1",
                "text": "Requested mail action not taken: mailbox unavailable, try again later",
            },
        ),
        _s(
            "domain-not-found",
            "The recipient's domain does not exist in DNS (the seed's 512: host cannot be found).",
            "550 5.1.2 at RCPT",
            {
                "stage": "rcpt",
                "code": 550,
                "enhanced": "5.1.2",
                "text": "Recipient address rejected: Domain not found",
            },
        ),
        _s(
            "invalid-address",
            "The recipient address is syntactically invalid or not allowed (the seed's 553).",
            "553 5.1.3 at RCPT",
            {
                "stage": "rcpt",
                "code": 553,
                "enhanced": "5.1.3",
                "text": "Requested action not taken: mailbox name not allowed",
            },
        ),
        _s(
            "rate-limited",
            "The client sends too many messages a minute (more than 3 here) and is told to slow down.",
            "421 4.7.0 at MAIL from the 4th message in a minute, then the connection closes",
            {"stage": "mail", "rate": 3},
        ),
        _s(
            "service-unavailable",
            "The server is overloaded or in maintenance and refuses the connection.",
            "421 4.3.2 greeting, then the connection closes",
            {
                "stage": "connect",
                "code": 421,
                "enhanced": "4.3.2",
                "text": "Service not available, closing transmission channel",
            },
        ),
        _s(
            "blocked",
            "The client's IP address is on a blocklist (RBL); every connection is refused.",
            "554 5.7.1 greeting",
            {
                "stage": "connect",
                "code": 554,
                "enhanced": "5.7.1",
                "text": "Service unavailable; client host blocked using an RBL",
            },
        ),
        _s(
            "local-error",
            "The server failed while processing the message (overload, a broken filter); retry later.",
            "451 4.3.0 at end of DATA",
            {
                "stage": "end_of_data",
                "code": 451,
                "enhanced": "4.3.0",
                "text": "Requested action aborted: local error in processing",
            },
        ),
        _s(
            "storage-full",
            "The server's own disk is full; it takes no mail until space is freed.",
            "452 4.3.1 at MAIL",
            {
                "stage": "mail",
                "code": 452,
                "enhanced": "4.3.1",
                "text": "Insufficient system storage",
            },
        ),
        _s(
            "transaction-failed",
            "The server refuses the message after the data (the seed's 554 'transaction failed').",
            "554 5.0.0 at end of DATA",
            {"stage": "end_of_data", "code": 554, "enhanced": "5.0.0", "text": "Transaction failed"},
        ),
        _s(
            "tls-required",
            "The server takes mail only over an encrypted connection; STARTTLS first.",
            "530 5.7.0 at MAIL (until STARTTLS)",
            {
                "stage": "mail",
                "tls": False,
                "code": 530,
                "enhanced": "5.7.0",
                "text": "Must issue a STARTTLS command first",
            },
        ),
        _s(
            "timeout",
            "The server stops answering after the data (a hung filter); the client's timeout fires.",
            "no reply to the end of DATA for 10 minutes, then 421 4.4.2",
            {
                "stage": "end_of_data",
                "delay": 600,
                "code": 421,
                "enhanced": "4.4.2",
                "text": "Timeout while processing the message, closing connection",
            },
        ),
        _s(
            "slow",
            "Every reply comes 2 seconds late (a slow or overloaded server).",
            "the usual replies, each after 2 s",
            *({"stage": stage, "action": "delay", "delay": 2} for stage in ("connect", "mail", "rcpt")),
        ),
        _s(
            "disconnect",
            "The connection drops in the middle of the transaction (network failure).",
            "connection closed without a reply after DATA",
            {"stage": "data", "action": "disconnect"},
        ),
        _s(
            "blackhole",
            "The server says 250 but throws the message away: 'sent' does not mean delivered.",
            "250 at end of DATA; nothing stored",
            {"stage": "end_of_data", "action": "drop"},
        ),
        _s(
            "not-smtp",
            "Something that is not an SMTP server answers (the seed's '3-digit code not found').",
            "a greeting without a reply code, then the connection closes",
            {"stage": "connect", "action": "garbage", "text": "* OK IMAP4rev1 server ready"},
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; KeyError naming the known ones if there is none."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None
