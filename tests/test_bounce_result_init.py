"""The hand-written __init__ / to_json of the result classes behave like the dataclass-made ones."""

from __future__ import annotations

import dataclasses

import pytest

from smtpdiag.bounce.result import BounceResult
from smtpdiag.classify import Classification, classify

_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(BounceResult))


def _sample() -> BounceResult:
    values = {f.name: f"v-{f.name}" for f in dataclasses.fields(BounceResult)}
    values["hardbounce"] = True
    return BounceResult(**values)  # type: ignore[arg-type]


def test_bounce_result_to_json_is_asdict_in_field_order() -> None:
    result = _sample()
    assert result.to_json() == dataclasses.asdict(result)
    assert tuple(result.to_json()) == _FIELD_NAMES


def test_bounce_result_positional_and_defaults() -> None:
    result = BounceResult("a@example.org", "userunknown", True, "5.1.1")
    assert (result.recipient, result.reason, result.hardbounce, result.status) == (
        "a@example.org",
        "userunknown",
        True,
        "5.1.1",
    )
    assert all(result.to_json()[name] == "" for name in _FIELD_NAMES[4:])
    assert result == BounceResult(
        recipient="a@example.org", reason="userunknown", hardbounce=True, status="5.1.1"
    )
    assert "reason='userunknown'" in repr(result)


def test_classification_init_keeps_dataclass_behaviour() -> None:
    c = Classification("mailboxfull", False, False, "later", ("x",), status="4.2.2")
    assert dataclasses.astuple(c) == (
        "mailboxfull",
        False,
        False,
        "later",
        ("x",),
        None,
        None,
        None,
        "4.2.2",
        None,
    )
    assert c == Classification("mailboxfull", False, False, "later", evidence=("x",), status="4.2.2")
    assert hash(c) == hash(Classification("mailboxfull", False, False, "later", ("x",), status="4.2.2"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.reason = "other"  # type: ignore[misc]
    assert classify("550 5.1.1 user unknown", reply_code=550).reason == "userunknown"


def test_results_survive_pickling() -> None:
    # --jobs and callers' own multiprocessing pickle these; compiled classes need __reduce__ for it
    import pickle

    from smtpdiag.bounce.inputs import InputMessage
    from smtpdiag.bounce.pipeline import Report

    result = BounceResult(recipient="a@example.org", reason="userunknown", hardbounce=True, status="5.1.1")
    verdict = classify("550 5.1.1 <a@example.org>: user unknown at gmail.com")
    for value in (result, verdict, Report(results=[result]), InputMessage(path="x", data=b"y")):
        assert pickle.loads(pickle.dumps(value)) == value
