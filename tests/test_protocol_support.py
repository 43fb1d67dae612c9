"""Drive `ServerConnection` with bytes only, as a runtime would, and look at what comes out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smtpdiag.protocol import (
    Close,
    DataChunk,
    Decision,
    DefaultPolicy,
    MessageComplete,
    Output,
    Send,
    ServerConnection,
    Session,
    StartTLS,
)
from smtpdiag.reply import Reply
from smtpdiag.server.settings import Settings


def make_settings(**kw: Any) -> Settings:
    kw.setdefault("hostname", "mx.test")
    kw.setdefault("local_domains", ("example.com",))
    return Settings(**kw)


class Driver:
    """A fake runtime: feeds bytes, stores messages in memory, records replies and events."""

    def __init__(
        self,
        settings: Settings | None = None,
        policy: Any = None,
        *,
        auto_complete: bool = True,
        store_decision: Decision | None = None,
        **conn_kw: Any,
    ) -> None:
        self.settings = settings or make_settings()
        self.conn = ServerConnection(self.settings, policy, **conn_kw)
        self.outputs: list[Output] = []
        self.messages: list[bytes] = []
        self.current: list[bytes] | None = None
        self.auto_complete = auto_complete
        self.store_decision = store_decision
        self.wire = bytearray()
        self._take(self.conn.start())

    def _take(self, outs: list[Output]) -> None:
        while True:
            more: list[Output] = []
            for o in outs:
                self.outputs.append(o)
                if isinstance(o, Send):
                    self.wire += o.data
                elif isinstance(o, DataChunk):
                    if self.current is None:
                        self.current = []
                    self.current.append(o.data)
                elif isinstance(o, MessageComplete):
                    body = b"".join(self.current or [])
                    self.current = None
                    if self.auto_complete:
                        if self.store_decision is None or self.store_decision.accepted:
                            self.messages.append(body)
                        more = self.conn.complete_message(
                            self.store_decision, queue_id=f"Q{len(self.messages)}"
                        )
                elif type(o).__name__ in ("MessageRejected", "MessageAborted"):
                    self.current = None
            if not more:
                return
            outs = more

    def feed(self, data: bytes) -> list[Reply]:
        before = len(self.outputs)
        self._take(self.conn.receive_data(data))
        return [o.reply for o in self.outputs[before:] if isinstance(o, Send)]

    def feed_bytewise(self, data: bytes) -> list[Reply]:
        replies: list[Reply] = []
        for i in range(len(data)):
            replies += self.feed(data[i : i + 1])
        return replies

    def cmd(self, line: str) -> Reply:
        """One command, one reply (asserts there is exactly one)."""
        replies = self.feed(line.encode("utf-8") + b"\r\n")
        assert len(replies) == 1, replies
        return replies[0]

    def codes(self, data: bytes) -> list[tuple[int, str | None]]:
        return [(r.code, r.enhanced) for r in self.feed(data)]

    def events(self, kind: type) -> list[Any]:
        return [o for o in self.outputs if isinstance(o, kind)]

    @property
    def closed(self) -> bool:
        return any(isinstance(o, Close) for o in self.outputs)

    @property
    def wants_tls(self) -> bool:
        return any(isinstance(o, StartTLS) for o in self.outputs)

    def ehlo(self) -> Reply:
        return self.cmd("EHLO client.test")


def code(reply: Reply) -> tuple[int, str | None]:
    return reply.code, reply.enhanced


class RecordingPolicy(DefaultPolicy):
    """DefaultPolicy with per-stage overrides: {"rcpt": Decision(...)}."""

    def __init__(self, settings: Settings, overrides: Mapping[str, Decision] | None = None) -> None:
        super().__init__(settings)
        self.overrides = dict(overrides or {})
        self.calls: list[str] = []

    def _o(self, stage: str, default: Decision) -> Decision:
        self.calls.append(stage)
        return self.overrides.get(stage, default)

    def on_connect(self, session: Session) -> Decision:
        return self._o("connect", super().on_connect(session))

    def on_helo(self, session: Session, hostname: str) -> Decision:
        return self._o("helo", super().on_helo(session, hostname))

    def on_mail(self, session: Session, sender: str, params: Mapping[str, str | None]) -> Decision:
        return self._o("mail", super().on_mail(session, sender, params))

    def on_rcpt(self, session: Session, recipient: str, params: Mapping[str, str | None]) -> Decision:
        return self._o("rcpt", super().on_rcpt(session, recipient, params))

    def on_data(self, session: Session) -> Decision:
        return self._o("data", super().on_data(session))

    def on_auth(
        self, session: Session, mechanism: str, authzid: str, username: str, password: str
    ) -> Decision:
        return self._o("auth", super().on_auth(session, mechanism, authzid, username, password))
