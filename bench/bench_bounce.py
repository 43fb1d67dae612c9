#!/usr/bin/env python3
"""Bounce-analysis speed and memory, side by side with Sisimai in the same run.

    python bench/bench_bounce.py [--repeat N] [--mbox-messages N] [--skip-memory]

Prints messages per second of
  * smtpdiag in one process (read + analyse, like `peer-sisimai --bench`),
  * Sisimai (Debian's libsisimai-perl via bench/peer-sisimai --bench; installed with apt-get if
    missing and we are root),
  * the `smtpdiag bounce --json` command with --jobs 1 and --jobs 2 (whole process, start-up included),
and the ratios; then the peak RSS of `smtpdiag bounce --json` streaming an mbox of many bounces.
Figures are ratios in one run: the machine is shared and noisy, absolute times mean little.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "bounces" / "emails"
PEER = ROOT / "bench" / "peer-sisimai"
SMTPDIAG = [sys.executable, "-m", "smtpdiag"]


def ensure_sisimai() -> bool:
    probe = subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True)
    if probe.returncode == 0:
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("Sisimai (libsisimai-perl) is not installed and cannot be installed here", file=sys.stderr)
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "libsisimai-perl"], env=env, capture_output=True)
    return subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0


def sisimai_in_process(repeat: int) -> float:
    out = subprocess.run(
        ["perl", str(PEER), "--bench", "--repeat", str(repeat), str(CORPUS)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"([\d.]+) messages/s", out.stderr)
    if not match:
        raise RuntimeError(f"unexpected peer output: {out.stderr!r}")
    return float(match.group(1))


def smtpdiag_in_process(repeat: int) -> float:
    from smtpdiag.bounce.batch import analyze_input
    from smtpdiag.bounce.inputs import iter_inputs

    # warm-up: imports, knowledge base and pattern compilation are one-off costs
    for message in iter_inputs([str(CORPUS)]):
        analyze_input(message)
    count = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for message in iter_inputs([str(CORPUS)]):
            analyze_input(message)
            count += 1
    return count / (time.perf_counter() - start)


def build_kind() -> str:
    """Which build of the analysis path is measured: mypyc-compiled (setup.py) or pure Python."""
    import smtpdiag.bounce.pipeline as pipeline

    where = pipeline.__file__ or ""
    return "compiled with mypyc" if where.endswith((".so", ".pyd")) else "pure Python"


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def peak_rss_mb(cmd: list[str], stdout_path: str) -> tuple[float, float]:
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{cmd} failed with status {status}")
    return usage.ru_maxrss / 1024, elapsed


def build_mbox(path: Path, messages: int) -> int:
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    with open(path, "wb") as out:
        for i in range(messages):
            data = corpus[i % len(corpus)]
            if data.startswith(b"From "):
                data = data.split(b"\n", 1)[1]
            data = data.replace(b"\r\n", b"\n")
            data = re.sub(rb"(?m)^(>*From )", rb">\1", data)
            out.write(b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n" + data + b"\n")
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="passes over the corpus (default 5)")
    ap.add_argument("--mbox-messages", type=int, default=100_000, help="bounces in the memory test mbox")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    n_files = len(list(CORPUS.glob("*.eml")))
    print(f"corpus: {n_files} messages x {args.repeat} passes; cpu cores: {os.cpu_count()}")
    print(f"smtpdiag build: {build_kind()}")

    have_peer = ensure_sisimai()
    ours = smtpdiag_in_process(args.repeat)
    peer = sisimai_in_process(args.repeat) if have_peer else float("nan")

    dirs = [str(CORPUS)] * args.repeat
    total = n_files * args.repeat
    cli_1 = total / wall([*SMTPDIAG, "bounce", "--json", "--no-progress", *dirs])
    cli_2 = total / wall([*SMTPDIAG, "bounce", "--json", "--no-progress", "--jobs", "2", *dirs])
    peer_cli = (
        total / wall(["perl", str(PEER), "--repeat", str(args.repeat), str(CORPUS)])
        if have_peer
        else float("nan")
    )

    print()
    print(f"{'run':<52}{'msg/s':>10}{'vs Sisimai':>12}")
    rows = [
        ("Sisimai 4.25, in-process (peer-sisimai --bench)", peer, peer),
        ("smtpdiag, in-process (read + analyze)", ours, peer),
        ("Sisimai, whole command (peer-sisimai, JSON out)", peer_cli, peer_cli),
        ("smtpdiag bounce --json, whole command, --jobs 1", cli_1, peer_cli),
        ("smtpdiag bounce --json, whole command, --jobs 2", cli_2, peer_cli),
    ]
    for name, rate, base in rows:
        print(f"{name:<52}{rate:>10,.0f}{rate / base:>11.2f}x")

    if args.skip_memory:
        return
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "bounces.mbox"
        size = build_mbox(box, args.mbox_messages)
        out = str(Path(tmp) / "out.jsonl")
        rss, elapsed = peak_rss_mb([*SMTPDIAG, "bounce", "--json", "--no-progress", str(box)], out)
        results = sum(chunk.count(b'"recipient": ') for chunk in _chunks(out))
        n = args.mbox_messages
        print()
        print(
            f"memory: mbox of {n:,} bounces ({size / 1e6:,.0f} MB) -> {results:,} recipient results "
            f"in {elapsed:,.1f} s ({n / elapsed:,.0f} msg/s); peak RSS {rss:,.1f} MB (target < 150 MB)"
        )


def _chunks(path: str, size: int = 1 << 20) -> Iterator[bytes]:
    # the whole mbox is one JSON object (one line): count without loading it
    with open(path, "rb") as fh:
        tail = b""
        while block := fh.read(size):
            yield tail + block
            tail = block[-12:]  # shorter than the needle: no match is counted twice


if __name__ == "__main__":
    main()
