"""Stamps: what identifies the state of the files discovery read, so that a later process sees a change.

A stamp is a file's modification time, change time, size and inode: the
change time cannot be set back, so a restored modification time is seen.
:class:`Stamps` takes them for every ``sys.path`` entry before discovery,
and :func:`entry_unchanged` checks them again in a later process; see
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
    from collections.abc import Iterable

__all__ = [
    "CLOCK_SLACK_NS",
    "METADATA_SUFFIXES",
    "Stamps",
    "Stat",
    "entry_unchanged",
    "fingerprint",
    "metadata_names",
    "path_stamps",
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


def fingerprint(stats: Iterable[Stat]) -> int:
    """Return one number for many stats (the hash of integers is the same in every process)."""
    return hash(tuple([hash(() if st is None else st) for st in stats]))


def fingerprint_in(folder: str, files: list[str]) -> int | None:
    """Return :func:`fingerprint` of the stats of ``files`` in ``folder``, or ``None`` without the folder.

    Every process that reads the index checks each stamped file, so this is
    written for speed: names are looked up from the open folder (fewer path
    components for the kernel to walk), the stats of a folder where no file is
    missing are taken in one comprehension, and only a number is kept of each
    (in a new process, every new page of memory costs a page fault).
    """
    if not files:
        return fingerprint(())
    fd, prefix = None, ""
    try:
        if _STAT_DIR_FD:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        else:
            prefix = os.path.join(folder, "")
    except OSError:
        return None
    try:
        try:
            return hash(tuple([hash(_STAMP(os.stat(prefix + name, dir_fd=fd))) for name in files]))
        except OSError:  # a file is missing
            return fingerprint([stat(prefix + name, dir_fd=fd) for name in files])
    finally:
        if fd is not None:
            os.close(fd)


def metadata_names(folder: str) -> list[str]:
    """Return the names of the distributions' metadata folders in ``folder``, sorted."""
    try:
        return sorted(n for n in os.listdir(folder) if n.lower().endswith(METADATA_SUFFIXES))
    except OSError:
        return []


class Stamps:
    """The stamps of every ``sys.path`` entry, and when they were taken.

    Taken before discovery, and again before writing: what changed in between
    was maybe half seen, so the index is not written then.
    """

    def __init__(self, entries: list[str]) -> None:
        import time  # noqa: PLC0415 - only discovery needs it

        #: When the stamps were taken (wall clock, as file systems keep it).
        self.started_ns = time.time_ns()
        #: The entries, as the index key spells them ("" is the working folder).
        self.entries = entries
        #: Per entry: its own stat, and per distribution the stats of its
        #: ``entry_points.txt``, ``RECORD`` and metadata folder.
        self.seen = [self._take(folder_of(entry)) for entry in entries]

    @staticmethod
    def _take(folder: str) -> tuple[Stat, dict[str, tuple[Stat, Stat, Stat]]]:
        dists = {}
        for name in metadata_names(folder):
            where = os.path.join(folder, name)
            entry_points = stat(os.path.join(where, "entry_points.txt"))
            # The folder's own stat counts only where it has no entry points (one would change it).
            dists[name] = (
                entry_points,
                stat(os.path.join(where, "RECORD")),
                stat(where) if entry_points is None else None,
            )
        return stat(folder), dists

    def unchanged(self) -> bool:
        """Whether what discovery read may be recorded as seen with these stamps.

        An install, an upgrade or a removal while discovery ran adds or
        removes a metadata folder, which changes its ``sys.path`` entry's own
        stat: those are taken again. A file changed in place after its stamp
        was taken needs nothing here: the next process finds it differs from
        the stamp kept, and discovers again. But a stamp taken within the
        clock's slack of the start may equal the stat of a change made in the
        same tick, which no later check could see: then nothing is recorded.
        """
        recent = self.started_ns - CLOCK_SLACK_NS
        for _own, dists in self.seen:
            for stats in dists.values():
                if any(st is not None and st[1] >= recent for st in stats):
                    return False
        folders = zip(self.entries, self.seen, strict=True)
        return all(stat(folder_of(entry)) == own for entry, (own, _) in folders)

    def record(self, plugin_dists: set[str]) -> list[list[Any]]:
        """Return the stamps to keep: per entry, what a later check must find.

        :param plugin_dists: the metadata folders of the plugins' distributions.
        """
        kept = []
        for entry, (own, dists) in zip(self.entries, self.seen, strict=True):
            folder = folder_of(entry)
            names = sorted(dists)
            files, stats = [], []
            for name, (entry_points, record, where) in sorted(dists.items()):
                if os.path.join(folder, name) in plugin_dists:
                    chosen = ("RECORD", record) if record is not None else ("entry_points.txt", entry_points)
                else:
                    chosen = ("entry_points.txt", entry_points) if entry_points is not None else ("", where)
                files.append(os.path.join(name, chosen[0]) if chosen[0] else name)
                stats.append(chosen[1])
            kept.append([entry, own, zlib.crc32("\n".join(names).encode()), files, fingerprint(stats)])
        return kept


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
