"""Files of the user's own: read only when private; written atomically, and only over a regular file.

The one atomic write of the package (:func:`atomic_write`) is here: the
index, the chain documents of ``--save`` and every ``-o FILE`` use it.
"""

# Plain str paths: pathlib would cost a warm start more than the reads it makes.

from __future__ import annotations

import contextlib
import os

__all__ = ["NotAFileError", "atomic_write", "mine", "private_dir", "read_private", "write_private"]


class NotAFileError(OSError):
    """A write would replace something that is not a regular file (a device, a folder, a FIFO)."""


def mine(st: os.stat_result) -> bool:
    """Whether a file or folder belongs to this user and no one else can write it."""
    if not hasattr(os, "getuid"):
        return True  # no owners or modes to check here
    return st.st_uid == os.getuid() and not st.st_mode & 0o1022  # group, others, sticky


def read_private(path: str, offset: int = 0, size: int = -1) -> bytes | None:
    """Return ``size`` bytes (all by default) from ``offset`` of the file at ``path``.

    :returns: ``None`` unless the file and its folder are the user's alone and can be read.
    """
    import stat as st_mode  # noqa: PLC0415 - a small C module

    folder = os.path.realpath(os.path.dirname(path))
    # Not following a symlink, and not waiting on a FIFO: only a regular file is read.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if not mine(os.stat(folder)):
            return None
        with os.fdopen(os.open(os.path.join(folder, os.path.basename(path)), flags), "rb") as src:
            st = os.fstat(src.fileno())
            if not st_mode.S_ISREG(st.st_mode) or not mine(st):
                return None
            if offset:
                src.seek(offset)
            return src.read(size)
    except OSError:
        return None


def private_dir(path: str) -> str | None:
    """Make ``path`` if needed; return it, resolved, if it is a folder only this user can write."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return real if os.path.isdir(real) and mine(st) and os.access(real, os.W_OK) else None


def atomic_write(path: str, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to the file ``path`` so that a reader, or a crash, sees the old file or the new, whole.

    Only a regular file is ever replaced: a device, a folder or a FIFO at
    ``path`` is refused, and a symlink is replaced, never followed.

    :param durable: make the data reach the disk (``fsync``) before the file
        is replaced, so that even a machine that loses power keeps the old
        file or the new. A cache that checks itself (the index, with its
        checksums) need not pay for that: a torn one is rebuilt.

    :raises NotAFileError: when ``path`` is something other than a regular file.
    :raises OSError: when the file cannot be written; the old one stays as it was.
    """
    import stat as st_mode  # noqa: PLC0415 - a small C module
    import tempfile  # noqa: PLC0415 - only writing needs it

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = st_mode.S_IFREG
    if not st_mode.S_ISREG(mode):
        msg = f"{path!r} is not a regular file: it is never replaced (give a file's path)"
        raise NotAFileError(msg)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".spincycle-jobs-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)  # readers see the old or the new
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_private(path: str, data: bytes) -> str | None:
    """Write ``data`` to ``path`` atomically, not durably, in a folder only the user can write; never raises.

    :returns: that folder, resolved, or ``None`` when nothing was written.
    """
    folder = private_dir(os.path.dirname(path))
    if folder is None:
        return None
    try:
        atomic_write(os.path.join(folder, os.path.basename(path)), data, durable=False)
    except OSError:
        return None
    return folder
