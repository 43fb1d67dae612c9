"""The runtime's policy: fault rules first, then quotas, storage and the AUTH throttle, then the
configured mailboxes (`DefaultPolicy` of the protocol core).

Synchronous and quick, as the core requires: it reads a clock, looks things up and returns.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Final

from smtpdiag.protocol import replies as R
from smtpdiag.protocol.policy import ACCEPT, Decision, DefaultPolicy, Session
from smtpdiag.reply import Reply
from smtpdiag.server.faults import FaultContext, FaultDecision, FaultEngine, Stage
from smtpdiag.server.settings import Settings
from smtpdiag.server.storage import MaildirStore, MessageStore, QuotaExceeded, StorageFull

MAX_THROTTLED_CLIENTS: Final = 10_000


class AuthThrottle:
    """Failed AUTH attempts per client IP in a sliding window; bounded memory."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, ip: str) -> deque[float] | None:
        entries = self._failures.get(ip)
        if entries is None:
            return None
        now = self._clock()
        while entries and now - entries[0] >= self.window:
            entries.popleft()
        if not entries:
            del self._failures[ip]
            return None
        return entries

    def blocked(self, ip: str) -> bool:
        entries = self._recent(ip)
        return entries is not None and len(entries) >= self.limit

    def failed(self, ip: str) -> None:
        entries = self._recent(ip)
        if entries is None:
            if len(self._failures) >= MAX_THROTTLED_CLIENTS:
                self._failures.popitem(last=False)
            entries = deque(maxlen=self.limit + 1)
            self._failures[ip] = entries
        entries.append(self._clock())


def fault_reply(decision: FaultDecision) -> Reply | None:
    if decision.reply is None:
        return None
    code, enhanced, text = decision.reply
    return Reply(code=code, lines=(text,), enhanced=enhanced)


class RuntimePolicy:
    """One per connection: it remembers a fault's raw output (garbage) for the runtime to send."""

    def __init__(
        self,
        settings: Settings,
        base: DefaultPolicy,
        faults: FaultEngine,
        store: MessageStore,
        throttle: AuthThrottle,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.base = base
        self.faults = faults
        self.store = store
        self.throttle = throttle
        self._clock = clock
        self.raw_output: bytes | None = None  # bytes to send instead of a reply, then close
        self.on_fault: Callable[[Stage, FaultDecision], None] | None = None  # for transcript and log
        self.drop_message = False  # a rule said accept-and-drop for the current transaction

    def check_faults(
        self, stage: Stage, session: Session, *, recipient: str = "", sender: str | None = None
    ) -> FaultDecision | None:
        if not self.faults:
            return None
        ctx = FaultContext(
            stage=stage,
            client_ip=session.peer,
            helo=session.helo,
            sender=(session.sender or "") if sender is None else sender,
            recipient=recipient,
            recipients=tuple(session.recipients),
            auth_user=session.auth_user or "",
            authenticated=session.auth_user is not None,
            tls=session.tls_active,
        )
        decision = self.faults.check(ctx, self._clock())
        if decision is not None and self.on_fault is not None:
            self.on_fault(stage, decision)
        return decision

    def _apply(self, decision: FaultDecision | None, then: Callable[[], Decision]) -> Decision:
        result = self._decide(decision, then)
        if result.drop:
            self.drop_message = True
        return result

    def _decide(self, decision: FaultDecision | None, then: Callable[[], Decision]) -> Decision:
        if decision is None:
            return then()
        if decision.raw is not None:
            self.raw_output = decision.raw
            return Decision(reply=None, delay_seconds=decision.delay, disconnect=True)
        reply = fault_reply(decision)
        if reply is None and not decision.disconnect:
            base = then()  # delay-only or drop: the normal decision, later
            return Decision(
                reply=base.reply,
                delay_seconds=base.delay_seconds + decision.delay,
                disconnect=base.disconnect,
                drop=base.drop or decision.drop,
            )
        return Decision(
            reply=reply, delay_seconds=decision.delay, disconnect=decision.disconnect, drop=decision.drop
        )

    # --- Policy protocol ---------------------------------------------------------------------------

    def on_connect(self, session: Session) -> Decision:
        if not self.faults:  # no rules: the common case, kept cheap
            return self.base.on_connect(session)
        return self._apply(self.check_faults("connect", session), lambda: self.base.on_connect(session))

    def on_helo(self, session: Session, hostname: str) -> Decision:
        if not self.faults:
            return self.base.on_helo(session, hostname)
        return self._apply(self.check_faults("ehlo", session), lambda: self.base.on_helo(session, hostname))

    def on_mail(self, session: Session, sender: str, params: Mapping[str, str | None]) -> Decision:
        def normal() -> Decision:
            if isinstance(self.store, MaildirStore):
                try:
                    self.store.check_space()
                except StorageFull:
                    return Decision(R.STORAGE_FULL)
            return self.base.on_mail(session, sender, params)

        return self._apply(self.check_faults("mail", session, sender=sender), normal)

    def on_rcpt(self, session: Session, recipient: str, params: Mapping[str, str | None]) -> Decision:
        def normal() -> Decision:
            decision = self.base.on_rcpt(session, recipient, params)
            if decision.accepted:
                try:
                    self.store.check_quota(recipient)
                except QuotaExceeded as exc:
                    return Decision(R.MAILBOX_FULL_PERMANENT if exc.permanent else R.MAILBOX_FULL)
            return decision

        return self._apply(self.check_faults("rcpt", session, recipient=recipient), normal)

    def on_data(self, session: Session) -> Decision:
        if not self.faults:
            return self.base.on_data(session)
        return self._apply(self.check_faults("data", session), lambda: self.base.on_data(session))

    def on_auth(
        self, session: Session, mechanism: str, authzid: str, username: str, password: str
    ) -> Decision:
        ip = session.peer
        if self.throttle.blocked(ip):
            return Decision(R.AUTH_THROTTLED)

        def normal() -> Decision:
            decision = self.base.on_auth(session, mechanism, authzid, username, password)
            if not decision.accepted:
                self.throttle.failed(ip)
            return decision

        return self._apply(self.check_faults("auth", session), normal)

    def end_of_data(self, session: Session) -> Decision:
        """Fault rules for the end of data (called by the runtime before it stores the message)."""
        decision = self.check_faults("end_of_data", session)
        return self._apply(decision, lambda: ACCEPT)
