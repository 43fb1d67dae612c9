"""Where accepted messages go: a Maildir on disk (the default) or a bounded list in memory.

Nothing accepted is lost: `MaildirStore` writes the message into `tmp/` as it arrives (in chunks,
never held whole), then on `commit()` fsyncs the file, renames it into `new/` and fsyncs the
directory. The runtime sends 250 to DATA only after `commit()` returned. A crash before that
leaves at most a file in `tmp/`, which no Maildir reader counts as delivered.

Each stored message starts with a short envelope block the server prepends (Return-Path,
X-Original-To for each recipient, Received); the client's data follows byte for byte.

Quotas are per mailbox (recipient address): the bytes of the messages stored for it. Going over
gives 452 4.2.2 (or 552 5.2.2 when the quota is configured as permanent). Low disk space
gives 452 4.3.1.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, Final

__all__ = [
    "MaildirStore",
    "MemoryStore",
    "MessageStore",
    "MessageWriter",
    "QuotaExceeded",
    "StorageError",
    "StorageFull",
    "StoredMessage",
]

# Limits (named, with reasons)
HEADER_PEEK_BYTES: Final = 16 * 1024  # how much of a stored file is read to list it (envelope + headers)
MAX_LIST: Final = 10_000  # most messages one listing returns
WRITE_BUFFER: Final = 64 * 1024  # file buffer while streaming a message to tmp/

_ID_RE: Final = re.compile(r"[A-Za-z0-9._,=-]{1,200}")
_HOST_RE: Final = re.compile(r"[^A-Za-z0-9.-]")


class StorageError(Exception):
    """Storing failed (I/O error): the runtime answers 451 4.3.0."""


class StorageFull(StorageError):
    """Not enough free space: 452 4.3.1."""


class QuotaExceeded(StorageError):
    """A mailbox is over its quota: 452 4.2.2, or 552 5.2.2 when `permanent`."""

    def __init__(self, mailbox: str, permanent: bool) -> None:
        super().__init__(f"mailbox {mailbox} is over its quota")
        self.mailbox = mailbox
        self.permanent = permanent

    @property
    def reply(self) -> tuple[int, str, str]:
        if self.permanent:
            return 552, "5.2.2", f"Mailbox full: {self.mailbox} is over its quota"
        return 452, "4.2.2", f"Mailbox full: {self.mailbox} is over its quota, try again later"


@dataclass(slots=True)
class StoredMessage:
    """One accepted message. `data` is set for the memory store (and by `get`), not by listings."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    size: int
    received: float  # Unix time
    client_ip: str = ""
    helo: str = ""
    session_id: str = ""
    subject: str = ""
    message_id: str = ""
    data: bytes | None = field(default=None, repr=False)
    described: bool = field(default=False, repr=False)  # subject / message_id filled in

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "size": self.size,
            "received": self.received,
            "client_ip": self.client_ip,
            "helo": self.helo,
            "session_id": self.session_id,
            "subject": self.subject,
            "message_id": self.message_id,
        }


class MessageWriter:
    """Receives one message's data in chunks; `commit()` makes it durable, `abort()` forgets it."""

    size: int

    def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> StoredMessage:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class MessageStore:
    """Common part of both stores: quota accounting and the envelope block."""

    durable: bool = False

    def __init__(self, *, quota: int | None = None, quota_permanent: bool = False) -> None:
        self.quota = quota  # bytes per mailbox, None = no quota
        self.quota_permanent = quota_permanent
        self._quota_overrides: dict[str, int | None] = {}
        self._usage: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- quota -------------------------------------------------------------------------------------

    def set_quota(self, mailbox: str, quota: int | None) -> None:
        """Give one mailbox its own quota (None: unlimited)."""
        self._quota_overrides[mailbox.lower()] = quota

    def quota_for(self, mailbox: str) -> int | None:
        return self._quota_overrides.get(mailbox.lower(), self.quota)

    def usage(self, mailbox: str) -> int:
        return self._usage.get(mailbox.lower(), 0)

    def check_quota(self, mailbox: str, incoming: int = 0) -> None:
        """Raise QuotaExceeded if `incoming` more bytes do not fit in `mailbox` (incoming 0: is it full?)."""
        quota = self.quota_for(mailbox)
        if quota is None:
            return
        used = self.usage(mailbox)
        if used >= quota or (incoming and used + incoming > quota):
            raise QuotaExceeded(mailbox, self.quota_permanent)

    def _account(self, recipients: Iterable[str], size: int) -> None:
        with self._lock:
            for rcpt in recipients:
                key = rcpt.lower()
                self._usage[key] = self._usage.get(key, 0) + size

    def _reset_usage(self) -> None:
        with self._lock:
            self._usage.clear()

    # --- interface ---------------------------------------------------------------------------------

    def begin(
        self,
        sender: str,
        recipients: Iterable[str],
        *,
        client_ip: str = "",
        helo: str = "",
        session_id: str = "",
        local_name: str = "localhost",
    ) -> MessageWriter:
        raise NotImplementedError

    def list(self, limit: int = 100) -> list[StoredMessage]:
        raise NotImplementedError

    def get(self, message_id: str) -> StoredMessage | None:
        raise NotImplementedError

    def clear(self) -> int:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


