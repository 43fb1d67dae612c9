"""Server settings: ONE typed object, every limit named, with a documented default and a reason.

In the manner of Postfix's `postconf -d`: `Settings.describe()` lists each setting with its default and
why that default was chosen (`smtpdiag serve --print-defaults` prints it).

    settings = Settings.from_toml("serve.toml").merge({"listen": "127.0.0.1:2525"})

Sizes accept integers (octets) or strings with a k/M/G suffix ("10M" = 10 * 1024 * 1024); durations
accept numbers (seconds) or strings with an s/m/h suffix ("5m"). Every validation problem raises
`SettingsError` with a message naming the setting; nothing else is raised for bad input.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Settings", "SettingsError", "parse_duration", "parse_hostport", "parse_size"]

BareLFPolicy = Literal["reject", "normalize"]
StorageMode = Literal["maildir", "memory"]

_MAX_TOML_BYTES = 1_000_000  # a settings file is small; refuse to read a huge file into memory


class SettingsError(ValueError):
    """A setting has a bad value, or a settings file cannot be read: the message says which and why."""


def _s(default: Any, reason: str, *, unit: str = "") -> Any:
    """A field with a default and the reason for that default (shown by `describe()`)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults must use _sf")
    return field(default=default, metadata={"reason": reason, "unit": unit})


def _sf(factory: Any, reason: str, *, unit: str = "", shown: str | None = None) -> Any:
    return field(default_factory=factory, metadata={"reason": reason, "unit": unit, "shown": shown})


