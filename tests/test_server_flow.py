"""The runtime's flow control under any TCP segmentation (hypothesis), without sockets.

A pipelined client stream (several messages, DATA and BDAT, a delay rule, Maildir commits in a
worker thread) is cut at random points and fed to a session through a fake transport. Whatever
the cuts, and whether or not the transport honours pause_reading(), the replies must be the same
bytes in the same order and every message must be stored once.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpdiag.server.runtime import SmtpServer, SmtpSession
from smtpdiag.server.settings import Settings

MESSAGES = 3
BDAT_BODY = b"Subject: bdat\r\n\r\nhi\r\n"
STREAM = (
    b"EHLO client.test\r\n"
    + b"".join(
        b"MAIL FROM:<s%d@x.test>\r\nRCPT TO:<u@local.test>\r\nRCPT TO:<v@local.test>\r\nDATA\r\n"
        b"Subject: m%d\r\n\r\nline one\r\n..dot-stuffed\r\n.\r\n" % (i, i)
        for i in range(MESSAGES - 1)
    )
    + b"MAIL FROM:<b@x.test>\r\nRCPT TO:<u@local.test>\r\nBDAT %d\r\n%s" % (len(BDAT_BODY), BDAT_BODY)
    + b"BDAT 0 LAST\r\nNOOP\r\nQUIT\r\n"
)


class FakeTransport:
    def __init__(self, honour_pause: bool) -> None:
        self.out = bytearray()
        self.closed = False
        self.paused = False
        self.honour_pause = honour_pause

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


async def drive(server: SmtpServer, cuts: list[int], honour_pause: bool, pace: float) -> FakeTransport:
    session = SmtpSession(server)
    transport = FakeTransport(honour_pause)
    session.connection_made(transport)  # type: ignore[arg-type]
    points = sorted({c % len(STREAM) for c in cuts} | {0, len(STREAM)})
    for start, end in itertools.pairwise(points):
        while transport.honour_pause and transport.paused and not transport.closed:
            await asyncio.sleep(0.001)
        session.data_received(STREAM[start:end])
        await asyncio.sleep(pace)  # 0: the next piece arrives before any task ran
    for _ in range(2000):
        if transport.closed:
            break
        await asyncio.sleep(0.002)
    return transport


async def run_once(
    tmp: Path, cuts: list[int], honour_pause: bool, storage: str, pace: float = 0.0
) -> tuple[bytes, int]:
    values = {"listen": "127.0.0.1:0", "storage": storage, "maildir": str(tmp), "starttls": False}
    server = SmtpServer(Settings().merge(values), keep_transcripts=False)
    server.faults.add({"stage": "rcpt", "recipient": "v@*", "action": "delay", "delay": 0.001})
    await server.start()
    try:
        transport = await drive(server, cuts, honour_pause, pace)
        return bytes(transport.out), server.store.count()
    finally:
        await server.stop(grace=0.1)


_reference: dict[str, bytes] = {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=10_000), max_size=25),
    honour_pause=st.booleans(),
    storage=st.sampled_from(["memory", "maildir"]),
    pace=st.sampled_from([0.0, 0.0005, 0.003]),
)
def test_replies_do_not_depend_on_segmentation(
    tmp_path_factory: Any, cuts: list[int], honour_pause: bool, storage: str, pace: float
) -> None:
    tmp = tmp_path_factory.mktemp("flow")
    if storage not in _reference:
        _reference[storage], stored = asyncio.run(run_once(tmp / "ref", [], True, storage))
        assert stored == MESSAGES
    out, stored = asyncio.run(run_once(tmp / "run", cuts, honour_pause, storage, pace))
    assert stored == MESSAGES
    assert _normalise(out) == _normalise(_reference[storage])


def _normalise(out: bytes) -> list[bytes]:
    """Reply lines with the varying queue ids and host names cut off."""
    lines = []
    for line in out.split(b"\r\n"):
        if b"queued as" in line:
            line = line.split(b"queued as")[0]
        lines.append(line[:3] if line.startswith((b"220 ", b"250-")) else line)
    return lines


def test_reference_stream_gets_the_expected_replies(tmp_path: Path) -> None:
    out, stored = asyncio.run(run_once(tmp_path, [], True, "memory"))
    codes = [line[:3] for line in out.split(b"\r\n") if line[3:4] == b" "]
    per_data_message = [b"250", b"250", b"250", b"354", b"250"]
    assert codes == [b"220", b"250", *per_data_message * 2, b"250", b"250", b"250", b"250", b"250", b"221"]
    assert stored == MESSAGES
