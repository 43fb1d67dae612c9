"""How many replies per second `explain` diagnoses in one process (a script, not a test).

Collects the diagnostic lines of the bounce corpus (tests/data/bounces/emails/*.eml): the values of
Diagnostic-Code fields (with their folded continuation lines), Postfix "said:" lines and Exim "SMTP
error from remote mail server" lines (with the indented lines that continue them). Each is explained
once to warm up, then the whole set is explained repeatedly for about --seconds; prints the count of
lines and replies per second.

    python bench/bench_explain.py [--seconds 5] [--lang en]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMAILS = ROOT / "tests" / "data" / "bounces" / "emails"
MARKERS = ("said:", "SMTP error from remote", "refused to talk to me")


def collect(directory: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(directory.glob("*.eml")):
        text = path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
        raw = text.split("\n")
        i = 0
        while i < len(raw):
            line = raw[i]
            if line.lower().startswith("diagnostic-code:") or any(m in line for m in MARKERS):
                block = [line.strip()]
                i += 1
                while i < len(raw) and raw[i][:1] in (" ", "\t") and raw[i].strip():
                    block.append(raw[i].strip())
                    i += 1
                lines.append(" ".join(block))
                continue
            i += 1
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measure for about this long")
    parser.add_argument("--lang", default="en", choices=["en", "ru"])
    args = parser.parse_args()

    from smtpdiag.explain import explain

    lines = collect(EMAILS)
    if not lines:
        print(f"no diagnostic lines found under {EMAILS}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    diagnoses = [explain(line, args.lang) for line in lines]  # cold: first use loads the knowledge base
    cold = time.perf_counter() - t0
    found = sum(1 for d in diagnoses if d.found == "reply")
    classified = sum(1 for d in diagnoses if d.reason not in ("undefined", "onhold"))

    rounds = 0
    count = 0
    start = time.perf_counter()
    while True:
        for line in lines:
            explain(line, args.lang)
        rounds += 1
        count += len(lines)
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    rate = count / elapsed
    print(f"diagnostic lines from {EMAILS.relative_to(ROOT)}: {len(lines)}")
    print(f"lines with an SMTP reply found: {found}; with a reason other than undefined/onhold: {classified}")
    print(f"first pass (cold, loads the knowledge base): {cold:.3f} s")
    print(f"warm: {count} explanations in {elapsed:.2f} s ({rounds} rounds): {rate:,.0f} replies/s")
    print(f"mean per reply: {1e6 / rate:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