@dataclass(frozen=True)
class Settings:
    """Every setting of `smtpdiag serve`. Construct with keywords, `from_toml()`, or `merge()`."""

    # --- network -----------------------------------------------------------------------------
    listen: str = _s(
        "127.0.0.1:2525",
        "loopback and an unprivileged port: a test server must not be reachable from the network "
        "or need root unless asked (HOST:PORT, [IPv6]:PORT)",
    )
    hostname: str = _sf(
        lambda: _default_hostname(),
        "the name in the greeting and EHLO reply (RFC 5321 §4.1.3); like Postfix's myhostname it "
        "defaults to this machine's name",
        shown="<this machine's host name>",
    )
    greeting: str = _s("ESMTP smtpdiag", "text after the host name in the 220 greeting")
    http_listen: str = _s(
        "",
        "HOST:PORT of the HTTP JSON API (fault rules, captured messages); empty: no API, nothing "
        "listens that was not asked for",
    )
    max_connections: int = _s(
        100, "simultaneous sessions in total (Postfix default_process_limit = 100)", unit="sessions"
    )
    max_connections_per_ip: int = _s(
        50,
        "simultaneous sessions from one client IP (Postfix smtpd_client_connection_count_limit = "
        "50): one client cannot take all the slots",
        unit="sessions",
    )

    # --- what mail is accepted -------------------------------------------------------------------
    local_domains: tuple[str, ...] = _s(
        (),
        "domains accepted for local delivery; any user of a listed domain is accepted unless "
        "`mailboxes` names addresses in it. When both lists are empty the server captures mail for "
        "every address (test-server mode); otherwise anything else is relay denied (554 5.7.1)",
    )
    mailboxes: tuple[str, ...] = _s(
        (),
        "exact addresses accepted; their domains become local, and other users of those domains "
        "get 550 5.1.1 (unknown user)",
    )
    max_message_size: int = _s(
        10_240_000,
        "largest message accepted, advertised as SIZE (Postfix message_size_limit = 10240000); "
        "larger: 552 5.3.4, the rest is read and discarded, never buffered",
        unit="octets",
    )
    max_recipients: int = _s(
        1000,
        "recipients per message (Postfix smtpd_recipient_limit = 1000; RFC 5321 §4.5.3.1.8 requires "
        "at least 100); more: 452 4.5.3",
        unit="recipients",
    )
    quota_per_mailbox: int = _s(
        0,
        "octets a mailbox may hold (0 = unlimited: a capture server keeps everything; set it to "
        "reproduce mailbox-full, 452 4.2.2)",
        unit="octets",
    )

    # --- line and buffer limits ------------------------------------------------------------------
    max_command_line: int = _s(
        512,
        "command line length including CRLF (RFC 5321 §4.5.3.1.4); longer: 500 5.5.6",
        unit="octets",
    )
    max_text_line: int = _s(
        1000,
        "message text line length including CRLF (RFC 5321 §4.5.3.1.6); a message with a longer "
        "line is rejected at end of data (552 5.3.4); 0 = no limit",
        unit="octets",
    )
    max_auth_line: int = _s(
        12288,
        "AUTH response line length (RFC 4954 §4 raises the command line limit to 12288 for AUTH)",
        unit="octets",
    )
    max_input_buffer: int = _s(
        262_144,
        "pipelined input held while the server waits for storage to commit a message; more and "
        "the client is ignoring PIPELINING's flow control: the connection is closed",
        unit="octets",
    )

    # --- timeouts (carried out by the runtime; the protocol core only names them) ----------------
    command_timeout: float = _s(
        300.0,
        "idle time allowed while waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes; "
        "Postfix smtpd_timeout = 300s); then 421 4.4.2",
        unit="seconds",
    )
    data_timeout: float = _s(
        180.0,
        "time allowed between two reads of message data (the client's own data block timeout "
        "is 3 minutes, RFC 5321 §4.5.3.2.5); then 421 4.4.2",
        unit="seconds",
    )
    min_data_rate: int = _s(
        500,
        "minimum average transfer rate during DATA/BDAT once past the first data_timeout "
        "(Postfix smtpd_min_data_rate = 500): a slow-drip client cannot hold a slot forever; 0 = off",
        unit="octets/second",
    )

    # --- error limits and throttles --------------------------------------------------------------
    soft_error_limit: int = _s(
        10,
        "errors after which every reply is delayed by error_sleep_time (Postfix smtpd_soft_error_limit = 10)",
        unit="errors",
    )
    hard_error_limit: int = _s(
        20,
        "errors after which the server says 421 4.7.0 and disconnects (Postfix "
        "smtpd_hard_error_limit = 20); delivering a message resets the count",
        unit="errors",
    )
    error_sleep_time: float = _s(
        1.0, "delay added to replies past soft_error_limit (Postfix smtpd_error_sleep_time)", unit="seconds"
    )
    junk_command_limit: int = _s(
        100,
        "NOOP/RSET/VRFY/HELP commands allowed without delivering mail before each counts as an "
        "error (Postfix smtpd_junk_command_limit = 100)",
        unit="commands",
    )
    auth_failure_limit: int = _s(
        5,
        "failed AUTH attempts per client IP within auth_failure_window before further attempts "
        "are refused with 454 4.7.0 (brute-force throttle, carried out by the runtime)",
        unit="failures",
    )
    auth_failure_window: float = _s(
        300.0, "the window over which auth_failure_limit counts failures", unit="seconds"
    )

    # --- TLS and authentication ------------------------------------------------------------------
    starttls: bool = _s(True, "offer STARTTLS (RFC 3207); a self-signed certificate is made if none is given")
    tls_cert: str = _s("", "PEM certificate chain for STARTTLS; empty: generate a self-signed one")
    tls_key: str = _s("", "PEM private key for tls_cert")
    require_tls: bool = _s(
        False, "refuse MAIL and AUTH before STARTTLS (530 5.7.0); off: plaintext clients still work"
    )
    require_tls_for_auth: bool = _s(
        True,
        "AUTH only over TLS (Postfix smtpd_tls_auth_only): no password crosses the wire in clear; "
        "AUTH is not advertised before STARTTLS and is answered 538 5.7.11",
    )
    require_auth: bool = _s(False, "refuse MAIL from unauthenticated clients (530 5.7.0)")
    auth_mechanisms: tuple[str, ...] = _s(
        ("PLAIN", "LOGIN"), "SASL mechanisms offered (RFC 4954); only PLAIN and LOGIN exist here"
    )
    users: Mapping[str, str] = _sf(
        dict,
        "AUTH user names and passwords; empty: AUTH is not offered",
        shown="{}",
    )

    # --- extensions and content ------------------------------------------------------------------
    pipelining: bool = _s(True, "advertise PIPELINING (RFC 2920)")
    chunking: bool = _s(True, "advertise CHUNKING and accept BDAT (RFC 3030)")
    smtputf8: bool = _s(True, "advertise SMTPUTF8 (RFC 6531): internationalised addresses")
    dsn: bool = _s(True, "advertise DSN and accept RET/ENVID/NOTIFY/ORCPT (RFC 3461)")
    bare_lf: BareLFPolicy = _s(  # noqa: RUF009
        "reject",
        "a message with a bare LF or bare CR line ending is rejected with 554 5.5.2 after its end "
        "(RFC 5321 §2.3.8; SMTP smuggling); 'normalize' turns them into CRLF instead. Either way "
        "only CRLF.CRLF ends the data",
    )

    # --- storage ---------------------------------------------------------------------------------
    storage: StorageMode = _s(  # noqa: RUF009
        "maildir", "where accepted messages go: 'maildir' (durable, fsync'd) or 'memory' (capture only)"
    )
    maildir: str = _s("./mail", "Maildir root for storage = 'maildir'")
    fsync: bool = _s(
        True,
        "fsync each message file and its directory before the 250 reply: nothing acknowledged is "
        "lost on a crash",
    )
    transcript_dir: str = _s(
        "",
        "directory for per-session JSON-lines transcripts; empty: transcripts are kept in memory "
        "only (recent sessions, for the HTTP API)",
    )

    # ------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        _validate(self)

    @property
    def listen_host(self) -> str:
        return parse_hostport(self.listen, "listen")[0]

    @property
    def listen_port(self) -> int:
        return parse_hostport(self.listen, "listen")[1]

    @property
    def auth_enabled(self) -> bool:
        return bool(self.users) and bool(self.auth_mechanisms)

    # ------------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "settings") -> Settings:
        """Build from a mapping of setting names (e.g. a parsed TOML table), converting units."""
        return cls().merge(values, source=source)

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Read a TOML file whose top-level keys (or a [serve] table) are setting names."""
        p = Path(path)
        try:
            with p.open("rb") as fh:
                raw = fh.read(_MAX_TOML_BYTES + 1)
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {p}: {exc.strerror or exc}") from None
        if len(raw) > _MAX_TOML_BYTES:
            raise SettingsError(f"settings file {p} is larger than {_MAX_TOML_BYTES} bytes")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise SettingsError(f"settings file {p} is not UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {p} is not valid TOML: {exc}") from None
        if isinstance(data.get("serve"), dict):
            # `[serve]` table: other tables (e.g. fault rules) are for the runtime, not for Settings
            data = data["serve"]
        else:
            data = {k: v for k, v in data.items() if not isinstance(v, dict) or k == "users"}
        return cls.from_mapping(data, source=str(p))

    def merge(self, overrides: Mapping[str, Any], *, source: str = "overrides") -> Settings:
        """A copy with `overrides` applied; keys whose value is None are ignored (unset CLI flags)."""
        known = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            key = name.replace("-", "_")
            if key not in known:
                hint = _closest(key, known)
                raise SettingsError(
                    f"{source}: unknown setting {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                )
            changes[key] = _convert(key, value, getattr(self, key), source)
        if not changes:
            return self
        try:
            return dataclasses.replace(self, **changes)
        except SettingsError as exc:
            raise SettingsError(f"{source}: {exc}") from None

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(name, default as text, reason) for every setting, in declaration order."""
        out = []
        for f in dataclasses.fields(cls):
            shown = f.metadata.get("shown")
            if shown is None:
                default = f.default
                shown = _show(default)
            unit = f.metadata.get("unit", "")
            if unit:
                shown = f"{shown} {unit}"
            out.append((f.name, str(shown), str(f.metadata.get("reason", ""))))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain data (passwords masked), e.g. for a JSON status endpoint."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "users":
                value = {k: "***" for k in value}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


