"""A large message goes to disk as it arrives: the server's memory does not grow with its size."""

from __future__ import annotations

import hashlib
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

SIZE = 40 * 1024 * 1024  # 40 MiB of message text
SERVE = [sys.executable, "-m", "smtpdiag", "serve", "-q", "--no-transcripts", "--listen", "127.0.0.1:0"]


def reply(sock: socket.socket, buf: bytearray) -> bytes:
    while True:
        end = buf.find(b"\r\n")
        while end < 0:
            chunk = sock.recv(65536)
            assert chunk, "server closed the connection"
            buf += chunk
            end = buf.find(b"\r\n")
        line = bytes(buf[:end])
        del buf[: end + 2]
        if line[3:4] != b"-":
            return line


def test_large_message_is_streamed_to_the_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    proc = subprocess.Popen(
        [*SERVE, "--maildir", str(maildir), "--config", str(_config(tmp_path))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = 0
        deadline = time.monotonic() + 30
        while not port and time.monotonic() < deadline:
            match = re.search(r"listening on [^ ]+:(\d+)", proc.stderr.readline())
            port = int(match.group(1)) if match else 0
        assert port, "server did not start"
        server = psutil.Process(proc.pid)
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        buf = bytearray()
        assert reply(sock, buf).startswith(b"220")
        sock.sendall(b"EHLO c\r\nMAIL FROM:<a@s.test>\r\nRCPT TO:<u@local.test>\r\nDATA\r\n")
        for _ in range(4):
            reply(sock, buf)
        rss_before = server.memory_info().rss
        digest = hashlib.sha256()
        line = b"0123456789" * 9 + b"\r\n"  # 92-octet lines
        block = line * 1000
        sent = 0
        peak = rss_before
        head = b"Subject: big\r\n\r\n"
        sock.sendall(head)
        digest.update(head)
        while sent < SIZE:
            sock.sendall(block)
            digest.update(block)
            sent += len(block)
            if sent % (4 * len(block)) == 0:
                peak = max(peak, server.memory_info().rss)
        sock.sendall(b".\r\n")
        assert reply(sock, buf).startswith(b"250 2.0.0")
        peak = max(peak, server.memory_info().rss)
        sock.close()
        # far below the message size: the data went to disk in chunks
        assert peak - rss_before < 16 * 1024 * 1024, f"server grew by {(peak - rss_before) >> 20} MiB"
        [path] = list((maildir / "new").iterdir())
        data = path.read_bytes()
        assert hashlib.sha256(data[data.index(b"Subject: big") :]).hexdigest() == digest.hexdigest()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "big.toml"
    config.write_text('[serve]\nmax_message_size = "100M"\n')
    return config
