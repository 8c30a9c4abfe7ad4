"""Stamps: what identifies the state of the files discovery read, so that a later process sees a change.

A stamp is a file's modification time, change time, size and inode: the
change time cannot be set back, so a restored modification time is seen.
:class:`Stamps` takes them for every ``sys.path`` entry when discovery is
recorded, and :func:`entry_unchanged` checks them again in a later process; see
:mod:`._index` for which files are stamped and why.
"""

# Paths are plain strings here, not pathlib: importing pathlib would cost a
# warm start more than checking the stamps does.

from __future__ import annotations

import operator
import os
import sys
import zlib
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CLOCK_SLACK_NS",
    "METADATA_SUFFIXES",
    "Stamps",
    "Stat",
    "entry_unchanged",
    "fingerprint",
    "metadata_names",
    "path_stamps",
    "stamp_hash",
    "stamp_of",
    "stat",
]

#: A file whose change time is this close to the start of discovery (or later) may
#: have changed while it ran: file systems keep time with a coarse clock.
CLOCK_SLACK_NS: Final = 20_000_000
#: How the metadata folders of distributions end.
METADATA_SUFFIXES: Final = (".dist-info", ".egg-info")
#: What a stamp keeps of a file's stat.
_STAMP: Final = operator.attrgetter("st_mtime_ns", "st_ctime_ns", "st_size", "st_ino")
_STAT_DIR_FD: Final = os.stat in os.supports_dir_fd

Stat = tuple[int, int, int, int] | None


def stat(path: str, dir_fd: int | None = None) -> Stat:
    """Return what identifies ``path``'s current state, or ``None`` when it does not exist."""
    try:
        return _STAMP(os.stat(path, dir_fd=dir_fd))
    except OSError:
        return None


def stamp_of(st: os.stat_result) -> tuple[int, int, int, int]:
    """Return what identifies a file's state, from its stat (of a file open, for one)."""
    return _STAMP(st)


def path_stamps() -> list[tuple[str, Stat]]:
    """Return each ``sys.path`` entry with its own stat: what installing, upgrading or removing changes.

    The first of the stamps the index keeps, and the cheapest: one ``stat``
    per entry. Installing, upgrading or removing a distribution adds or
    removes a metadata folder (an upgrade replaces the old version's with the
    new one's), and so changes the stat of the ``sys.path`` folder it is in;
    what it does not see is a file changed in place (a module edited, an
    ``entry_points.txt`` rewritten).
    """
    return [(entry, stat(entry or ".")) for entry in sys.path]


def stamp_hash(st: Stat) -> int:
    """Return a number for one stat: the same in every process, for the hash of integers is."""
    return hash(() if st is None else st)


def fingerprint(hashes: list[int]) -> int:
    """Return one number for many stats, from their :func:`stamp_hash` es.

    Only numbers are kept of the stats, not the stats: in a new process, every
    new page of memory costs a page fault.
    """
    return hash(tuple(hashes))


def fingerprint_in(folder: str, files: list[str]) -> int | None:
    """Return :func:`fingerprint` of the stats of ``files`` in ``folder``, or ``None`` without the folder.

    Every process that reads the index checks each stamped file, so this is
    written for speed: names are looked up from the open folder (fewer path
    components for the kernel to walk), the stats of a folder where no file is
    missing are taken in one comprehension, and only a number is kept of each.
    """
    if not files:
        return fingerprint([])
    opened = _open_folder(folder)
    if opened is None:
        return None
    fd, prefix = opened
    try:
        try:
            return fingerprint([hash(_STAMP(os.stat(prefix + name, dir_fd=fd))) for name in files])
        except OSError:  # a file is missing
            return fingerprint([stamp_hash(stat(prefix + name, dir_fd=fd)) for name in files])
    finally:
        if fd is not None:
            os.close(fd)


def _open_folder(folder: str) -> tuple[int | None, str] | None:
    """Return how to look up names in ``folder``: its open descriptor, or a prefix; ``None`` without it.

    Looking names up from the open folder saves the kernel walking its path for each.
    """
    if not _STAT_DIR_FD:
        return None, os.path.join(folder, "")
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)), ""
    except OSError:
        return None


def metadata_names(folder: str) -> list[str]:
    """Return the names of the distributions' metadata folders in ``folder``, sorted."""
    try:
        return sorted(n for n in os.listdir(folder) if n.lower().endswith(METADATA_SUFFIXES))
    except OSError:
        return []


