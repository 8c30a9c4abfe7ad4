"""Regular files only: read without waiting on a FIFO, written atomically, the user's own when private.

The one read of small files (:func:`read_regular`: distributions' metadata,
the index) and the one atomic write (:func:`atomic_write`: the index, the
chain documents of ``--save`` and every ``-o FILE``) of the package are here.
"""

# Plain str paths: pathlib would cost a warm start more than the reads it makes.

from __future__ import annotations

import contextlib
import os
import stat as st_mode  # os imports it: free

__all__ = [
    "NotAFileError",
    "atomic_write",
    "mine",
    "private_dir",
    "read_private",
    "read_regular",
    "write_private",
]

#: How files are opened to read: never waiting on a FIFO; on Windows, without newline translation.
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class NotAFileError(OSError):
    """A write would replace something that is not a regular file (a device, a folder, a FIFO)."""


def mine(st: os.stat_result) -> bool:
    """Whether a file or folder belongs to this user and no one else can write it."""
    if not hasattr(os, "getuid"):
        return True  # no owners or modes to check here
    return st.st_uid == os.getuid() and not st.st_mode & 0o1022  # group, others, sticky


def read_regular(
    path: str, offset: int = 0, size: int = -1, *, private: bool = False
) -> tuple[bytes, os.stat_result] | None:
    """Return ``size`` bytes (all by default) from ``offset`` of the regular file at ``path``, and its stat.

    Only a regular file is read: a FIFO or a device is never waited on. One
    ``open``, ``fstat`` and ``read``, without Python's file objects: discovery
    reads a few small files of every installed distribution this way.

    :param private: read only a file this user owns and no one else can
        write, and never through a symlink.
    :returns: ``None`` when there is no such file, or it cannot be read. The
        stat is of the file read, taken before reading.
    """
    try:
        fd = os.open(path, _READ | (_NOFOLLOW if private else 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not st_mode.S_ISREG(st.st_mode) or (private and not mine(st)):
            return None
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        # A short read of a regular file is its end; a byte more than its size tells that it grew.
        want = size if size >= 0 else max(st.st_size - offset, 0) + 1
        data = os.read(fd, want)
        if size < 0 and len(data) == want:
            data += b"".join(iter(lambda: os.read(fd, 1 << 16), b""))
    except OSError:
        return None
    finally:
        os.close(fd)
    return data, st


def read_private(path: str, offset: int = 0, size: int = -1) -> bytes | None:
    """Return ``size`` bytes (all by default) from ``offset`` of the file at ``path``.

    :returns: ``None`` unless the file and its folder are the user's alone and can be read.
    """
    folder = os.path.realpath(os.path.dirname(path))
    try:
        if not mine(os.stat(folder)):
            return None
    except OSError:
        return None
    found = read_regular(os.path.join(folder, os.path.basename(path)), offset, size, private=True)
    return None if found is None else found[0]


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
