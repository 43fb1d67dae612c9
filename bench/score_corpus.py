"""Run bounce analysis over the corpus and write predictions as JSON lines (score-bounces format).

usage: python bench/score_corpus.py [CORPUS_DIR] [-o preds.jsonl] [--repeat N] [--score]

The messages go through the same path as `smtpdiag bounce --json`: `iter_inputs` reads each file
(an mbox file may hold several messages), `analyze_all` analyses them, and the results of all the
messages of one file are merged in order into one prediction per file.
Prints messages/second on stderr; `--score` also prints the figures score-bounces would print
(reason, status, reply code, hard bounce). Or score with:
  python3 ../shared/tools/score-bounces tests/data/bounces/labels.jsonl preds.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from smtpdiag.bounce.batch import analyze_all
from smtpdiag.bounce.inputs import InputMessage, iter_inputs
from smtpdiag.bounce.scoring import merge_by_file, score

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(HERE / "tests/data/bounces"))
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the run for a steadier speed figure")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes, as `smtpdiag bounce --jobs`")
    ap.add_argument("--score", action="store_true", help="print the figures against labels.jsonl")
    a = ap.parse_args()
    corpus = Path(a.corpus)
    messages: list[InputMessage] = list(iter_inputs([str(corpus / "emails")]))
    list(analyze_all(messages[:20]))  # warm up: load the knowledge data once, outside the timing
    preds: dict[str, list[dict[str, Any]]] = {}
    t0 = time.perf_counter()
    for _ in range(max(1, a.repeat)):
        preds = merge_by_file(analyze_all(messages, jobs=a.jobs))
    dt = time.perf_counter() - t0
    n = len(messages) * max(1, a.repeat)
    print(f"{n} messages in {dt:.3f}s: {n / dt:.0f} messages/s", file=sys.stderr)
    lines = [json.dumps({"file": path, "results": res}, ensure_ascii=False) for path, res in preds.items()]
    out = "\n".join(lines) + "\n"
    if a.output == "-":
        if not a.score:
            sys.stdout.write(out)
    else:
        Path(a.output).write_text(out, encoding="utf-8")
    if a.score:
        got = score(corpus / "labels.jsonl", preds)
        print(
            f"reason {got['reason']:.1f}%  status {got['status']:.1f}%  "
            f"replycode {got['replycode']:.1f}%  hardbounce {got['hardbounce']:.1f}%"
        )


if __name__ == "__main__":
    main()
