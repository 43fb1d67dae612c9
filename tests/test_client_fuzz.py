"""Whatever a peer sends, probe and send end with a verdict, never an exception or a hang."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpdiag.client.probe import probe_async
from smtpdiag.client.send import send_async
from smtpdiag.client.session import Timeouts

QUICK = Timeouts(
    connect=1,
    initial=0.15,
    command=0.15,
    mail=0.15,
    rcpt=0.15,
    data_init=0.15,
    data_block=0.15,
    data_term=0.15,
)
REPLY_LINES = st.sampled_from(
    [b"220 ok\r\n", b"250 ok\r\n", b"250-x\r\n", b"354 go\r\n", b"550 5.1.1 no\r\n", b"421 bye\r\n", b"\r\n"]
)


async def _serve(
    script: list[bytes], then_close: bool, tasks: set[asyncio.Task[None]]
) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)  # type: ignore[arg-type]
        try:
            for chunk in script:
                writer.write(chunk)
                await writer.drain()
                await asyncio.wait_for(reader.readline(), 0.2)
            if not then_close:
                await asyncio.sleep(0.3)
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            pass  # a test server: ending quietly is all it needs to do
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _run(script: list[bytes], then_close: bool) -> None:
    tasks: set[asyncio.Task[None]] = set()
    server, port = await _serve(script, then_close, tasks)
    try:
        result = await probe_async(
            f"127.0.0.1:{port}", mail_from="a@x.test", rcpts=["b@y.test"], timeouts=QUICK
        )
        assert result.verdict.step or result.verdict.ok
        sent = await send_async(
            b"Subject: x\r\n\r\nbody\r\n",
            sender="a@x.test",
            recipients=["b@y.test"],
            server=f"127.0.0.1:{port}",
            starttls="never",
            timeouts=QUICK,
        )
        assert sent.recipients[0].status in ("accepted", "transient", "permanent")
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.binary(max_size=64), REPLY_LINES, st.lists(REPLY_LINES, max_size=4).map(b"".join)),
        max_size=8,
    ),
    st.booleans(),
)
def test_any_peer_behaviour_gives_a_verdict(script: list[bytes], then_close: bool) -> None:
    asyncio.run(asyncio.wait_for(_run(script, then_close), 20))
