"""Fault injection: rules that make the server fail on demand.

A rule is *where* (a stage of the dialogue, optional sender / recipient / client patterns),
*when* (always, with a probability, on the Nth matching event, every Nth, or when a client sends
more than N messages a minute) and *what* (reply with a code, delay, disconnect, greylist,
accept and silently drop).

The engine is pure and synchronous: it is given the stage, the facts of the session and the
current time, and answers with a `FaultDecision` (or None). It never sleeps, never touches a
socket; the runtime carries the decision out. With a seed, every random draw is reproducible.

Stages: connect, ehlo, mail, rcpt, data (the DATA / BDAT command), end_of_data, auth.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, cast

Stage = Literal["connect", "ehlo", "mail", "rcpt", "data", "end_of_data", "auth"]
ActionKind = Literal["reply", "delay", "disconnect", "greylist", "drop", "garbage"]

STAGES: Final[tuple[Stage, ...]] = ("connect", "ehlo", "mail", "rcpt", "data", "end_of_data", "auth")
ACTIONS: Final[tuple[ActionKind, ...]] = ("reply", "delay", "disconnect", "greylist", "drop", "garbage")

# Limits: a rule set is changeable over the network, so nothing in it may grow without bound.
MAX_RULES: Final = 256
MAX_PATTERN_LENGTH: Final = 256
MAX_PATTERN_WILDCARDS: Final = 8
MAX_TEXT_LENGTH: Final = 400
MAX_DELAY_SECONDS: Final = 3600.0
MAX_GREYLIST_ENTRIES: Final = 100_000
MAX_RATE_CLIENTS: Final = 10_000
MAX_RATE_PER_MINUTE: Final = 1_000_000

_ENHANCED_RE: Final = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

GREYLIST_REPLY: Final = (450, "4.7.1", "Greylisted, please try again later")
RATE_REPLY: Final = (421, "4.7.0", "Too many messages from you, slow down and try again later")


class FaultRuleError(ValueError):
    """A rule is malformed; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault rule. Build from a mapping (TOML table, JSON object) with `FaultRule.from_dict`."""

    stage: Stage
    action: ActionKind = "reply"
    code: int | None = None
    enhanced: str | None = None
    text: str | None = None
    sender: str | None = None  # glob, case-insensitive ("*@example.com")
    recipient: str | None = None  # glob
    client: str | None = None  # glob on the client IP address ("10.0.*")
    authenticated: bool | None = None  # match only (un)authenticated sessions
    tls: bool | None = None  # match only sessions with (without) TLS
    probability: float = 1.0
    nth: int | None = None  # fire on the Nth matching event only
    every: int | None = None  # fire on every Nth matching event
    rate: int | None = None  # fire when a client sends more than `rate` matching events a minute
    delay: float = 0.0  # seconds to wait before the reply (any action)
    greylist_seconds: float = 300.0  # greylist: a triplet is accepted this long after its first attempt
    times: int | None = None  # fire at most this many times in all
    name: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        if not isinstance(data, Mapping):
            raise FaultRuleError("a rule must be an object/table")
        known = set(cls.__dataclass_fields__) - {"id"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultRuleError(f"unknown rule field(s): {', '.join(map(str, unknown))}")
        if "stage" not in data:
            raise FaultRuleError("a rule needs a 'stage' (one of: " + ", ".join(STAGES) + ")")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            kwargs[key] = value
        rule = cls(**kwargs)
        rule.validate()
        return rule

    def validate(self) -> None:
        """Raise FaultRuleError if a field is out of range or of the wrong type."""
        if self.stage not in STAGES:
            raise FaultRuleError(f"stage must be one of {', '.join(STAGES)}, not {self.stage!r}")
        if self.action not in ACTIONS:
            raise FaultRuleError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        if self.code is not None and (not _is_int(self.code) or not 200 <= self.code <= 599):
            raise FaultRuleError(f"code must be an integer 200..599, not {self.code!r}")
        if self.action == "reply" and self.code is None and self.rate is None:
            raise FaultRuleError("a 'reply' rule needs a 'code'")
        if self.enhanced is not None:
            if not isinstance(self.enhanced, str) or not _ENHANCED_RE.fullmatch(self.enhanced):
                raise FaultRuleError(f"enhanced must look like 5.1.1, not {self.enhanced!r}")
            code = self.effective_reply()[0]
            if code >= 400 and str(code)[0] != self.enhanced[0]:
                raise FaultRuleError(f"enhanced code {self.enhanced} does not match reply code {code}")
        if self.text is not None and (
            not isinstance(self.text, str)
            or len(self.text) > MAX_TEXT_LENGTH
            or "\r" in self.text
            or "\n" in self.text
        ):
            raise FaultRuleError(f"text must be one line of at most {MAX_TEXT_LENGTH} characters")
        for label in ("sender", "recipient", "client"):
            pattern = getattr(self, label)
            if pattern is None:
                continue
            if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
                raise FaultRuleError(f"{label} must be a glob of at most {MAX_PATTERN_LENGTH} characters")
            if pattern.count("*") + pattern.count("?") > MAX_PATTERN_WILDCARDS:
                raise FaultRuleError(f"{label} has more than {MAX_PATTERN_WILDCARDS} wildcards")
        if isinstance(self.probability, bool) or not isinstance(self.probability, int | float):
            raise FaultRuleError("probability must be a number between 0 and 1")
        if not 0.0 <= float(self.probability) <= 1.0:
            raise FaultRuleError("probability must be between 0 and 1")
        for label in ("nth", "every", "times"):
            value = getattr(self, label)
            if value is not None and (not _is_int(value) or value < 1):
                raise FaultRuleError(f"{label} must be a positive integer")
        if self.rate is not None and (not _is_int(self.rate) or not 0 <= self.rate <= MAX_RATE_PER_MINUTE):
            raise FaultRuleError(f"rate must be an integer 0..{MAX_RATE_PER_MINUTE} (messages a minute)")
        for label in ("delay", "greylist_seconds"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultRuleError(f"{label} must be a number of seconds")
            if not 0.0 <= float(value) <= MAX_DELAY_SECONDS:
                raise FaultRuleError(f"{label} must be between 0 and {MAX_DELAY_SECONDS:g} seconds")
        for label in ("authenticated", "tls"):
            value = getattr(self, label)
            if value is not None and not isinstance(value, bool):
                raise FaultRuleError(f"{label} must be true or false")
        if self.action == "garbage" and not self.text:
            raise FaultRuleError("a 'garbage' rule needs 'text': the line sent instead of an SMTP reply")
        if self.action == "delay" and not self.delay:
            raise FaultRuleError("a 'delay' rule needs 'delay' (seconds) > 0")
        if self.action == "greylist" and self.stage not in ("mail", "rcpt", "data", "end_of_data"):
            raise FaultRuleError("greylist works at stage mail, rcpt, data or end_of_data")
        if self.name is not None and (not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name)):
            raise FaultRuleError("name must be 1-64 characters of letters, digits, _ . : -")

    def effective_reply(self) -> tuple[int, str | None, str]:
        """The (code, enhanced, text) this rule replies with, defaults filled in."""
        default: tuple[int, str | None, str] = (451, None, "")
        if self.action == "greylist":
            default = GREYLIST_REPLY
        elif self.rate is not None:
            default = RATE_REPLY
        code = self.code if self.code is not None else default[0]
        if code != default[0]:
            default = (code, None, "")
        enhanced = self.enhanced if self.enhanced is not None else default[1] or _default_enhanced(code)
        text = self.text if self.text is not None else default[2] or _default_text(code, enhanced)
        return code, enhanced, text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            default = FaultRule.__dataclass_fields__[name].default
            if name in ("stage", "action") or value != default:
                out[name] = value
        return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _default_enhanced(code: int) -> str | None:
    if code < 400:
        return None
    cls = str(code)[0]
    return {
        421: f"{cls}.3.2",
        450: f"{cls}.2.0",
        451: f"{cls}.3.0",
        452: f"{cls}.3.1",
        550: f"{cls}.1.1",
        552: f"{cls}.3.4",
        553: f"{cls}.1.3",
        554: f"{cls}.7.1",
    }.get(code, f"{cls}.0.0")


def _default_text(code: int, enhanced: str | None = None) -> str:
    """The server's own text for this code (and enhanced code) when it has one."""
    from smtpdiag.protocol.replies import REPLIES

    if code == 421 and enhanced in (None, "4.3.2"):
        return "Service not available, closing transmission channel"
    for reply in REPLIES.values():
        if reply.code == code and reply.enhanced == enhanced:
            return reply.text
    for reply in REPLIES.values():
        if reply.code == code and code >= 400:
            return reply.text
    return "Fault injected by smtpdiag" if code >= 400 else "OK"


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What the engine may match on. Addresses are given as the client sent them (no brackets)."""

    stage: Stage
    client_ip: str = ""
    helo: str = ""
    sender: str = ""
    recipient: str = ""  # the RCPT being decided; at data/end_of_data: each recipient in turn
    recipients: tuple[str, ...] = ()
    auth_user: str = ""
    authenticated: bool = False
    tls: bool = False


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the runtime must do. `reply` None means: answer as normal (after `delay`)."""

    rule_id: int
    rule_name: str | None
    reply: tuple[int, str | None, str] | None = None
    delay: float = 0.0
    disconnect: bool = False  # close the connection (after the reply when there is one)
    drop: bool = False  # accept the message but do not store it
    raw: bytes | None = None  # send these bytes instead of an SMTP reply (then disconnect)


