#!/usr/bin/env python3
"""Coverage-guided fuzzing of bounce analysis with atheris (libFuzzer).

    python bench/fuzz_bounce.py [libFuzzer flags] [CORPUS_DIR...]
    e.g. python bench/fuzz_bounce.py -max_total_time=600 tests/data/bounces/emails

Any exception escaping `analyze` is a crash; libFuzzer's -timeout catches hangs.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from smtpdiag.bounce.pipeline import analyze


def test_one_input(data: bytes) -> None:
    results = analyze(data)
    if not isinstance(results, list):
        raise TypeError("analyze must return a list")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
