"""Server settings: defaults with reasons, TOML, overrides, unit parsing, clear validation errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from smtpdiag.server.settings import Settings, SettingsError, parse_duration, parse_hostport, parse_size


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert s.listen == "127.0.0.1:2525" and (s.listen_host, s.listen_port) == ("127.0.0.1", 2525)
    assert s.max_command_line == 512 and s.max_text_line == 1000  # RFC 5321 §4.5.3.1.4 / .6
    assert s.command_timeout == 300.0 and s.data_timeout == 180.0
    assert s.max_message_size == 10_240_000 and s.max_recipients == 1000
    assert (s.soft_error_limit, s.hard_error_limit) == (10, 20)
    assert s.bare_lf == "reject" and s.require_tls_for_auth and s.fsync
    assert s.storage == "maildir" and s.maildir == "./mail"
    assert not s.auth_enabled


def test_describe_lists_every_setting_with_a_reason() -> None:
    rows = Settings.describe()
    names = [r[0] for r in rows]
    assert names == [f.name for f in dataclasses.fields(Settings)]
    for name, default, reason in rows:
        assert default, name
        assert len(reason) > 15, name
    shown = dict((n, d) for n, d, _ in rows)
    assert shown["max_message_size"] == "10240000 octets"
    assert shown["require_tls_for_auth"] == "yes"
    assert shown["hostname"] == "<this machine's host name>"


def test_from_toml_with_units_and_serve_table(tmp_path: Path) -> None:
    p = tmp_path / "serve.toml"
    p.write_text(
        """
[serve]
listen = "[::1]:2600"
local_domains = ["example.com", "example.org"]
mailboxes = ["alice@corp.test"]
max_message_size = "25M"
command_timeout = "5m"
data_timeout = 90
bare_lf = "normalize"
fsync = false

[serve.users]
alice = "pw"

[[rules]]
stage = "rcpt"
""",
        encoding="utf-8",
    )
    s = Settings.from_toml(p)
    assert (s.listen_host, s.listen_port) == ("::1", 2600)
    assert s.local_domains == ("example.com", "example.org")
    assert s.max_message_size == 25 * 1024 * 1024
    assert s.command_timeout == 300.0 and s.data_timeout == 90.0
    assert s.bare_lf == "normalize" and s.fsync is False
    assert s.users == {"alice": "pw"} and s.auth_enabled


def test_from_toml_top_level_keys_and_tables_ignored(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('hostname = "mx.example.com"\n[faults]\nx = 1\n', encoding="utf-8")
    assert Settings.from_toml(p).hostname == "mx.example.com"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("max_message_size = 'huge'", "max_message_size"),
        ("mesage_size = 5", "did you mean"),
        ("listen = 'nocolon'", "HOST:PORT"),
        ("listen = '1.2.3.4:99999'", "65535"),
        ("bare_lf = 'ignore'", "bare_lf"),
        ("max_command_line = 100", "512"),
        ("max_recipients = 0", "max_recipients"),
        ("tls_cert = 'a.pem'", "tls_key"),
        ("local_domains = ['bad domain']", "local_domains"),
        ("mailboxes = ['nobody']", "mailboxes"),
        ("fsync = 'maybe'", "true or false"),
        ("auth_mechanisms = ['CRAM-MD5']", "PLAIN and LOGIN"),
        ("command_timeout = -1", "non-negative"),
        ("this is not toml", "not valid TOML"),
        ("users = 5", "users"),
    ],
)
def test_bad_values_give_clear_errors(tmp_path: Path, content: str, fragment: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(")) as info:
        Settings.from_toml(p)
    assert str(p) in str(info.value)  # the message names the file


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_toml(tmp_path / "absent.toml")
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SettingsError, match="UTF-8"):
        Settings.from_toml(p)


def test_merge_ignores_none_and_converts_cli_strings() -> None:
    s = Settings().merge(
        {
            "listen": "0.0.0.0:25",
            "max-message-size": "1k",
            "local_domain": None,
            "fsync": "off",
            "max_recipients": "50",
        }
    )
    assert s.listen_port == 25 and s.max_message_size == 1024 and s.fsync is False and s.max_recipients == 50
    assert Settings().merge({}) == Settings().merge({"maildir": None})
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings().merge({"nonsense": 1})


def test_settings_are_immutable_and_users_masked() -> None:
    s = Settings(users={"u": "secret"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.listen = "x"  # type: ignore[misc]
    assert s.as_dict()["users"] == {"u": "***"}


@pytest.mark.parametrize(
    ("text", "value"), [(1000, 1000), ("1000", 1000), ("512k", 524288), ("10M", 10485760), ("1G", 1 << 30)]
)
def test_parse_size(text: object, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("bad", ["", "k", "10X", "-5", True, 1.5, "9" * 40])
def test_parse_size_rejects(bad: object) -> None:
    with pytest.raises(SettingsError):
        parse_size(bad)


@pytest.mark.parametrize(
    ("text", "value"), [(30, 30.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25)]
)
def test_parse_duration(text: object, value: float) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("bad", ["soon", "5 days", "-1s", "nan", "inf", False, None])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(SettingsError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "value"),
    [("127.0.0.1:25", ("127.0.0.1", 25)), ("[::1]:2525", ("::1", 2525)), ("localhost:0", ("localhost", 0))],
)
def test_parse_hostport(text: str, value: tuple[str, int]) -> None:
    assert parse_hostport(text) == value


@pytest.mark.parametrize("bad", ["::1:25", "[::1]25", ":25", "host:", "host:abc", "[zz]:25", "host:-1"])
def test_parse_hostport_rejects(bad: str) -> None:
    with pytest.raises(SettingsError):
        parse_hostport(bad)


def test_hostname_default_falls_back_when_the_machine_name_is_unusable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert Settings().hostname == "localhost"
    monkeypatch.setattr(socket, "gethostname", lambda: "bad name with spaces")
    assert Settings().hostname == "localhost"
    monkeypatch.setattr(socket, "gethostname", lambda: "box-1.example.com")
    assert Settings().hostname == "box-1.example.com"
