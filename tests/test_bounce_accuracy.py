"""Accuracy of bounce analysis on the labelled corpus (tests/data/bounces), computed as score-bounces does.

The messages go through the same path as `smtpdiag bounce --json`: `iter_inputs` reads the files (an
mbox file may hold several messages), `analyze_all` analyses them, and the results of all the
messages of one file are merged in order. The floors sit slightly below the figures measured when
they were last raised; a change that lowers accuracy fails here. Run
`python bench/score_corpus.py --score` for the same figures and the per-file predictions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpdiag.bounce import analyze
from smtpdiag.bounce.batch import analyze_all
from smtpdiag.bounce.inputs import iter_inputs
from smtpdiag.bounce.scoring import merge_by_file, score

CORPUS = Path(__file__).parent / "data" / "bounces"

# Measured figures (percent) minus a small margin.
FLOORS = {"reason": 97.4, "status": 99.0, "replycode": 98.6, "hardbounce": 98.6}


@pytest.fixture(scope="module")
def figures() -> dict[str, float]:
    got = score(CORPUS / "labels.jsonl", merge_by_file(analyze_all(iter_inputs([str(CORPUS / "emails")]))))
    print(
        f"\ncorpus: reason {got['reason']:.1f}%  status {got['status']:.1f}%  "
        f"replycode {got['replycode']:.1f}%  hardbounce {got['hardbounce']:.1f}%"
    )
    return got


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_corpus_accuracy_does_not_regress(figures: dict[str, float], metric: str) -> None:
    assert figures[metric] >= FLOORS[metric], (
        f"{metric} fell to {figures[metric]:.1f}% (floor {FLOORS[metric]}%)"
    )


def test_every_corpus_email_is_recognised_as_a_bounce() -> None:
    """Nearly every corpus email yields at least one result (they are all bounces or reports)."""
    emails = sorted((CORPUS / "emails").glob("*.eml"))
    empty = [p.name for p in emails if not analyze(p.read_bytes())]
    assert len(empty) <= len(emails) // 40, empty
