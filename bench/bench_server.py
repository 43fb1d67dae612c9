"""Benchmark `smtpdiag serve` against aiosmtpd and Postfix's smtp-sink, loaded by Postfix's smtp-source.

    python bench/bench_server.py                  # 20 sessions, 20,000 messages of 256 bytes
    python bench/bench_server.py --messages 4000  # a quicker run

For each server, in the same run on the same machine: smtp-source with one connection per message,
then with reused connections (-d). Servers: smtpdiag serve capturing to memory, smtpdiag serve
writing a Maildir with fsync, aiosmtpd with its Sink handler, and smtp-sink. Prints messages per
second and the ratios (target: smtpdiag memory >= 3x aiosmtpd; and its fraction of smtp-sink).

smtp-source and smtp-sink come with Debian's postfix package; when they are missing and this runs as
root, the script installs it (apt-get, non-interactive; no Postfix daemon is started).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"


def ensure_postfix_tools() -> None:
    if os.path.exists(SMTP_SOURCE) and os.path.exists(SMTP_SINK):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("bench_server: smtp-source/smtp-sink not found; install Debian's postfix package (as root)")
    print("installing postfix (for smtp-source and smtp-sink) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "postfix"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    if not os.path.exists(SMTP_SOURCE):
        sys.exit("bench_server: postfix installed but smtp-source is still missing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(512)  # the greeting
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


@contextlib.contextmanager
def server(cmd: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryFile() as errors:  # not a pipe: a chatty server must never block on it
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            try:
                wait_for_port(port, proc)
            except RuntimeError:
                errors.seek(0)
                raise RuntimeError(f"{cmd[0]}: {errors.read().decode(errors='replace')[-500:]}") from None
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_source(port: int, sessions: int, messages: int, size: int, reuse: bool) -> float:
    """smtp-source's wall time for the whole run, in seconds."""
    args = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size)]
    args += ["-f", "bench@source.test", "-t", "sink@local.test", "-M", "source.test"]
    if reuse:
        args.append("-d")
    args.append(f"127.0.0.1:{port}")
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return elapsed


@dataclass
class Result:
    name: str
    new_conn: float  # msg/s
    reused: float  # msg/s
    new_conn_cpu: float  # server CPU (user + system) microseconds per message
    reused_cpu: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (psutil when available)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    try:
        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            total += sum(child.cpu_times()[:2])
        return float(total)
    except psutil.Error:
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best of them is reported")
    parser.add_argument(
        "--only", help="comma-separated subset: smtpdiag-memory,smtpdiag-maildir,aiosmtpd,smtp-sink"
    )
    args = parser.parse_args()
    ensure_postfix_tools()

    py = sys.executable
    workdir = Path(tempfile.mkdtemp(prefix="smtpdiag-bench-"))
    common = ["--quiet", "--no-transcripts"]
    targets: dict[str, list[str]] = {
        "smtpdiag-memory": [py, "-m", "smtpdiag", "serve", "--memory", *common, "--listen"],
        "smtpdiag-maildir": [
            py,
            "-m",
            "smtpdiag",
            "serve",
            "--maildir",
            str(workdir / "mail"),
            *common,
            "--listen",
        ],
        "aiosmtpd": [py, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l"],
        "smtp-sink": [SMTP_SINK, "-u", "nobody", "-c"],
    }
    chosen = args.only.split(",") if args.only else list(targets)
    unknown = set(chosen) - set(targets)
    if unknown:
        sys.exit(f"bench_server: unknown server(s) {', '.join(sorted(unknown))}; known: {', '.join(targets)}")
    # best of --repeat rounds; rounds go through all servers in turn, so that a burst of load from
    # elsewhere on the machine does not fall on one server only
    best_rate: dict[tuple[str, bool], float] = {}
    best_cpu: dict[tuple[str, bool], float] = {}
    try:
        for round_no in range(1, args.repeat + 1):
            for name in chosen:
                for reuse in (False, True):
                    port = free_port()
                    if name == "smtp-sink":
                        cmd = [*targets[name], f"127.0.0.1:{port}", "1024"]
                    else:
                        cmd = [*targets[name], f"127.0.0.1:{port}"]
                    with server(cmd, port) as proc:
                        cpu_before = cpu_seconds(proc.pid)
                        elapsed = run_source(port, args.sessions, args.messages, args.size, reuse)
                        cpu = (cpu_seconds(proc.pid) - cpu_before) / args.messages * 1e6
                    rate = args.messages / elapsed
                    key = (name, reuse)
                    best_rate[key] = max(best_rate.get(key, 0.0), rate)
                    best_cpu[key] = min(best_cpu.get(key, float("inf")), cpu)
                    print(
                        f"  round {round_no} {name:<17} {'reused' if reuse else 'new connections':<16} "
                        f"{args.messages} msgs in {elapsed:6.2f} s = {rate:8.0f} msg/s, "
                        f"server CPU {cpu:6.0f} us/msg",
                        file=sys.stderr,
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = [
        Result(n, best_rate[(n, False)], best_rate[(n, True)], best_cpu[(n, False)], best_cpu[(n, True)])
        for n in chosen
    ]

    print(
        f"\nsmtp-source: {args.sessions} sessions, {args.messages} messages of {args.size} bytes"
        + (f", best of {args.repeat} rounds" if args.repeat > 1 else "")
    )
    print(f"{'server':<18} {'new conn msg/s':>15} {'reused msg/s':>13} {'CPU us/msg new':>15} {'reused':>7}")
    for r in results:
        print(
            f"{r.name:<18} {r.new_conn:>15.0f} {r.reused:>13.0f} {r.new_conn_cpu:>15.0f} {r.reused_cpu:>7.0f}"
        )
    by_name = {r.name: r for r in results}
    ours = by_name.get("smtpdiag-memory")
    if ours is not None:
        for other, label in (("aiosmtpd", "x aiosmtpd"), ("smtp-sink", "of smtp-sink")):
            peer = by_name.get(other)
            if peer is None:
                continue
            if other == "aiosmtpd":
                print(
                    f"smtpdiag memory vs aiosmtpd: {ours.new_conn / peer.new_conn:.2f}x (new connections), "
                    f"{ours.reused / peer.reused:.2f}x (reused)   target >= 3x"
                )
                print(
                    f"  CPU per message, aiosmtpd/smtpdiag: {peer.new_conn_cpu / ours.new_conn_cpu:.2f}x "
                    f"(new connections), {peer.reused_cpu / ours.reused_cpu:.2f}x (reused)"
                )
            else:
                print(
                    f"smtpdiag memory {label}: {100 * ours.new_conn / peer.new_conn:.0f}% (new connections), "
                    f"{100 * ours.reused / peer.reused:.0f}% (reused)"
                )
    maildir = by_name.get("smtpdiag-maildir")
    if maildir is not None and ours is not None:
        print(
            f"smtpdiag Maildir+fsync vs memory: {100 * maildir.new_conn / ours.new_conn:.0f}% (new conn), "
            f"{100 * maildir.reused / ours.reused:.0f}% (reused)"
        )


if __name__ == "__main__":
    main()
