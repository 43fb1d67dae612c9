"""MX resolution (RFC 5321 §5.1, RFC 7505) against a loopback DNS server, and target parsing."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnsserver import LoopbackDNS, SilentDNS
from smtpdiag.client.dns import DNSFailure, make_resolver, parse_server, resolve_addresses, resolve_mx
from smtpdiag.client.route import parse_target

ZONE = """
multi.test.      60 IN MX 10 b.multi.test.
multi.test.      60 IN MX 10 a.multi.test.
multi.test.      60 IN MX 5  first.multi.test.
multi.test.      60 IN MX 30 c.multi.test.
mixed.test.      60 IN MX 0  .
mixed.test.      60 IN MX 10 real.mixed.test.
v6only.test.     60 IN AAAA ::1
both.test.       60 IN A 192.0.2.1
both.test.       60 IN AAAA 2001:db8::1
null.test.       60 IN MX 0 .
"""


async def test_preference_order_with_equal_preferences_shuffled() -> None:
    orders = set()
    with LoopbackDNS(ZONE) as server:
        resolver = make_resolver(server.address, timeout=2)
        for seed in range(12):
            hosts = await resolve_mx("multi.test", resolver, rng=random.Random(seed))
            assert [h.preference for h in hosts] == [5, 10, 10, 30]
            assert hosts[0].host == "first.multi.test" and hosts[-1].host == "c.multi.test"
            orders.add(tuple(h.host for h in hosts[1:3]))
    assert orders == {("a.multi.test", "b.multi.test"), ("b.multi.test", "a.multi.test")}


async def test_null_mx_alone_is_refusal_but_mixed_is_ignored() -> None:
    with LoopbackDNS(ZONE) as server:
        resolver = make_resolver(server.address, timeout=2)
        with pytest.raises(DNSFailure) as info:
            await resolve_mx("null.test", resolver)
        assert info.value.kind == "nullmx" and info.value.permanent and info.value.status == "5.1.10"
        hosts = await resolve_mx("mixed.test", resolver)
        assert [h.host for h in hosts] == ["real.mixed.test"]


async def test_implicit_mx_with_only_aaaa() -> None:
    with LoopbackDNS(ZONE) as server:
        resolver = make_resolver(server.address, timeout=2)
        (host,) = await resolve_mx("v6only.test", resolver)
        assert host.implicit and host.host == "v6only.test"
        assert await resolve_addresses("both.test", resolver) == ["192.0.2.1", "2001:db8::1"]
        assert await resolve_addresses("[127.0.0.1]", resolver) == ["127.0.0.1"]
        with pytest.raises(DNSFailure, match="does not exist"):
            await resolve_addresses("nothing.test", resolver)


async def test_timeout_is_transient() -> None:
    with SilentDNS() as silent, pytest.raises(DNSFailure) as info:
        await resolve_mx("x.test", make_resolver(silent.address, timeout=0.4))
    assert info.value.kind == "timeout" and not info.value.permanent and info.value.status == "4.4.3"


async def test_server_failure_is_transient() -> None:
    # A port where nothing listens: every query is refused -> no nameserver answered.
    with SilentDNS() as silent:
        port = silent.port
    with pytest.raises(DNSFailure) as info:
        await resolve_mx("x.test", make_resolver(f"127.0.0.1:{port}", timeout=0.5))
    assert not info.value.permanent


@pytest.mark.parametrize(
    ("text", "expected"),
    [("192.0.2.1", ("192.0.2.1", 53)), ("192.0.2.1:5353", ("192.0.2.1", 5353)), ("[::1]:53", ("::1", 53))],
)
def test_parse_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["dns.google", "1.2.3.4:0", "1.2.3.4:x", "[::1", "[::1]x"])
def test_parse_server_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_server(text)


@pytest.mark.parametrize(
    ("text", "host", "port", "use_mx"),
    [
        ("Example.COM.", "example.com", 25, True),
        ("mx.example.com:2525", "mx.example.com", 2525, False),
        ("192.0.2.7", "192.0.2.7", 25, False),
        ("[2001:db8::1]:587", "2001:db8::1", 587, False),
        ("[192.0.2.7]", "192.0.2.7", 25, False),
    ],
)
def test_parse_target(text: str, host: str, port: int, use_mx: bool) -> None:
    target = parse_target(text)
    assert (target.host, target.port, target.use_mx) == (host, port, use_mx)


@given(st.text(max_size=80))
def test_parse_target_raises_only_value_error(text: str) -> None:
    try:
        target = parse_target(text)
    except ValueError:
        return
    assert 0 < target.port < 65536 and target.host
