"""The pytest plugin: the `smtpdiag_server` fixture, used directly and from a fresh project (pytester)."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from typing import Any

import pytest

from smtpdiag.server.faults import FaultRuleError
from smtpdiag.server.pytest_plugin import SmtpdiagServer

pytest_plugins = ["pytester"]


def test_fixture_captures_mail(smtpdiag_server: SmtpdiagServer) -> None:
    with smtplib.SMTP(smtpdiag_server.host, smtpdiag_server.port, timeout=5) as client:
        client.sendmail("app@example.test", ["user@example.test"], b"Subject: Welcome\r\n\r\nHi!\r\n")
    [msg] = smtpdiag_server.messages
    assert msg.recipients == ("user@example.test",) and msg.subject == "Welcome"
    assert msg.data is not None and msg.data.endswith(b"Hi!\r\n")
    assert smtpdiag_server.sessions[-1]["entries"]
    smtpdiag_server.clear()
    assert smtpdiag_server.messages == []


def test_fixture_rules_and_scenarios(smtpdiag_server: SmtpdiagServer) -> None:
    rule_id = smtpdiag_server.add_rule(stage="rcpt", recipient="full@*", code=452, enhanced="4.2.2")
    with smtplib.SMTP(*smtpdiag_server.address, timeout=5) as client:
        refused = client.sendmail("a@x.test", ["full@example.test", "ok@example.test"], b"x\r\n")
    assert refused == {
        "full@example.test": (452, b"4.2.2 Mailbox full: the recipient's mailbox is over its quota")
    } or (refused["full@example.test"][0] == 452)
    assert smtpdiag_server.remove_rule(rule_id)
    smtpdiag_server.scenario("user-unknown")
    with (
        pytest.raises(smtplib.SMTPRecipientsRefused) as info,
        smtplib.SMTP(*smtpdiag_server.address, timeout=5) as client,
    ):
        client.sendmail("a@x.test", ["ghost@example.test"], b"x\r\n")
    assert info.value.recipients["ghost@example.test"][0] == 550
    with pytest.raises(FaultRuleError):
        smtpdiag_server.add_rule(stage="rcpt", code=1000)


class TestOverriddenSettings:
    @pytest.fixture
    def smtpdiag_settings(self) -> dict[str, Any]:
        return {"mailboxes": ["only@example.test"]}

    def test_settings_fixture_can_be_overridden(self, smtpdiag_server: SmtpdiagServer) -> None:
        with smtplib.SMTP(*smtpdiag_server.address, timeout=5) as client:
            client.ehlo()
            client.mail("a@x.test")
            assert client.rcpt("only@example.test")[0] == 250
            assert client.rcpt("other@example.test")[0] == 550
            assert client.rcpt("x@elsewhere.test")[0] == 554


def test_plugin_is_loaded_by_entry_point_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib

        def test_app(smtpdiag_server):
            smtpdiag_server.scenario("mailbox-full")
            with smtplib.SMTP(smtpdiag_server.host, smtpdiag_server.port, timeout=5) as c:
                c.ehlo()
                c.mail("a@x.test")
                assert c.rcpt("b@y.test")[0] == 452
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, smtpdiag.server.pytest_plugin;"
        "heavy = [m for m in ('smtpdiag.server.runtime', 'cryptography', 'asyncio', 'smtpdiag.protocol')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
