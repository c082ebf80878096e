"""A full disk as one error, ``storage_full``, that names the folder and the space left on it.

Two ways a full disk shows up, and what polydesk does about each:

- files written the ordinary way (uploads in the spool, a batch written for a job) fail with ``ENOSPC``
  (errno 28): ``storage_full(folder, what)`` is the error to raise instead, ``is_disk_full(exc)`` tells it
  apart from other ``OSError``\\ s, Redis's ``MISCONF`` (it could not save its data) included.
- the embedded Qdrant engine writes through memory-mapped files (its 32 MB write-ahead-log segments are
  sparse files): on a full disk it does not get ``ENOSPC``, the whole process is killed by ``SIGBUS``
  (measured with qdrant-edge-py 0.9.0 on a full tmpfs). So it checks before every write that the disk keeps
  a reserve (``ensure_free``, ``Settings.storage_reserve_mb``) and refuses the write while it does not:
  nothing is written, the index stays searchable at its last good version.

Example:
    >>> ensure_free(Path(".polydesk/qdrant"), reserve_bytes=256 * MB, what="the knowledge index")  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from polydesk.errors import StorageFullError

MB = 1024 * 1024
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_WORDS = ("no space left on device", "os error 28", "disk quota exceeded",
               "misconf redis is configured to save")  # Redis could not save its data (a full disk, mostly)


def _existing(folder: Path) -> Path:
    """The folder, or its nearest parent that exists (a folder not created yet lives on its parent's disk)."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size < 10 * 1024 * MB else f"{size / (1024 * MB):.1f} GB"


def free_bytes(folder: Path) -> int:
    """Bytes free for writing on the disk that holds ``folder``."""
    return shutil.disk_usage(_existing(folder)).free


def storage_full(folder: Path, what: str, *, reserve_bytes: int = 0) -> StorageFullError:
    """The error for ``what`` that could not be written to ``folder``: which folder, how much is free."""
    usage = shutil.disk_usage(_existing(folder))
    kept = f", below the {_size(reserve_bytes)} kept free" if reserve_bytes > 0 else ""
    return StorageFullError(f"the disk holding {folder} is full ({_size(usage.free)} free of {_size(usage.total)}"
                            f"{kept}): {what} was not written; free space on it (or move the data folder) and try "
                            "again")


def ensure_free(folder: Path, *, reserve_bytes: int, what: str) -> None:
    """Raise ``storage_full`` when the disk of ``folder`` has less than ``reserve_bytes`` free (0: no check)."""
    if reserve_bytes > 0 and free_bytes(folder) < reserve_bytes:
        raise storage_full(folder, what, reserve_bytes=reserve_bytes)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFullError):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        text = str(current).lower()
        if any(word in text for word in _FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_writes(folder: Path, what: str) -> Iterator[None]:
    """Files written in this block go to ``folder``: a full disk there raises ``storage_full`` for ``what``."""
    try:
        yield
    except StorageFullError:
        raise
    except OSError as exc:
        if is_disk_full(exc):
            raise storage_full(folder, what) from exc
        raise