# --------------------------------------------------------------------------------------------------
# conversion and validation


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(value) if value else "(none)"
    if value == "":
        return '""'
    return str(value)


def _closest(key: str, known: Mapping[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}


def _split_unit(text: str) -> tuple[str, str]:
    text = text.strip().lower().replace("_", "")
    i = len(text)
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    return text[:i].strip(), text[i:]


def parse_size(value: Any, name: str = "size") -> int:
    """An octet count: an int, or a string such as "10M", "512k", "1000"."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a size, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        number, unit = _split_unit(value)
        if unit not in _SIZE_UNITS or not number or len(number) > 15:
            raise SettingsError(f"{name}: {value!r} is not a size (examples: 1000, 512k, 10M, 1G)")
        try:
            result = int(float(number) * _SIZE_UNITS[unit])
        except ValueError:
            raise SettingsError(f"{name}: {value!r} is not a size (examples: 1000, 512k, 10M, 1G)") from None
    else:
        raise SettingsError(f"{name}: expected a size, got {type(value).__name__}")
    if result < 0:
        raise SettingsError(f"{name}: must not be negative (got {value!r})")
    return result


def parse_duration(value: Any, name: str = "duration") -> float:
    """Seconds: a number, or a string such as "300", "300s", "5m", "1.5h", "250ms"."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a duration, got a boolean")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        number, unit = _split_unit(value)
        if unit not in _TIME_UNITS or not number or len(number) > 15:
            raise SettingsError(f"{name}: {value!r} is not a duration (examples: 300, 30s, 5m, 1h)")
        try:
            result = float(number) * _TIME_UNITS[unit]
        except ValueError:
            raise SettingsError(f"{name}: {value!r} is not a duration (examples: 300, 30s, 5m, 1h)") from None
    else:
        raise SettingsError(f"{name}: expected a duration, got {type(value).__name__}")
    if not result >= 0 or result == float("inf"):
        raise SettingsError(f"{name}: must be a finite, non-negative number of seconds (got {value!r})")
    return result


