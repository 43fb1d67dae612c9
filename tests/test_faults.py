"""The fault rule engine: matching, triggers (probability, nth, every, rate), greylisting, validation."""

from __future__ import annotations

import pytest

from smtpdiag.server.faults import (
    MAX_RULES,
    FaultContext,
    FaultEngine,
    FaultRule,
    FaultRuleError,
    rules_from_config,
)
from smtpdiag.server.scenarios import SCENARIOS, get_scenario


def rcpt(recipient: str, sender: str = "a@x.test", ip: str = "127.0.0.1") -> FaultContext:
    return FaultContext("rcpt", client_ip=ip, sender=sender, recipient=recipient, recipients=())


def test_reply_rule_matches_stage_and_recipient_glob() -> None:
    engine = FaultEngine(
        [{"stage": "rcpt", "recipient": "full*@example.com", "code": 452, "enhanced": "4.2.2"}]
    )
    decision = engine.check(rcpt("FULL-1@Example.com"), 0.0)
    assert decision is not None and decision.reply is not None
    assert decision.reply[:2] == (452, "4.2.2")
    assert engine.check(rcpt("other@example.com"), 0.0) is None
    assert engine.check(FaultContext("mail", sender="full@example.com"), 0.0) is None


def test_sender_and_client_patterns() -> None:
    engine = FaultEngine([{"stage": "mail", "sender": "*@spam.test", "client": "10.*", "code": 550}])
    assert engine.check(FaultContext("mail", client_ip="10.1.2.3", sender="x@spam.test"), 0) is not None
    assert engine.check(FaultContext("mail", client_ip="127.0.0.1", sender="x@spam.test"), 0) is None
    assert engine.check(FaultContext("mail", client_ip="10.1.2.3", sender="x@ok.test"), 0) is None


def test_default_enhanced_code_follows_reply_class() -> None:
    decision = FaultEngine([{"stage": "rcpt", "code": 550}]).check(rcpt("a@b"), 0)
    assert decision is not None and decision.reply is not None
    code, enhanced, text = decision.reply
    assert code == 550 and enhanced is not None and enhanced.startswith("5.") and text


def test_nth_and_every_and_times() -> None:
    nth = FaultEngine([{"stage": "mail", "nth": 3, "code": 451}])
    fired = [nth.check(FaultContext("mail"), 0) is not None for _ in range(6)]
    assert fired == [False, False, True, False, False, False]
    every = FaultEngine([{"stage": "mail", "every": 2, "code": 451}])
    assert [every.check(FaultContext("mail"), 0) is not None for _ in range(6)] == [False, True] * 3
    times = FaultEngine([{"stage": "mail", "times": 2, "code": 451}])
    assert [times.check(FaultContext("mail"), 0) is not None for _ in range(4)] == [True, True, False, False]


def test_probability_is_deterministic_with_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        engine = FaultEngine([{"stage": "rcpt", "probability": 0.5, "code": 451}], seed=seed)
        return [engine.check(rcpt("a@b"), 0) is not None for _ in range(200)]

    first = run(7)
    assert first == run(7)
    assert 60 < sum(first) < 140  # about half
    assert first != run(8)


def test_probability_zero_never_fires() -> None:
    engine = FaultEngine([{"stage": "rcpt", "probability": 0.0, "code": 451}], seed=1)
    assert all(engine.check(rcpt("a@b"), 0) is None for _ in range(100))


def test_rate_rule_per_client_and_window() -> None:
    engine = FaultEngine([{"stage": "mail", "rate": 3}])
    ctx = FaultContext("mail", client_ip="192.0.2.1")
    results = [engine.check(ctx, float(t)) for t in range(5)]
    assert [r is not None for r in results] == [False, False, False, True, True]
    reply = results[3]
    assert reply is not None and reply.reply is not None
    assert reply.reply[:2] == (421, "4.7.0") and reply.disconnect
    # another client is counted separately
    assert engine.check(FaultContext("mail", client_ip="192.0.2.2"), 5.0) is None
    # a minute after the first three, the first client gets in again
    assert engine.check(ctx, 61.0) is None


def test_greylist_first_attempt_deferred_then_accepted_after_wait() -> None:
    engine = FaultEngine([{"stage": "rcpt", "action": "greylist", "greylist_seconds": 60}])
    first = engine.check(rcpt("u@x"), 100.0)
    assert first is not None and first.reply is not None and first.reply[:2] == (450, "4.7.1")
    too_soon = engine.check(rcpt("u@x"), 130.0)
    assert too_soon is not None
    assert engine.check(rcpt("u@x"), 161.0) is None  # passed
    assert engine.check(rcpt("u@x"), 5000.0) is None  # stays whitelisted
    # a different triplet starts over
    assert engine.check(rcpt("u@x", sender="other@y"), 161.0) is not None
    assert engine.check(rcpt("u@x", ip="10.0.0.9"), 161.0) is not None


