"""Hostile input: the bounce analyser never raises, never hangs, never backtracks catastrophically."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpdiag.bounce.pipeline import analyze
from smtpdiag.bounce.result import BounceResult

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"
CORPUS_FILES = sorted(CORPUS.glob("*.eml"))
#: Generous wall-clock bound for one adversarial message: catches exponential/quadratic regexes
#: (which take minutes on 1 MB), not a performance assertion.
ADVERSARIAL_SECONDS = 10.0
MEGABYTE = 1024 * 1024


def check(data: bytes) -> list[BounceResult]:
    results = analyze(data)
    assert isinstance(results, list)
    for result in results:
        assert isinstance(result, BounceResult)
        assert isinstance(result.reason, str) and result.reason
    return results


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check(data)


HEADER_LINES = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=XX",
        b"Content-Type: message/delivery-status",
        b'Content-Type: multipart/mixed; boundary="',
        b"--XX",
        b"--XX--",
        b"Final-Recipient: rfc822; user@example.org",
        b"Action: failed",
        b"Status: 5.1.1",
        b"Status: 9.9.9.9",
        b"Diagnostic-Code: smtp; 550 5.1.1 unknown",
        b"Diagnostic-Code: smtp;",
        b"From: MAILER-DAEMON@example.org",
        b"Subject: Undelivered Mail Returned to Sender",
        b"Subject: =?iso-2022-jp?B?GyRCJSglaSE8GyhC?=",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Type: text/plain; charset=unknown-8bit",
        b"<u@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command)",
        b"----- The following addresses had permanent fatal errors -----",
        b"This is the mail system at host example.org.",
        b"",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(HEADER_LINES, st.binary(max_size=80)), max_size=60), st.sampled_from([b"\n", b"\r\n"])
)
def test_bounce_shaped_garbage_never_raises(lines: list[bytes], eol: bytes) -> None:
    check(eol.join(lines))


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            del buf[pos : pos + rng.randint(1, 200)]
        elif op == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        else:
            start = rng.randrange(len(buf) + 1)
            buf[pos:pos] = buf[start : start + rng.randint(1, 400)]
    return bytes(buf)


def test_mutated_corpus_emails_never_raise() -> None:
    rng = random.Random(20261128)
    for path in CORPUS_FILES:
        data = path.read_bytes()
        for _ in range(3):
            check(mutate(data, rng))
        check(data[: rng.randrange(len(data) + 1)])  # truncated anywhere


ADVERSARIAL_LINES = {
    "letters": b"a" * MEGABYTE,
    "spaces": b" " * MEGABYTE,
    "digits": b"5" * MEGABYTE,
    "dotted": b"5." * (MEGABYTE // 2),
    "codes": b"550 5.1.1 " * (MEGABYTE // 10),
    "at-signs": b"@" * MEGABYTE,
    "addresses": b"a@b." * (MEGABYTE // 4),
    "angles": b"<" * MEGABYTE,
    "semicolons": b"smtp; " * (MEGABYTE // 6),
    "said": b"said: " * (MEGABYTE // 6),
    "mixed-spaces": b"\t \t" * (MEGABYTE // 3),
    "equals": b"=" * MEGABYTE,
    "qp-soft": b"=\n" * (MEGABYTE // 2),
}


def adversarial_messages(line: bytes) -> list[bytes]:
    dsn = (
        b"From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\n\n" + line + b"\n"
        b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; " + line[:200000] + b"\n\n"
        b"Final-Recipient: rfc822; " + line + b"\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: smtp; " + line + b"\n\n--B--\n"
    )
    plain = (
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@example.org>\n"
        b"Subject: Returned mail: see transcript for details\n\n" + line + b"\n" + line + b"\n"
    )
    header = b"Subject: " + line + b"\nFrom: " + line + b"\n\n" + line
    return [dsn, plain, header]


@pytest.mark.parametrize("name", sorted(ADVERSARIAL_LINES))
def test_megabyte_adversarial_lines_finish_quickly(name: str) -> None:
    for message in adversarial_messages(ADVERSARIAL_LINES[name]):
        start = time.perf_counter()
        check(message)
        elapsed = time.perf_counter() - start
        assert elapsed < ADVERSARIAL_SECONDS, f"{name}: {elapsed:.1f} s for one message"


def _dsn_with_status_body(body: bytes) -> bytes:
    return (
        b"From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\n\nfailed\n"
        b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        + body
        + b"Final-Recipient: rfc822; user@example.org\nAction: failed\nStatus: 5.1.1\n\n--B--\n"
    )


def _nested_multiparts(depth: int) -> bytes:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    return b"From: MAILER-DAEMON@example.org\nSubject: failure\n" + head + b"\nbody\n"


#: Messages whose structure, not their lines, is the attack: each part, block or nesting level
#: costs objects, so a small message could otherwise cost hundreds of MB.
STRUCTURAL_ATTACKS = {
    "blank-lines-in-status": _dsn_with_status_body(b"\n" * MEGABYTE),
    "tiny-status-blocks": _dsn_with_status_body(b"A: b\n\n" * (MEGABYTE // 6)),
    "many-parts": (
        b"From: MAILER-DAEMON@example.org\nSubject: failure\n"
        b"Content-Type: multipart/mixed; boundary=B\n\n" + b"--B\n\nx\n" * (MEGABYTE // 8) + b"--B--\n"
    ),
    "deep-nesting": _nested_multiparts(20000),
}
#: Peak memory allowed for analysing one of those (traced Python allocations).
STRUCTURAL_PEAK_BYTES = 64 * MEGABYTE


@pytest.mark.parametrize("name", sorted(STRUCTURAL_ATTACKS))
def test_structural_attacks_stay_small_and_quick(name: str) -> None:
    message = STRUCTURAL_ATTACKS[name]
    tracemalloc.start()
    try:
        start = time.perf_counter()
        check(message)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < ADVERSARIAL_SECONDS, f"{name}: {elapsed:.1f} s for one message"
    size = len(message) / MEGABYTE
    assert peak < STRUCTURAL_PEAK_BYTES, f"{name}: {peak / MEGABYTE:.0f} MB for a {size:.1f} MB message"


def test_atheris_fuzzing_short_run(tmp_path: Path) -> None:
    """A short coverage-guided run with atheris, when it is installed for this interpreter."""
    pytest.importorskip("atheris")
    script = Path(__file__).parent.parent / "bench" / "fuzz_bounce.py"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for path in CORPUS_FILES[::25]:
        (seeds / path.name).write_bytes(path.read_bytes())
    proc = subprocess.run(
        [sys.executable, str(script), "-runs=3000", "-max_len=8192", "-timeout=20", str(seeds)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