def envelope_block(
    sender: str, recipients: Iterable[str], *, client_ip: str, helo: str, local_name: str, when: float
) -> bytes:
    """The lines prepended to each stored message."""
    lines = [f"Return-Path: <{_one_line(sender)}>"]
    lines.extend(f"X-Original-To: {_one_line(r)}" for r in recipients)
    stamp = _date(int(when))
    lines.append(
        f"Received: from {_one_line(helo) or 'unknown'} ([{_one_line(client_ip)}])"
        f" by {_one_line(local_name)} (smtpdiag); {stamp}"
    )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")


@functools.lru_cache(maxsize=4)
def _date(second: int) -> str:
    """RFC 5322 date of a Unix second (cached: many messages arrive within the same second)."""
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(second))


def _one_line(value: str) -> str:
    if len(value) <= 998 and "\r" not in value and "\n" not in value:
        return value
    return value.replace("\r", " ").replace("\n", " ")[:998]


def _describe(raw_head: bytes) -> dict[str, Any]:
    """Envelope and a few headers from the start of a stored message."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw_head)
    sender = (headers.get("Return-Path") or "").strip().strip("<>")
    recipients = tuple(str(v).strip() for v in headers.get_all("X-Original-To") or ())
    received = str(headers.get("Received") or "")
    helo = ""
    client_ip = ""
    match = re.match(r"from (\S{1,255}) \(\[([^\]]{0,64})\]\)", received)
    if match:
        helo, client_ip = match.group(1), match.group(2)
    return {
        "sender": sender,
        "recipients": recipients,
        "helo": "" if helo == "unknown" else helo,
        "client_ip": client_ip,
        "subject": _header_text(headers.get("Subject")),
        "message_id": _header_text(headers.get("Message-ID")).strip(),
    }


def _header_text(value: object) -> str:
    if value is None:
        return ""
    return str(value).replace("\r", "").replace("\n", "")[:500]


# ------------------------------------------------------------------------------------------------
# Memory


def _describe_once(meta: StoredMessage) -> None:
    if meta.data is not None and not meta.described:
        info = _describe(meta.data[:HEADER_PEEK_BYTES])
        meta.subject = info["subject"]
        meta.message_id = info["message_id"]
        meta.described = True


class _MemoryWriter(MessageWriter):
    __slots__ = ("_chunks", "_meta", "_store", "size")

    def __init__(self, store: MemoryStore, meta: StoredMessage, head: bytes) -> None:
        self._store = store
        self._meta = meta
        self._chunks = [head]
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.size += len(chunk)

    def commit(self) -> StoredMessage:
        meta = self._meta
        data = b"".join(self._chunks)
        self._chunks = []
        meta.size = len(data)
        meta.data = data  # Subject and Message-ID are parsed when first listed, not on the hot path
        self._store._add(meta)
        return meta

    def abort(self) -> None:
        self._chunks = []


class MemoryStore(MessageStore):
    """Messages in a bounded list in memory (capture mode); the oldest go first when full."""

    def __init__(
        self,
        *,
        max_messages: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        quota: int | None = None,
        quota_permanent: bool = False,
    ) -> None:
        super().__init__(quota=quota, quota_permanent=quota_permanent)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._bytes = 0
        self._counter = itertools.count(1)
        self._stamp = f"{os.getpid()}.{int(time.time())}"

    def begin(
        self,
        sender: str,
        recipients: Iterable[str],
        *,
        client_ip: str = "",
        helo: str = "",
        session_id: str = "",
        local_name: str = "localhost",
    ) -> MessageWriter:
        now = time.time()
        rcpts = tuple(recipients)
        meta = StoredMessage(
            id=f"m{next(self._counter)}.{self._stamp}",
            sender=sender,
            recipients=rcpts,
            size=0,
            received=now,
            client_ip=client_ip,
            helo=helo,
            session_id=session_id,
        )
        head = envelope_block(sender, rcpts, client_ip=client_ip, helo=helo, local_name=local_name, when=now)
        return _MemoryWriter(self, meta, head)

    def _add(self, meta: StoredMessage) -> None:
        with self._lock:
            self._messages[meta.id] = meta
            self._bytes += meta.size
            while self._messages and (
                len(self._messages) > self.max_messages or self._bytes > self.max_bytes
            ):
                _, old = self._messages.popitem(last=False)
                self._bytes -= old.size
        self._account(meta.recipients, meta.size)

    def list(self, limit: int = 100) -> list[StoredMessage]:
        limit = max(0, min(limit, MAX_LIST))
        with self._lock:
            items = list(self._messages.values())[-limit:] if limit else []
        for meta in items:
            _describe_once(meta)
        return items

    def get(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            meta = self._messages.get(message_id)
        if meta is not None:
            _describe_once(meta)
        return meta

    def clear(self) -> int:
        with self._lock:
            n = len(self._messages)
            self._messages.clear()
            self._bytes = 0
        self._reset_usage()
        return n

    def count(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[StoredMessage]:
        return iter(self.list(MAX_LIST))


# ------------------------------------------------------------------------------------------------
# Maildir


class _MaildirWriter(MessageWriter):
    def __init__(self, store: MaildirStore, meta: StoredMessage, head: bytes, name: str) -> None:
        self._store = store
        self._meta = meta
        self._name = name
        self._tmp_path = store.root / "tmp" / name
        self.size = 0
        self._head_len = len(head)
        self._done = False
        try:
            fd = os.open(
                self._tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
            )
            self._file = os.fdopen(fd, "wb", buffering=WRITE_BUFFER)
            self._file.write(head)
        except OSError as exc:
            raise _storage_error(exc) from exc

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except OSError as exc:
            self.abort()
            raise _storage_error(exc) from exc
        self.size += len(chunk)

    def commit(self) -> StoredMessage:
        """fsync the file, rename it into new/, fsync new/ (blocking: call it from a worker thread)."""
        if self._done:
            raise StorageError("message already committed or aborted")
        store = self._store
        meta = self._meta
        try:
            self._file.flush()
            if store.fsync:
                _datasync(self._file.fileno())
            self._file.close()
            total = self._head_len + self.size
            final = f"{self._name},S={total}"
            os.rename(self._tmp_path, store.root / "new" / final)
            store._fsync_new()
        except OSError as exc:
            self.abort()
            raise _storage_error(exc) from exc
        self._done = True
        meta.id = final
        meta.size = total
        store._account(meta.recipients, total)
        return meta

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp_path)


_datasync = getattr(os, "fdatasync", os.fsync)  # data and size; the name is made durable by the dir fsync


def _storage_error(exc: OSError) -> StorageError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"no space left for the message: {exc.strerror}")
    return StorageError(f"could not store the message: {exc.strerror or exc}")


class MaildirStore(MessageStore):
    """A Maildir (tmp/, new/, cur/) under `root`; created if missing."""

    durable = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        quota: int | None = None,
        quota_permanent: bool = False,
        min_free_bytes: int = 16 * 1024 * 1024,
        fsync: bool = True,
    ) -> None:
        super().__init__(quota=quota, quota_permanent=quota_permanent)
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self.fsync = fsync
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._counter = itertools.count(1)
        self._host = _HOST_RE.sub("_", socket.gethostname())[:64] or "localhost"
        self._pid = os.getpid()
        self._new_fd: int | None = None
        self._dir_lock = threading.Lock()
        self._sync_cond = threading.Condition(self._dir_lock)
        self._tickets = 0  # renames into new/ so far
        self._synced = 0  # renames covered by a finished directory fsync
        self._syncing = False
        self._free_checked_at = 0.0
        self._free_ok = True
        if quota is not None:
            self._scan_usage()

    def _scan_usage(self) -> None:
        for path in self._files():
            try:
                with open(path, "rb") as fh:
                    head = fh.read(HEADER_PEEK_BYTES)
                size = path.stat().st_size
            except OSError:
                continue
            self._account(_describe(head)["recipients"], size)

    def _fsync_new(self) -> None:
        """fsync new/ after a rename into it; concurrent callers share one fsync (group commit).

        A caller takes a ticket after its rename. A directory fsync that *starts* after the ticket
        was taken covers that rename; so a caller waits for a running fsync to end, and then either
        finds its ticket covered by one that started later, or runs one itself.
        """
        if not self.fsync:
            return
        with self._sync_cond:
            self._tickets += 1
            ticket = self._tickets
            while True:
                if self._synced >= ticket:
                    return
                if not self._syncing:
                    break
                self._sync_cond.wait()
            self._syncing = True
            covers = self._tickets
            if self._new_fd is None:
                self._new_fd = os.open(self.root / "new", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            fd = self._new_fd
        ok = False
        try:
            os.fsync(fd)
            ok = True
        finally:
            with self._sync_cond:
                if ok:
                    self._synced = max(self._synced, covers)
                self._syncing = False
                self._sync_cond.notify_all()

    def close(self) -> None:
        with self._dir_lock:
            if self._new_fd is not None:
                os.close(self._new_fd)
                self._new_fd = None

    def check_space(self) -> None:
        """Raise StorageFull when less than `min_free_bytes` are free (looked up once a second)."""
        now = time.monotonic()
        if now - self._free_checked_at >= 1.0:
            self._free_checked_at = now
            try:
                st = os.statvfs(self.root)
                self._free_ok = st.f_bavail * st.f_frsize >= self.min_free_bytes
            except OSError:
                self._free_ok = True
        if not self._free_ok:
            raise StorageFull("insufficient system storage")

    def begin(
        self,
        sender: str,
        recipients: Iterable[str],
        *,
        client_ip: str = "",
        helo: str = "",
        session_id: str = "",
        local_name: str = "localhost",
    ) -> MessageWriter:
        self.check_space()
        now = time.time()
        rcpts = tuple(recipients)
        seconds = int(now)
        micro = int((now - seconds) * 1_000_000)
        name = f"{seconds}.M{micro}P{self._pid}Q{next(self._counter)}.{self._host}"
        meta = StoredMessage(
            id=name,
            sender=sender,
            recipients=rcpts,
            size=0,
            received=now,
            client_ip=client_ip,
            helo=helo,
            session_id=session_id,
        )
        head = envelope_block(sender, rcpts, client_ip=client_ip, helo=helo, local_name=local_name, when=now)
        return _MaildirWriter(self, meta, head, name)

    def _files(self) -> list[Path]:
        out: list[Path] = []
        for sub in ("new", "cur"):
            try:
                with os.scandir(self.root / sub) as it:
                    out.extend(Path(e.path) for e in it if e.is_file() and not e.name.startswith("."))
            except OSError:
                continue
        return out

    def _path_for(self, message_id: str) -> Path | None:
        if not _ID_RE.fullmatch(message_id):
            return None
        new = self.root / "new" / message_id
        if new.is_file():
            return new
        # a reader may have moved it to cur/ and appended flags (":2,S")
        try:
            with os.scandir(self.root / "cur") as it:
                for entry in it:
                    if entry.name.split(":", 1)[0] == message_id:
                        return Path(entry.path)
        except OSError:
            return None
        return None

    def _info(self, path: Path, *, with_data: bool) -> StoredMessage | None:
        try:
            st = path.stat()
            with open(path, "rb") as fh:
                data = fh.read() if with_data else fh.read(HEADER_PEEK_BYTES)
        except OSError:
            return None
        info = _describe(data[:HEADER_PEEK_BYTES])
        return StoredMessage(
            id=path.name.split(":", 1)[0],
            size=st.st_size,
            received=st.st_mtime,
            data=data if with_data else None,
            **info,
        )

    def list(self, limit: int = 100) -> list[StoredMessage]:
        limit = max(0, min(limit, MAX_LIST))
        if not limit:
            return []
        files = self._files()
        files.sort(key=lambda p: p.name)
        out = []
        for path in files[-limit:]:
            info = self._info(path, with_data=False)
            if info is not None:
                out.append(info)
        return out

    def get(self, message_id: str) -> StoredMessage | None:
        path = self._path_for(message_id)
        return None if path is None else self._info(path, with_data=True)

    def clear(self) -> int:
        n = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                path.unlink()
                n += 1
        self._reset_usage()
        return n

    def count(self) -> int:
        return len(self._files())
