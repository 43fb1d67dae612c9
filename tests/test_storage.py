"""Message storage: Maildir durability protocol, memory capture, quotas, listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smtpdiag.server.storage import (
    MaildirStore,
    MemoryStore,
    MessageStore,
    QuotaExceeded,
    StorageFull,
)

BODY = b"From: a@x.test\r\nSubject: Hello there\r\nMessage-ID: <m1@x.test>\r\n\r\nbody line\r\n"


def store_one(store: MessageStore, body: bytes = BODY, rcpts: tuple[str, ...] = ("u@local.test",)) -> str:
    writer = store.begin("a@x.test", rcpts, client_ip="127.0.0.1", helo="client.test")
    for i in range(0, len(body), 7):  # chunked, as the runtime streams it
        writer.write(body[i : i + 7])
    return writer.commit().id


def test_maildir_layout_and_content(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "mail")
    msg_id = store_one(store)
    new = list((tmp_path / "mail" / "new").iterdir())
    assert [p.name for p in new] == [msg_id]
    assert not list((tmp_path / "mail" / "tmp").iterdir())
    data = new[0].read_bytes()
    assert data.endswith(BODY)  # client's bytes unchanged
    assert data.startswith(
        b"Return-Path: <a@x.test>\r\nX-Original-To: u@local.test\r\nReceived: from client.test"
    )
    assert f",S={len(data)}" in msg_id


def test_maildir_list_and_get(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    ids = [store_one(store) for _ in range(3)]
    listing = store.list()
    assert sorted(m.id for m in listing) == sorted(ids)
    first = listing[0]
    assert first.sender == "a@x.test" and first.recipients == ("u@local.test",)
    assert first.subject == "Hello there" and first.message_id == "<m1@x.test>"
    assert first.client_ip == "127.0.0.1" and first.helo == "client.test"
    got = store.get(ids[0])
    assert got is not None and got.data is not None and got.data.endswith(BODY)
    assert store.get("../../etc/passwd") is None
    assert store.get("nonexistent") is None
    assert store.count() == 3
    assert store.clear() == 3 and store.count() == 0


def test_maildir_finds_message_moved_to_cur(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    msg_id = store_one(store)
    os.rename(tmp_path / "new" / msg_id, tmp_path / "cur" / f"{msg_id}:2,S")
    got = store.get(msg_id)
    assert got is not None and got.id == msg_id


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    writer = store.begin("a@x", ["b@y"])
    writer.write(b"partial")
    writer.abort()
    assert not list((tmp_path / "tmp").iterdir()) and not list((tmp_path / "new").iterdir())


def test_uncommitted_message_stays_in_tmp(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    writer = store.begin("a@x", ["b@y"])
    writer.write(b"x" * 200_000)  # more than the write buffer: it is on disk, in tmp/
    assert len(list((tmp_path / "tmp").iterdir())) == 1
    assert store.count() == 0
    writer.abort()


def test_quota_per_mailbox(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path, quota=1000)
    store.check_quota("u@local.test", 500)
    store_one(store, b"x" * 700)
    with pytest.raises(QuotaExceeded) as info:
        store.check_quota("u@local.test", 500)
    assert info.value.reply[:2] == (452, "4.2.2")
    store.check_quota("other@local.test", 500)  # other mailboxes are not affected
    store_one(store, b"x" * 400)  # a message already under way is not refused by the store itself
    with pytest.raises(QuotaExceeded):
        store.check_quota("U@LOCAL.TEST")  # full now, case-insensitive
    # usage survives a restart (scanned from disk)
    again = MaildirStore(tmp_path, quota=1000)
    with pytest.raises(QuotaExceeded):
        again.check_quota("u@local.test")


def test_permanent_quota_and_override() -> None:
    store = MemoryStore(quota=100, quota_permanent=True)
    store.set_quota("big@x", None)
    store_one(store, b"y" * 200, ("small@x", "big@x"))
    with pytest.raises(QuotaExceeded) as info:
        store.check_quota("small@x")
    assert info.value.reply[:2] == (552, "5.2.2")
    store.check_quota("big@x", 10_000)


def test_storage_full_when_disk_space_low(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path, min_free_bytes=1 << 62)
    with pytest.raises(StorageFull):
        store.begin("a@x", ["b@y"])


def test_memory_store_bounded() -> None:
    store = MemoryStore(max_messages=3)
    ids = [store_one(store) for _ in range(5)]
    assert [m.id for m in store.list()] == ids[-3:]
    got = store.get(ids[-1])
    assert got is not None and got.data is not None and got.data.endswith(BODY)
    assert got.subject == "Hello there"
    assert store.get(ids[0]) is None
    by_bytes = MemoryStore(max_bytes=500)
    for _ in range(5):
        store_one(by_bytes)
    assert sum(m.size for m in by_bytes.list()) <= 500
    assert store.clear() == 3 and store.count() == 0


def test_envelope_block_cannot_be_injected() -> None:
    store = MemoryStore()
    writer = store.begin("a@x\r\nBcc: evil@y", ["b@y"], helo="h\r\nX: y")
    writer.write(BODY)
    msg = writer.commit()
    assert msg.data is not None
    head = msg.data[: -len(BODY)]
    assert b"\r\nBcc:" not in head and b"\r\nX: y" not in head


def test_concurrent_commits_share_directory_fsyncs(tmp_path: Path) -> None:
    import threading

    store = MaildirStore(tmp_path)
    ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            msg_id = store_one(store)
            with lock:
                ids.append(msg_id)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 200
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted(ids)
    assert store._synced == store._tickets == 200  # every rename covered by a directory fsync
    store.close()