class Stamps:
    """When discovery started, and the stamps of the ``sys.path`` folders then.

    The stamps of the files in them are taken when discovery is recorded
    (:meth:`record`), not before it starts: a file changed since the start
    of discovery has a change time from then on, which :meth:`record`
    refuses, and one changed before was read as it is now. Only what the
    index keeps is stamped, once.
    """

    def __init__(self, entries: list[str]) -> None:
        import time  # noqa: PLC0415 - only discovery needs it

        #: When discovery started (wall clock, as file systems keep it).
        self.started_ns = time.time_ns()
        #: The entries, as the index key spells them ("" is the working folder).
        self.entries = entries
        #: Each entry's own stat: installing or removing a distribution changes it.
        self.own = [stat(folder_of(entry)) for entry in entries]

    def recent(self, st: Stat) -> bool:
        """Whether a file with this stat may have changed while discovery ran.

        A stamp taken within the clock's slack of the start may equal the stat
        of a change made in the same tick, which no later check could see.
        """
        return st is not None and st[1] >= self.started_ns - CLOCK_SLACK_NS

    def record(self, plugin_dists: Mapping[str, int | None]) -> list[list[Any]] | None:
        """Return the stamps to keep, per entry, or ``None`` when what discovery read may have changed.

        For each distribution, the file an installer rewrites: ``RECORD`` for a
        plugin's (``entry_points.txt`` where it has none), ``entry_points.txt``
        for any other (its metadata folder where it has none). An install, an
        upgrade or a removal while discovery ran changes its entry's own stat,
        which is taken again last.

        :param plugin_dists: the metadata folders of the plugins' distributions,
            each with the :func:`stamp_hash` of its ``RECORD`` as discovery read
            it, unless it did not or the ``RECORD`` has changed since it started.
        """
        kept = []
        for entry, own in zip(self.entries, self.own, strict=True):
            folder = folder_of(entry)
            names = metadata_names(folder)
            stamped = self._stamp(folder, names, plugin_dists)
            if stamped is None:
                return None
            files, hashes = stamped
            kept.append([entry, own, zlib.crc32("\n".join(names).encode()), files, fingerprint(hashes)])
        if any(stat(folder_of(entry)) != own for entry, own in zip(self.entries, self.own, strict=True)):
            return None
        return kept

    def _stamp(
        self, folder: str, names: list[str], plugin_dists: Mapping[str, int | None]
    ) -> tuple[list[str], list[int]] | None:
        """Return the file stamped in each folder of ``names``, and its hash; ``None`` if one is new."""
        if not names:
            return [], []
        opened = _open_folder(folder)
        if opened is None:
            return None
        fd, prefix = opened
        folder_sep = os.path.join(folder, "")
        files, hashes = [], []
        try:
            for name in names:
                where = folder_sep + name
                known = plugin_dists.get(where)
                if known is not None:  # its RECORD, as read
                    files.append(f"{name}{os.sep}RECORD")
                    hashes.append(known)
                    continue
                plugin = where in plugin_dists
                file, st = _first(
                    fd, prefix, name, ("RECORD", "entry_points.txt") if plugin else ("entry_points.txt", "")
                )
                if self.recent(st):
                    return None
                files.append(file)
                hashes.append(stamp_hash(st))
        finally:
            if fd is not None:
                os.close(fd)
        return files, hashes


def _first(fd: int | None, prefix: str, name: str, choices: tuple[str, str]) -> tuple[str, Stat]:
    """Return the first of ``choices`` in metadata folder ``name`` that exists, with its stat.

    ``""`` is the folder itself. When none exists: the last, and ``None``.
    """
    for chosen in choices:
        file = f"{name}{os.sep}{chosen}" if chosen else name
        st = stat(prefix + file, dir_fd=fd)
        if st is not None:
            break
    return file, st


def folder_of(entry: str) -> str:
    """Return the folder a ``sys.path`` entry of the key names: "" is the working folder."""
    return entry or os.getcwd()


def entry_unchanged(entry: str, own: object, names_crc: object, files: object, digest: object) -> bool:
    """Whether a ``sys.path`` entry still holds the distributions it held, unchanged."""
    folder = folder_of(entry)
    now = stat(folder)
    if now != (None if own is None else tuple(own)):  # type: ignore[arg-type]
        # A folder's own stat changes with any entry in it; its names may still be the same.
        names = metadata_names(folder)
        if now is None or names_crc != zlib.crc32("\n".join(names).encode()):
            return False
        if not os.path.isdir(folder):
            return False
    return isinstance(files, list) and digest == fingerprint_in(folder, files)
