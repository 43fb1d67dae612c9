"""Scoring bounce analysis against labelled bounces, the way `score-bounces` does.

Used by the corpus accuracy test and `bench/score_corpus.py`, so that both report the same figures.
Labels are JSON lines `{"file", "expected": [{"reason", "status", "replycode", "hardbounce"}, ...]}`;
an empty expected status or reply code is not scored; files match on their base name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from smtpdiag.bounce.batch import Record

Predictions = dict[str, list[dict[str, Any]]]


def merge_by_file(records: Iterable[Record]) -> Predictions:
    """{file path: results of all its messages, in order}, as `smtpdiag bounce --json` merges them."""
    merged: Predictions = {}
    for record in records:
        merged.setdefault(str(record["file"]), []).extend(record["results"])
    return merged


def score(labels_path: Path, preds: Predictions) -> dict[str, float]:
    """The four figures (percent): reason, status, replycode, hardbounce."""
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