@dataclass(slots=True)
class _RuleState:
    rule: FaultRule
    rule_id: int
    seen: int = 0
    fired: int = 0
    # rate rules: client ip -> timestamps of events in the last minute
    events: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)


class FaultEngine:
    """An ordered, thread-safe set of rules; the first rule that fires decides.

    A delay-only decision does not stop the search: a later rule may still reply, and the delays add up.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[_RuleState] = []
        self._next_id = 1
        self._seed = seed
        self._random = random.Random(seed)
        # (client ip, sender, recipient) -> time first seen
        self._greylist: OrderedDict[tuple[str, str, str], float] = OrderedDict()
        for rule in rules:
            self.add(rule)

    # --- rule management -------------------------------------------------------------------------

    def add(self, rule: FaultRule | Mapping[str, Any]) -> int:
        """Add a rule (validated); return its id."""
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_dict(rule)
        else:
            rule.validate()
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise FaultRuleError(f"too many rules (limit {MAX_RULES})")
            rule_id = self._next_id
            self._next_id += 1
            self._rules.append(_RuleState(rule, rule_id))
            return rule_id

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            for i, state in enumerate(self._rules):
                if state.rule_id == rule_id:
                    del self._rules[i]
                    return True
            return False

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._greylist.clear()
            self._random = random.Random(self._seed)

    def replace_all(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> list[int]:
        """Validate every rule first, then swap the whole set (all or nothing)."""
        parsed = [r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules]
        for r in parsed:
            r.validate()
        if len(parsed) > MAX_RULES:
            raise FaultRuleError(f"too many rules (limit {MAX_RULES})")
        self.clear()
        return [self.add(r) for r in parsed]

    def rules(self) -> list[dict[str, Any]]:
        """The rules with their ids and counters, for display and the HTTP API."""
        with self._lock:
            return [
                {"id": s.rule_id, **s.rule.to_dict(), "seen": s.seen, "fired": s.fired} for s in self._rules
            ]

    def __len__(self) -> int:
        return len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def has_stage(self, stage: Stage) -> bool:
        return any(s.rule.stage == stage for s in self._rules)

    # --- decisions --------------------------------------------------------------------------------

    def check(self, ctx: FaultContext, now: float) -> FaultDecision | None:
        """Decide for one event. `now` is a monotonic clock reading in seconds."""
        if not self._rules:
            return None
        with self._lock:
            total_delay = 0.0
            for state in self._rules:
                rule = state.rule
                if rule.stage != ctx.stage or not _matches(rule, ctx):
                    continue
                decision = self._fire(state, ctx, now)
                if decision is None:
                    continue
                if decision.reply is None and not decision.disconnect and not decision.drop:
                    total_delay += decision.delay
                    continue
                if total_delay:
                    decision = replace(decision, delay=decision.delay + total_delay)
                return decision
            if total_delay:
                return FaultDecision(rule_id=0, rule_name=None, delay=total_delay)
            return None

    def _fire(self, state: _RuleState, ctx: FaultContext, now: float) -> FaultDecision | None:
        rule = state.rule
        state.seen += 1
        if rule.times is not None and state.fired >= rule.times:
            return None
        if rule.nth is not None and state.seen != rule.nth:
            return None
        if rule.every is not None and state.seen % rule.every != 0:
            return None
        if rule.rate is not None and not self._over_rate(state, ctx.client_ip, rule.rate, now):
            return None
        if rule.probability < 1.0 and self._random.random() >= rule.probability:
            return None
        if rule.action == "greylist" and self._greylist_passes(ctx, rule.greylist_seconds, now):
            return None
        state.fired += 1
        return _decision(state, rule)

    def _over_rate(self, state: _RuleState, client: str, limit: int, now: float) -> bool:
        window = state.events.get(client)
        if window is None:
            if len(state.events) >= MAX_RATE_CLIENTS:
                state.events.popitem(last=False)
            window = deque()
            state.events[client] = window
        else:
            state.events.move_to_end(client)
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(window) <= limit:
            window.append(now)  # refused attempts are not counted, so a client that backs off gets in
        return len(window) > limit

    def _greylist_passes(self, ctx: FaultContext, wait: float, now: float) -> bool:
        recipients = (ctx.recipient,) if ctx.recipient or not ctx.recipients else ctx.recipients
        passes = True
        for rcpt in recipients:
            key = (ctx.client_ip, ctx.sender.lower(), rcpt.lower())
            first = self._greylist.get(key)
            if first is None:
                if len(self._greylist) >= MAX_GREYLIST_ENTRIES:
                    self._greylist.popitem(last=False)
                self._greylist[key] = now
                passes = False
            elif now - first < wait:
                passes = False
        return passes


def _decision(state: _RuleState, rule: FaultRule) -> FaultDecision:
    reply: tuple[int, str | None, str] | None = None
    disconnect = False
    drop = False
    if rule.action in ("reply", "greylist"):
        reply = rule.effective_reply()
        disconnect = reply[0] == 421  # RFC 5321 4.2.2: 421 closes the channel
    elif rule.action == "disconnect":
        disconnect = True
        if rule.code is not None:
            reply = rule.effective_reply()
    elif rule.action == "drop":
        drop = True
    elif rule.action == "garbage":
        raw = (rule.text or "").encode("utf-8", "replace") + b"\r\n"
        return FaultDecision(
            rule_id=state.rule_id, rule_name=rule.name, delay=float(rule.delay), disconnect=True, raw=raw
        )
    return FaultDecision(
        rule_id=state.rule_id,
        rule_name=rule.name,
        reply=reply,
        delay=float(rule.delay),
        disconnect=disconnect,
        drop=drop,
    )


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _matches(rule: FaultRule, ctx: FaultContext) -> bool:
    if rule.authenticated is not None and rule.authenticated != ctx.authenticated:
        return False
    if rule.tls is not None and rule.tls != ctx.tls:
        return False
    if rule.client is not None and not _glob(rule.client, ctx.client_ip):
        return False
    if rule.sender is not None and not _glob(rule.sender, ctx.sender):
        return False
    if rule.recipient is not None:
        candidates = (ctx.recipient,) if ctx.recipient else ctx.recipients
        if not any(_glob(rule.recipient, r) for r in candidates):
            return False
    return True


def rules_from_config(items: object) -> list[FaultRule]:
    """Parse the `[[rules]]` array of a TOML config (or a JSON list); errors name the rule's index."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise FaultRuleError("rules must be a list of tables")
    out: list[FaultRule] = []
    for i, item in enumerate(items):
        try:
            out.append(FaultRule.from_dict(cast(Mapping[str, Any], item)))
        except (FaultRuleError, TypeError) as exc:
            raise FaultRuleError(f"rule #{i + 1}: {exc}") from None
    return out
