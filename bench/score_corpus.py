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
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from smtpdiag.bounce.batch import Record, analyze_all
from smtpdiag.bounce.inputs import InputMessage, iter_inputs

HERE = Path(__file__).resolve().parent.parent


def predictions(records: Iterable[Record]) -> dict[str, list[dict[str, Any]]]:
    """{file path: results of all its messages, in order}, as `smtpdiag bounce --json` merges them."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        merged.setdefault(str(record["file"]), []).extend(record["results"])
    return merged


def score(labels_path: Path, preds: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """The four figures of score-bounces (percent): reason, status, replycode, hardbounce."""
    by_name = {os.path.basename(path): results for path, results in preds.items()}
    n = {"entries": 0, "reason": 0, "status_n": 0, "status": 0, "reply_n": 0, "reply": 0, "hard": 0}
    with labels_path.open(encoding="utf-8") as fh:
        labels = [json.loads(line) for line in fh if line.strip()]
    for lab in labels:
        res = by_name.get(os.path.basename(lab["file"]), [])
        for i, e in enumerate(lab["expected"]):
            g = res[i] if i < len(res) else {}
            n["entries"] += 1
            n["reason"] += g.get("reason") == e["reason"]
            if e.get("status"):
                n["status_n"] += 1
                n["status"] += g.get("status") == e["status"]
            if e.get("replycode"):
                n["reply_n"] += 1
                n["reply"] += str(g.get("replycode", "")) == str(e["replycode"])
            n["hard"] += bool(g) and bool(g.get("hardbounce")) == bool(e["hardbounce"])
    return {
        "reason": 100.0 * n["reason"] / max(1, n["entries"]),
        "status": 100.0 * n["status"] / max(1, n["status_n"]),
        "replycode": 100.0 * n["reply"] / max(1, n["reply_n"]),
        "hardbounce": 100.0 * n["hard"] / max(1, n["entries"]),
    }


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
        preds = predictions(analyze_all(messages, jobs=a.jobs))
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
