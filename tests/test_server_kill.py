"""THE KILL TEST: SIGKILL `smtpdiag serve` while clients send; nothing acknowledged may be lost.

Several client threads send messages with distinct random bodies to a `smtpdiag serve` subprocess
writing to a Maildir; the server is killed with SIGKILL in mid-run. Then:

- every message that got 250 is in new/, byte-for-byte intact (SHA-256 of the body);
- no file in new/ is partial or unknown. A message whose 250 was not received can only be in new/
  if its data had been sent completely and the kill fell between the commit and the reply reaching
  the client (each thread has at most one such message in flight; SMTP tolerates this duplicate
  window, RFC 5321 section 6.1, but never a loss);
- tmp/ leftovers are allowed and not counted.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

THREADS = 6
MIN_ACKED_BEFORE_KILL = 60


def start_server(maildir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtpdiag",
            "serve",
            "-q",
            "--listen",
            "127.0.0.1:0",
            "--maildir",
            str(maildir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        match = re.search(r"listening on [^ ]+:(\d+)", line)
        if match:
            return proc, int(match.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("smtpdiag serve did not start")


def make_body(rng: random.Random, token: str) -> bytes:
    lines = [
        f"Subject: {token}",
        "From: kill@test",
        "",
        *("".join(rng.choices("abcdefghij ", k=76)) for _ in range(rng.randint(5, 200))),
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    proc, port = start_server(maildir)
    acked: dict[str, str] = {}  # token -> sha256 of the body
    in_flight: dict[str, str] = {}  # token -> sha256, sent completely but not acknowledged
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        rng = random.Random(n)
        try:
            conn = smtplib.SMTP("127.0.0.1", port, timeout=10)
        except OSError:
            return
        i = 0
        while not stop.is_set():
            token = f"t{n}-{i}-{rng.getrandbits(48):x}"
            i += 1
            body = make_body(rng, token)
            digest = hashlib.sha256(body).hexdigest()
            with lock:
                in_flight[token] = digest
            try:
                conn.sendmail("sender@test", [f"r{n}@local.test"], body)
            except (smtplib.SMTPException, OSError):
                return  # the server died; this one stays "in flight"
            with lock:
                del in_flight[token]
                acked[token] = digest
            if i % 7 == 0:  # new connections now and then, too
                try:
                    conn.quit()
                    conn = smtplib.SMTP("127.0.0.1", port, timeout=10)
                except (smtplib.SMTPException, OSError):
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < MIN_ACKED_BEFORE_KILL and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(20)
    assert len(acked) >= MIN_ACKED_BEFORE_KILL, (
        "too few messages before the kill for the test to mean anything"
    )

    stored: dict[str, str] = {}
    for path in (maildir / "new").iterdir():
        data = path.read_bytes()
        match = re.search(rb"\r\nSubject: (t[0-9a-f-]+)\r\n", data)
        assert match, f"unrecognisable file in new/: {path.name}"
        token = match.group(1).decode()
        start = data.index(b"Subject: ")
        stored[token] = hashlib.sha256(data[start:]).hexdigest()
        assert f",S={len(data)}" in path.name  # the size in the name is the size on disk

    lost = [t for t in acked if t not in stored]
    assert not lost, f"{len(lost)} acknowledged messages lost"
    corrupt = [t for t, digest in acked.items() if stored[t] != digest]
    assert not corrupt, f"{len(corrupt)} acknowledged messages corrupted"
    unacked = [t for t in stored if t not in acked]
    for token in unacked:
        assert token in in_flight, f"{token} is in new/ but was never sent completely"
        assert stored[token] == in_flight[token], f"{token} in new/ is partial"
    assert len(unacked) <= THREADS