def test_delay_rules_add_up_and_do_not_stop_search() -> None:
    engine = FaultEngine(
        [
            {"stage": "mail", "action": "delay", "delay": 1.5},
            {"stage": "mail", "code": 451, "delay": 0.5},
        ]
    )
    decision = engine.check(FaultContext("mail"), 0)
    assert decision is not None and decision.reply is not None
    assert decision.delay == pytest.approx(2.0)
    only_delay = FaultEngine([{"stage": "mail", "action": "delay", "delay": 1}]).check(
        FaultContext("mail"), 0
    )
    assert only_delay is not None and only_delay.reply is None and only_delay.delay == 1


def test_disconnect_drop_garbage_actions() -> None:
    d = FaultEngine([{"stage": "data", "action": "disconnect"}]).check(FaultContext("data"), 0)
    assert d is not None and d.disconnect and d.reply is None
    d = FaultEngine([{"stage": "end_of_data", "action": "drop"}]).check(FaultContext("end_of_data"), 0)
    assert d is not None and d.drop and d.reply is None
    d = FaultEngine([{"stage": "connect", "action": "garbage", "text": "HELLO"}]).check(
        FaultContext("connect"), 0
    )
    assert d is not None and d.raw == b"HELLO\r\n" and d.disconnect


def test_session_state_conditions() -> None:
    engine = FaultEngine([{"stage": "mail", "authenticated": False, "code": 530, "enhanced": "5.7.0"}])
    assert engine.check(FaultContext("mail", authenticated=False), 0) is not None
    assert engine.check(FaultContext("mail", authenticated=True), 0) is None


def test_rule_management() -> None:
    engine = FaultEngine()
    a = engine.add({"stage": "rcpt", "code": 550})
    b = engine.add(FaultRule(stage="mail", code=451))
    assert [r["id"] for r in engine.rules()] == [a, b]
    assert engine.remove(a) and not engine.remove(a)
    ids = engine.replace_all([{"stage": "connect", "code": 421}])
    assert len(ids) == 1 and len(engine) == 1
    with pytest.raises(FaultRuleError):
        engine.replace_all([{"stage": "connect", "code": 421}, {"stage": "bogus", "code": 1}])
    assert len(engine) == 1  # all or nothing
    engine.clear()
    assert len(engine) == 0


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"code": 550}, "stage"),
        ({"stage": "nowhere", "code": 550}, "stage"),
        ({"stage": "rcpt"}, "code"),
        ({"stage": "rcpt", "code": 999}, "code"),
        ({"stage": "rcpt", "code": "550"}, "code"),
        ({"stage": "rcpt", "code": 550, "enhanced": "4.1.1"}, "does not match"),
        ({"stage": "rcpt", "code": 550, "enhanced": "5.1"}, "enhanced"),
        ({"stage": "rcpt", "code": 550, "text": "a\r\nMAIL FROM:<x>"}, "text"),
        ({"stage": "rcpt", "code": 550, "probability": 2}, "probability"),
        ({"stage": "rcpt", "code": 550, "nth": 0}, "nth"),
        ({"stage": "rcpt", "code": 550, "recipient": "*" * 20}, "wildcards"),
        ({"stage": "rcpt", "code": 550, "colour": "red"}, "unknown"),
        ({"stage": "rcpt", "action": "delay"}, "delay"),
        ({"stage": "rcpt", "code": 550, "delay": 1e9}, "delay"),
        ({"stage": "connect", "action": "greylist"}, "greylist"),
        ({"stage": "connect", "action": "garbage"}, "text"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(rule: dict[str, object], message: str) -> None:
    with pytest.raises(FaultRuleError, match=message):
        FaultRule.from_dict(rule)


def test_rule_count_is_bounded() -> None:
    engine = FaultEngine()
    for _ in range(MAX_RULES):
        engine.add({"stage": "rcpt", "code": 550})
    with pytest.raises(FaultRuleError, match="too many"):
        engine.add({"stage": "rcpt", "code": 550})


def test_rules_from_config_names_the_bad_rule() -> None:
    assert len(rules_from_config([{"stage": "rcpt", "code": 550}])) == 1
    with pytest.raises(FaultRuleError, match="rule #2"):
        rules_from_config([{"stage": "rcpt", "code": 550}, {"stage": "rcpt"}])
    with pytest.raises(FaultRuleError):
        rules_from_config({"stage": "rcpt"})


def test_rule_round_trips_through_dict() -> None:
    rule = FaultRule.from_dict({"stage": "rcpt", "code": 452, "enhanced": "4.2.2", "nth": 2, "name": "x"})
    assert FaultRule.from_dict(rule.to_dict()) == rule


def test_every_scenario_is_valid_and_named() -> None:
    assert len(SCENARIOS) >= 15
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name and scenario.rules and scenario.summary and scenario.reply
        for rule in scenario.rules:
            rule.validate()
    with pytest.raises(KeyError, match="known"):
        get_scenario("no-such-thing")