def parse_hostport(value: str, name: str = "listen") -> tuple[str, int]:
    """Split "HOST:PORT" or "[IPv6]:PORT"; a clear SettingsError when malformed."""
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise SettingsError(f"{name}: {value!r} is not [IPv6]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise SettingsError(f"{name}: {value!r} is not HOST:PORT (example: 127.0.0.1:2525)")
        if ":" in host:
            raise SettingsError(f"{name}: write an IPv6 address in brackets, e.g. [::1]:2525")
    if not host:
        raise SettingsError(f"{name}: {value!r} has no host (use 0.0.0.0 for all IPv4 addresses)")
    if not port_text.isdigit() or len(port_text) > 5 or not 0 <= int(port_text) <= 65535:
        raise SettingsError(f"{name}: port in {value!r} must be a number from 0 to 65535")
    if text.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SettingsError(f"{name}: {host!r} is not an IPv6 address") from None
    return host, int(port_text)


def _as_str_tuple(key: str, value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{source}: {key} must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _convert(key: str, value: Any, current: Any, source: str) -> Any:
    """Convert one raw value (TOML/CLI) to the field's type."""
    where = f"{source}: {key}"
    if key in _SIZE_FIELDS:
        return parse_size(value, where)
    if key in _DURATION_FIELDS:
        return parse_duration(value, where)
    if key == "users":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SettingsError(f'{where} must be a table of user = "password" strings')
        return dict(value)
    if isinstance(current, bool):
        if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1", "no", "false", "off", "0"):
            return value.lower() in ("yes", "true", "on", "1")
        if not isinstance(value, bool):
            raise SettingsError(f"{where} must be true or false (got {value!r})")
        return value
    if isinstance(current, tuple):
        return _as_str_tuple(key, value, source)
    if isinstance(current, int):
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 16:
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{where} must be a whole number (got {value!r})")
        return value
    if isinstance(current, str):
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be a string (got {value!r})")
        return value
    return value  # pragma: no cover - every field type is handled above


_SIZE_FIELDS = frozenset(
    {
        "max_message_size",
        "quota_per_mailbox",
        "max_command_line",
        "max_text_line",
        "max_auth_line",
        "max_input_buffer",
    }
)
_DURATION_FIELDS = frozenset({"command_timeout", "data_timeout", "error_sleep_time", "auth_failure_window"})


def _validate(s: Settings) -> None:
    def need(cond: bool, message: str) -> None:
        if not cond:
            raise SettingsError(message)

    parse_hostport(s.listen, "listen")
    if s.http_listen:
        parse_hostport(s.http_listen, "http_listen")
    need(
        bool(s.hostname) and len(s.hostname) <= 255 and all(c.isalnum() or c in "-._[]:" for c in s.hostname),
        f"hostname: {s.hostname!r} is not a host name",
    )
    need("\r" not in s.greeting and "\n" not in s.greeting, "greeting: must be a single line")
    need(len(s.greeting) <= 200, "greeting: at most 200 characters")
    need(512 <= s.max_command_line <= 65536, "max_command_line: between 512 (RFC 5321 minimum) and 65536")
    need(
        s.max_text_line == 0 or 1000 <= s.max_text_line <= 1_048_576,
        "max_text_line: 0 (no limit) or between 1000 (RFC 5321 minimum) and 1048576",
    )
    need(512 <= s.max_auth_line <= 65536, "max_auth_line: between 512 and 65536")
    need(4096 <= s.max_input_buffer <= 64 * 1024**2, "max_input_buffer: between 4096 and 64M")
    need(1 <= s.max_message_size <= 2**40, "max_message_size: between 1 and 1T octets")
    need(1 <= s.max_recipients <= 1_000_000, "max_recipients: between 1 and 1000000")
    need(s.max_connections >= 1, "max_connections: at least 1")
    need(s.max_connections_per_ip >= 1, "max_connections_per_ip: at least 1")
    need(s.min_data_rate >= 0, "min_data_rate: must not be negative")
    need(s.command_timeout > 0, "command_timeout: must be more than 0 seconds")
    need(s.data_timeout > 0, "data_timeout: must be more than 0 seconds")
    need(s.soft_error_limit >= 1, "soft_error_limit: at least 1")
    need(s.hard_error_limit >= 1, "hard_error_limit: at least 1")
    need(s.junk_command_limit >= 1, "junk_command_limit: at least 1")
    need(s.auth_failure_limit >= 1, "auth_failure_limit: at least 1")
    need(s.bare_lf in ("reject", "normalize"), f"bare_lf: 'reject' or 'normalize', not {s.bare_lf!r}")
    need(s.storage in ("maildir", "memory"), f"storage: 'maildir' or 'memory', not {s.storage!r}")
    need(s.storage != "maildir" or bool(s.maildir), "maildir: needed when storage = 'maildir'")
    need(bool(s.tls_cert) == bool(s.tls_key), "tls_cert and tls_key: give both or neither")
    mechs = {m.upper() for m in s.auth_mechanisms}
    need(
        mechs <= {"PLAIN", "LOGIN"},
        f"auth_mechanisms: only PLAIN and LOGIN are supported, not {sorted(mechs)}",
    )
    for d in s.local_domains:
        need(_looks_like_domain(d), f"local_domains: {d!r} is not a domain name")
    for m in s.mailboxes:
        local, at, domain = m.rpartition("@")
        need(bool(at and local and _looks_like_domain(domain)), f"mailboxes: {m!r} is not user@domain")


def _default_hostname() -> str:
    """This machine's name when it is a usable host name, else "localhost" (never a DNS lookup)."""
    name = socket.gethostname()
    if name and len(name) <= 255 and all(c.isascii() and (c.isalnum() or c in "-._") for c in name):
        return name
    return "localhost"


def _looks_like_domain(d: str) -> bool:
    if not d or len(d) > 255 or d.startswith(".") or d.endswith("..") or " " in d:
        return False
    if d.startswith("[") and d.endswith("]"):
        return True
    return all(ch.isalnum() or ch in "-._" for ch in d)
