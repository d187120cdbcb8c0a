"""A disk spool for request-log records the store could not take (the database is down or locked).

Records are appended as JSON lines to one file and replayed in order once the store is back; a sidecar file
holds how many bytes were already replayed, so a gateway restarted mid-outage replays what it spooled before
(a crash between a replayed write and the offset update can repeat that one chunk: at least once, never lost).
File I/O is small appends and sequential reads; the sink calls these methods through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
from pathlib import Path

import orjson

from bifrostc.runtime.observability.records import RECORD_FIELDS, RequestRecord

logger = logging.getLogger(__name__)

SPOOL_FILE = "bifrostc-log-spool.jsonl"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # past this, new records are dropped (and counted) rather than fill the disk
MAX_SLOTS = 64
_FIELDS = frozenset(RECORD_FIELDS)


def encode(record: RequestRecord) -> bytes:
    """One JSON line; raises TypeError (orjson) for a value JSON cannot hold (an int past 64 bits)."""
    return orjson.dumps({name: getattr(record, name) for name in RECORD_FIELDS}, default=str) + b"\n"


def decode(line: bytes) -> RequestRecord:
    data = orjson.loads(line)
    return RequestRecord(**{k: v for k, v in data.items() if k in _FIELDS})  # fields renamed since: dropped


@dataclasses.dataclass(slots=True)
class Appended:
    spooled: int = 0
    unencodable: list[RequestRecord] = dataclasses.field(default_factory=list)
    over_limit: int = 0


class LogSpool:
    """One process's spool. Replicas sharing a directory each lock a slot of their own (``name``, ``name.1``,
    ...) when they first spool; a replica starting up takes over a free slot that still holds records (one) and
    replays what its predecessor left there."""

    def __init__(self, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.base = Path(path)
        self.path = self.base
        self.offset_path = self.path.with_name(self.path.name + ".offset")
        self.max_bytes = max_bytes
        self.count = 0  # records spooled and not yet replayed
        self.corrupt = 0  # lines that could not be read back (a torn write at a crash)
        self._offset = 0
        self._lock: int | None = None

    def _slot(self, index: int) -> Path:
        return self.base if index == 0 else self.base.with_name(f"{self.base.name}.{index}")

    def _try_lock(self, path: Path) -> bool:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock, self.path = fd, path
        self.offset_path = path.with_name(path.name + ".offset")
        self._load()
        return True

    def _load(self) -> None:
        try:
            self._offset = int(self.offset_path.read_text().strip() or 0)
        except (OSError, ValueError):
            self._offset = 0
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                self.count = sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            self.count, self._offset = 0, 0

    def open(self) -> None:
        """Take over a slot an earlier process left records in, if any (otherwise a slot is claimed, and files
        are created, only when something must be spooled)."""
        if self._lock is not None or not self.base.parent.is_dir():
            return
        for index in range(MAX_SLOTS):
            path = self._slot(index)
            if path.is_file() and path.stat().st_size and self._try_lock(path):
                if self.count:
                    logger.warning("request log: %d records spooled by an earlier run will be replayed", self.count)
                    return
                self.close()

    def _claim(self) -> None:
        self.base.parent.mkdir(parents=True, exist_ok=True)
        for index in range(MAX_SLOTS):
            if self._try_lock(self._slot(index)):
                return
        raise OSError(f"request-log spool: all {MAX_SLOTS} slots next to {self.base} are taken")

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def append(self, records: list[RequestRecord]) -> Appended:
        result = Appended()
        lines: list[bytes] = []
        for record in records:
            try:
                lines.append(encode(record))
            except TypeError:
                result.unencodable.append(record)
        if lines and self._lock is None:
            self._claim()
        size = self._size()
        kept: list[bytes] = []
        for line in lines:
            if size + len(line) > self.max_bytes:
                result.over_limit += 1
                continue
            size += len(line)
            kept.append(line)
        if kept:
            with self.path.open("ab") as fh:
                fh.write(b"".join(kept))
                fh.flush()
                os.fsync(fh.fileno())  # the spool exists to survive what the database did not
        self.count += len(kept)
        result.spooled = len(kept)
        return result

    def peek(self, limit: int) -> list[tuple[RequestRecord, int]]:
        """Up to ``limit`` records from the replay point, each with the byte offset after it (for ``commit``).
        An unreadable line (a torn write at a crash) at the replay point is skipped for good and counted."""
        entries: list[tuple[RequestRecord, int]] = []
        offset = self._offset
        with self.path.open("rb") as fh:
            fh.seek(offset)
            while len(entries) < limit:
                line = fh.readline()
                if not line:
                    break
                if not line.strip():
                    offset += len(line)
                    continue
                try:
                    record = decode(line)
                except (orjson.JSONDecodeError, TypeError):
                    if entries:
                        break  # skipped at the start of the next peek, so the count stays exact
                    self.corrupt += 1
                    self.count = max(0, self.count - 1)
                    offset += len(line)
                    self._offset = offset
                    logger.error("request log: skipped an unreadable spooled record in %s", self.path)
                    continue
                offset += len(line)
                entries.append((record, offset))
        return entries

    def end(self) -> int:
        return self._size()

    def commit(self, replayed: int, offset: int) -> None:
        """``replayed`` records up to ``offset`` are in the store; an empty spool is truncated."""
        self.count = max(0, self.count - replayed)
        self._offset = offset
        if self.count == 0 and offset >= self._size():
            self.path.write_bytes(b"")
            self._offset = 0
        self.offset_path.write_text(str(self._offset))

    def reset(self) -> None:
        """Forget what the spool holds (it could not be read back)."""
        self.count, self._offset = 0, 0
        with contextlib.suppress(OSError):
            self.path.write_bytes(b"")
            self.offset_path.write_text("0")

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
