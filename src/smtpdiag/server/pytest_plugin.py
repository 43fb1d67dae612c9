"""pytest plugin (entry point `smtpdiag`): a running `smtpdiag serve` for an application's tests.

    def test_app_handles_full_mailbox(smtpdiag_server):
        smtpdiag_server.scenario("mailbox-full")  # or .add_rule(stage="rcpt", code=452, ...)
        result = my_app.send_welcome_mail("user@example.test", smtp=smtpdiag_server.address)
        assert result.status == "retry-later"

    def test_app_sends(smtpdiag_server):
        my_app.send_welcome_mail(...)
        [msg] = smtpdiag_server.messages
        assert msg.recipients == ("user@example.test",) and b"Welcome" in msg.data

The server listens on 127.0.0.1 on a free port, keeps messages in memory, offers STARTTLS with a
self-signed certificate (`.tls_certificate_pem`) and AUTH for the users of `smtpdiag_settings`.
Override the `smtpdiag_settings` fixture (a dict of setting names, see `smtpdiag serve
--print-defaults`) to change anything.

pytest loads this module in every run of every project that installs smtpdiag, so it imports
nothing beyond pytest at import time; the server is imported when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from smtpdiag.server.runtime import ServerThread, SmtpServer
    from smtpdiag.server.storage import StoredMessage


class SmtpdiagServer:
    """Handle on a running server, for tests. Methods are safe to call from the test's thread."""

    def __init__(self, thread: ServerThread) -> None:
        self._thread = thread
        self._server: SmtpServer = thread.server

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def address(self) -> tuple[str, int]:
        return self._server.host, self._server.port

    @property
    def messages(self) -> list[StoredMessage]:
        """Accepted messages, oldest first, each with `.sender`, `.recipients`, `.data` (bytes)."""
        return self._server.store.list(10_000)

    @property
    def sessions(self) -> list[dict[str, Any]]:
        """Recent session transcripts (every command and reply, timestamped)."""
        return self._server.transcripts.sessions(200)

    @property
    def tls_certificate_pem(self) -> bytes | None:
        cert = self._server.tls_certificate
        return cert.cert_pem if cert is not None else None

    def add_rule(self, rule: dict[str, Any] | None = None, **fields: Any) -> int:
        """Add a fault rule (see smtpdiag.server.faults); returns its id. Invalid: FaultRuleError."""
        return self._server.faults.add({**(rule or {}), **fields})

    def remove_rule(self, rule_id: int) -> bool:
        return self._server.faults.remove(rule_id)

    @property
    def rules(self) -> list[dict[str, Any]]:
        return self._server.faults.rules()

    def scenario(self, name: str) -> None:
        """Replace the rules with a named scenario (`smtpdiag serve --list-scenarios`)."""
        self._server.scenario(name)

    def clear(self) -> None:
        """Forget messages, rules, greylist and transcripts."""
        self._server.store.clear()
        self._server.faults.clear()
        self._server.transcripts.clear()

    def __repr__(self) -> str:
        return f"<smtpdiag server {self.host}:{self.port}>"


@pytest.fixture
def smtpdiag_settings() -> dict[str, Any]:
    """Settings for `smtpdiag_server`; override this fixture to change them."""
    return {}


@pytest.fixture
def smtpdiag_server(smtpdiag_settings: dict[str, Any]) -> Iterator[SmtpdiagServer]:
    """A running smtpdiag test server on a free loopback port, fresh for each test."""
    from smtpdiag.server.runtime import ServerThread
    from smtpdiag.server.settings import Settings

    values = {
        "listen": "127.0.0.1:0",
        "storage": "memory",
        "hostname": "smtpdiag.test",
        **smtpdiag_settings,
    }
    thread = ServerThread(Settings().merge(values, source="smtpdiag_settings"))
    thread.start()
    try:
        yield SmtpdiagServer(thread)
    finally:
        thread.stop(grace=0.5)
