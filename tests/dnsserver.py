"""A loopback DNS server for tests (dnslib), so that no test touches real DNS.

    with LoopbackDNS('''
        example.test.      60 IN MX 10 mx1.example.test.
        mx1.example.test.  60 IN A  127.0.0.1
    ''') as dns_server:
        resolver = make_resolver(dns_server.address)      # "127.0.0.1:PORT"

Names present in the zone with another type answer NOERROR/no data; absent names answer NXDOMAIN.
`SilentDNS` is a UDP socket that never answers anything (a resolver timeout).
"""

from __future__ import annotations

import socket
import textwrap
import threading
from types import TracebackType
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: str) -> None:
        self.records = RR.fromZone(textwrap.dedent(zone).strip()) if zone.strip() else []
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        reply = request.reply()
        matching = [rr for rr in self.records if str(rr.rname).rstrip(".").lower() == qname]
        if not matching:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rr in matching:
            if QTYPE[rr.rtype] == qtype:
                reply.add_answer(rr)
        return reply


class LoopbackDNS:
    """A UDP DNS server on 127.0.0.1 with a free port, serving one zone."""

    def __init__(self, zone: str) -> None:
        self.resolver = _ZoneResolver(zone)
        logger = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
        self._server = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=logger)
        self.port: int = self._server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        return self.resolver.queries

    def __enter__(self) -> LoopbackDNS:
        # serve_forever's poll interval bounds how long stop() waits; keep it short for fast tests.
        self._thread = threading.Thread(
            target=self._server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.server.shutdown()
        self._thread.join(5)
        self._server.server.server_close()


class SilentDNS:
    """A bound UDP socket that never answers: every query to it times out."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> SilentDNS:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._sock.close()
