"""`smtpdiag serve` on the command line: listings, errors, config files, signals."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from smtpdiag.cli import cli
from smtpdiag.server.scenarios import SCENARIOS

SERVE = [sys.executable, "-m", "smtpdiag", "serve"]


def test_list_scenarios() -> None:
    result = CliRunner().invoke(cli, ["serve", "--list-scenarios"])
    assert result.exit_code == 0
    for name in SCENARIOS:
        assert name in result.output
    result = CliRunner().invoke(cli, ["serve", "--list-scenarios", "--json"])
    assert {s["name"] for s in json.loads(result.output)} == set(SCENARIOS)


def test_print_defaults() -> None:
    result = CliRunner().invoke(cli, ["serve", "--print-defaults"])
    assert result.exit_code == 0
    assert "max_message_size = 10240000" in result.output and "#" in result.output


def test_unknown_scenario_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--scenario", "nope", "--memory"])
    assert result.exit_code == 1
    assert "unknown scenario 'nope'" in result.output and "Traceback" not in result.output


def test_bad_config_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    result = CliRunner().invoke(cli, ["serve", "--config", str(bad)])
    assert result.exit_code == 1 and "not valid" in result.output
    rules = tmp_path / "rules.toml"
    rules.write_text('[serve]\nstorage = "memory"\n\n[[rules]]\nstage = "rcpt"\ncode = 999\n')
    result = CliRunner().invoke(cli, ["serve", "--config", str(rules)])
    assert result.exit_code == 1 and "rule #1" in result.output
    result = CliRunner().invoke(cli, ["serve", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1 and "cannot read" in result.output
    result = CliRunner().invoke(cli, ["serve", "--listen", "nonsense"])
    assert result.exit_code == 1 and "listen" in result.output


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "serve", "--memory", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
    with socket.socket() as busy:  # the HTTP API's port in use is named as such
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [*SERVE, "--memory", "--listen", "127.0.0.1:0", "--http", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in proc.stderr


def start(args: list[str]) -> tuple[subprocess.Popen[str], int, int | None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdiag", "serve", "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    port = http = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (port is None or ("--http" in args and http is None)):
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        if m := re.search(r"listening on [^ ]+:(\d+)", line):
            port = int(m.group(1))
        if m := re.search(r"HTTP API on http://[^ ]+:(\d+)/", line):
            http = int(m.group(1))
    assert port is not None, "server did not start"
    return proc, port, http


def test_config_rules_scenario_http_and_clean_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(
        '[serve]\nstorage = "memory"\nlocal_domains = ["local.test"]\n\n'
        '[[rules]]\nstage = "rcpt"\nrecipient = "full@*"\n'
        'code = 452\nenhanced = "4.2.2"\ntext = "Mailbox full"\n'
    )
    proc, port, http = start(
        ["--config", str(config), "--scenario", "spam-rejected", "--http", "127.0.0.1:0"]
    )
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.ehlo()
            client.mail("a@s.test")
            assert client.rcpt("full@local.test")[0] == 452  # from the config file
            assert client.rcpt("x@elsewhere.test")[0] == 554  # relay denied: local_domains from the config
            assert client.rcpt("ok@local.test")[0] == 250
            code, text = client.data(b"Subject: x\r\n\r\nspam\r\n")
            assert (code, text[:5]) == (550, b"5.7.1")  # the scenario
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/rules", timeout=5) as resp:
            rules = json.load(resp)["rules"]
        assert [r["stage"] for r in rules] == ["rcpt", "end_of_data"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "shutting down" in err
    assert "rule #1 at rcpt: 452 4.2.2 Mailbox full" in err  # the log names what fired
    assert "at end_of_data: 550 5.7.1" in err


def test_given_certificate_is_used_and_a_bad_one_is_a_clear_error(tmp_path: Path) -> None:
    import ssl

    from smtpdiag.server.tls import generate_self_signed

    cert = generate_self_signed("mx.example.test")
    (tmp_path / "cert.pem").write_bytes(cert.cert_pem)
    (tmp_path / "key.pem").write_bytes(cert.key_pem)
    proc, port, _ = start(
        ["--memory", "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")]
    )
    try:
        ctx = ssl.create_default_context(cadata=cert.cert_pem.decode())
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.starttls(context=ctx)  # verifies against the given certificate
            client.sendmail("a@s.test", ["u@local.test"], b"Subject: tls\r\n\r\nx\r\n")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    (tmp_path / "bad.pem").write_text("not a certificate")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "serve",
            "--memory",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            str(tmp_path / "bad.pem"),
            "--tls-key",
            str(tmp_path / "bad.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "cannot load TLS certificate" in bad.stderr
    assert "Traceback" not in bad.stderr
