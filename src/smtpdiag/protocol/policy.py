"""Decisions that depend on configuration or on fault rules: a small synchronous `Policy` object.

The core asks the policy at each stage (connect, EHLO/HELO, MAIL, RCPT, DATA/first BDAT, AUTH) and
gets a `Decision`: accept (the core sends its usual positive reply) or a `Reply` to send instead,
optionally after a delay, optionally followed by a disconnect. The policy must not block: it looks
things up and returns. The runtime's fault engine wraps `DefaultPolicy` and overrides what its rules
say; timing (delays) is carried out by the runtime, never here.

The end of data is not decided here: the runtime stores the message first, then calls
`ServerConnection.complete_message(decision)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from smtpdiag.protocol import replies as R
from smtpdiag.reply import Reply
from smtpdiag.server.settings import Settings

__all__ = ["ACCEPT", "Decision", "DefaultPolicy", "Policy", "Session"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do at one stage.

    reply: None = accept with the core's usual positive reply; a Reply = send that instead (a 2xx/3xx
        reply is sent as given and counts as acceptance; 4xx/5xx refuses the command).
    delay_seconds: the runtime waits this long before sending the reply.
    disconnect: close the connection after the reply; with reply None and disconnect True the
        connection is dropped without any reply (a simulated network failure).
    drop: accept, but the runtime does not keep the message (accept-and-drop); the core only
        carries the flag.
    """

    reply: Reply | None = None
    delay_seconds: float = 0.0
    disconnect: bool = False
    drop: bool = False

    @property
    def accepted(self) -> bool:
        return (self.reply is None or self.reply.code < 400) and not (self.disconnect and self.reply is None)


ACCEPT = Decision()


@dataclass(slots=True)
class Session:
    """What the core knows about the connection; the policy reads it, never changes it."""

    peer: str = ""  # client IP (or "ip:port"), as the runtime gave it
    helo: str = ""
    esmtp: bool = False
    tls_active: bool = False
    auth_user: str | None = None
    sender: str | None = None  # None: no transaction; "" = null reverse-path
    mail_params: dict[str, str | None] = field(default_factory=dict)
    recipients: list[str] = field(default_factory=list)
    rcpt_params: list[dict[str, str | None]] = field(default_factory=list)
    rcpt_attempts: int = 0
    messages_accepted: int = 0
    error_count: int = 0


class Policy(Protocol):
    """The decisions the core delegates. Every method returns quickly and never raises."""

    def on_connect(self, session: Session) -> Decision: ...

    def on_helo(self, session: Session, hostname: str) -> Decision: ...

    def on_mail(self, session: Session, sender: str, params: Mapping[str, str | None]) -> Decision: ...

    def on_rcpt(self, session: Session, recipient: str, params: Mapping[str, str | None]) -> Decision: ...

    def on_data(self, session: Session) -> Decision: ...

    def on_auth(
        self, session: Session, mechanism: str, authzid: str, username: str, password: str
    ) -> Decision: ...


class DefaultPolicy:
    """Local domains and mailboxes from the settings; AUTH against `settings.users`.

    - Both `local_domains` and `mailboxes` empty: every recipient is accepted (capture mode).
    - A recipient whose domain is neither a local domain nor the domain of a listed mailbox: relay
      denied (554 5.7.1) -- nothing is relayed anywhere.
    - A domain that has listed mailboxes accepts only those: others get 550 5.1.1. A local domain
      with no listed mailboxes accepts any user.
    - The special recipient `postmaster` (no domain, RFC 5321 §4.5.1) is always accepted.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._domains = {d.lower() for d in settings.local_domains}
        self._mailboxes = {m.lower() for m in settings.mailboxes}
        self._closed_domains = {m.rpartition("@")[2] for m in self._mailboxes}
        self._capture_all = not self._domains and not self._mailboxes
        self._users = dict(settings.users)

    def on_connect(self, session: Session) -> Decision:
        return ACCEPT

    def on_helo(self, session: Session, hostname: str) -> Decision:
        return ACCEPT

    def on_mail(self, session: Session, sender: str, params: Mapping[str, str | None]) -> Decision:
        return ACCEPT

    def on_rcpt(self, session: Session, recipient: str, params: Mapping[str, str | None]) -> Decision:
        if self._capture_all:
            return ACCEPT
        address = recipient.lower()
        if address == "postmaster":
            return ACCEPT
        local, _, domain = address.rpartition("@")
        if local.lower() == "postmaster" and (domain in self._domains or domain in self._closed_domains):
            return ACCEPT
        if domain in self._closed_domains:
            return ACCEPT if address in self._mailboxes else Decision(R.USER_UNKNOWN)
        if domain in self._domains:
            return ACCEPT
        return Decision(R.RELAY_DENIED)

    def on_data(self, session: Session) -> Decision:
        return ACCEPT

    def on_auth(
        self, session: Session, mechanism: str, authzid: str, username: str, password: str
    ) -> Decision:
        expected = self._users.get(username)
        if expected is None or not _equal(expected, password) or (authzid and authzid != username):
            return Decision(R.AUTH_FAILED)
        return ACCEPT


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
