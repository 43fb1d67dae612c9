"""Batch analysis: many inputs -> one record per message, on one core or several.

A record is the verdict on one message: `{"file": PATH, "results": [BounceResult.to_json(), ...]}`,
plus `"message": N` for the Nth message of an mbox holding several, `"error"` when the message could
not be analysed and `"truncated": true` when it was cut at `inputs.MAX_MESSAGE_BYTES`.
(`smtpdiag bounce --json` merges the records of one file into one object.)
Records come out in input order whatever the number of jobs.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from smtpdiag.bounce.inputs import InputMessage
from smtpdiag.bounce.pipeline import analyze  # loaded once, inherited by forked workers

if TYPE_CHECKING:  # multiprocessing itself is imported only when several jobs are asked for
    from multiprocessing.pool import AsyncResult

Record = dict[str, Any]

#: Messages handed to a worker process at a time: large enough to amortise the inter-process
#: round trip (pickling, pipe, the pool's hand-over threads: ~0.2 ms a chunk), small enough to keep
#: output flowing.
JOB_CHUNK = 64
#: A chunk is also closed once it holds this many bytes of messages, so that the chunks in flight
#: stay small in memory whatever the messages' sizes.
JOB_CHUNK_BYTES = 1024 * 1024
#: Most worker processes `--jobs 0` (one per core) will start.
MAX_JOBS = 64
#: Chunks queued per worker before the reader waits for results (bounds memory).
CHUNKS_IN_FLIGHT_PER_JOB = 3


def analyze_input(message: InputMessage) -> Record:
    """Analyse one input message; never raises."""
    record: Record = {"file": message.path, "results": []}
    if message.index:
        record["message"] = message.index
    if message.truncated:
        record["truncated"] = True
    if message.error:
        record["error"] = message.error
        return record
    try:
        record["results"] = [result.to_json() for result in analyze(message.data)]
    except Exception as exc:  # analyze promises not to raise; this keeps a batch going if it does
        record["error"] = f"analysis failed: {type(exc).__name__}: {exc}"
    return record


def effective_jobs(jobs: int) -> int:
    if jobs <= 0:
        jobs = os.cpu_count() or 1
    return max(1, min(jobs, MAX_JOBS))


def analyze_all(messages: Iterable[InputMessage], jobs: int = 1) -> Iterator[Record]:
    """Records for every message, in order; `jobs` > 1 spreads the work over processes."""
    jobs = effective_jobs(jobs)
    if jobs == 1:
        for message in messages:
            yield analyze_input(message)
        return
    import multiprocessing

    # fork keeps start-up cheap and inherits the loaded knowledge base; spawn where fork is absent.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    # Pool.imap would read the whole input ahead of the workers; a bounded window of chunks in
    # flight keeps a 100,000-message mbox streaming in flat memory.
    window: deque[AsyncResult[list[Record]]] = deque()
    with context.Pool(jobs) as pool:
        for chunk in _chunks(messages, JOB_CHUNK, JOB_CHUNK_BYTES):
            window.append(pool.apply_async(_analyze_chunk, (chunk,)))
            if len(window) >= jobs * CHUNKS_IN_FLIGHT_PER_JOB:
                yield from window.popleft().get()
        while window:
            yield from window.popleft().get()


def _analyze_chunk(chunk: list[InputMessage]) -> list[Record]:
    return [analyze_input(message) for message in chunk]


def _chunks(messages: Iterable[InputMessage], size: int, max_bytes: int) -> Iterator[list[InputMessage]]:
    """Consecutive messages, `size` at a time, or fewer once they hold `max_bytes` of data."""
    chunk: list[InputMessage] = []
    chunk_bytes = 0
    for message in messages:
        chunk.append(message)
        chunk_bytes += len(message.data)
        if len(chunk) >= size or chunk_bytes >= max_bytes:
            yield chunk
            chunk = []
            chunk_bytes = 0
    if chunk:
        yield chunk
