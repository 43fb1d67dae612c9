"""Run bounce analysis over the corpus and write predictions as JSON lines (score-bounces format).

usage: python bench/score_corpus.py [CORPUS_DIR] [-o preds.jsonl]
Prints messages/second on stderr. Score with:
  python3 ../shared/tools/score-bounces tests/data/bounces/labels.jsonl preds.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from smtpdiag.bounce import analyze

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(HERE / "tests/data/bounces"))
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the run for a steadier speed figure")
    a = ap.parse_args()
    emails = sorted((Path(a.corpus) / "emails").glob("*.eml"))
    data = [(p.name, p.read_bytes()) for p in emails]
    lines: list[str] = []
    for _name, raw in data[:20]:  # warm up: load the knowledge data once, outside the timing
        analyze(raw)
    t0 = time.perf_counter()
    for _ in range(a.repeat):
        lines = []
        for name, raw in data:
            results = [r.to_json() for r in analyze(raw)]
            lines.append(json.dumps({"file": name, "results": results}, ensure_ascii=False))
    dt = time.perf_counter() - t0
    n = len(data) * a.repeat
    print(f"{n} messages in {dt:.3f}s: {n / dt:.0f} messages/s", file=sys.stderr)
    out = "\n".join(lines) + "\n"
    if a.output == "-":
        sys.stdout.write(out)
    else:
        Path(a.output).write_text(out, encoding="utf-8")


if __name__ == "__main__":
    main()
