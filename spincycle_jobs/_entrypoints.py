"""The entry points of one group, as :func:`importlib.metadata.entry_points` finds them, read faster.

``importlib.metadata`` reads and parses every entry point of every installed
distribution, of every group, and each distribution's metadata twice to
name it: at 1,000 distributions that is most of a discovery. Here, a
``sys.path`` folder is listed once, and only the ``entry_points.txt`` that
names the group is parsed, the same way. The order and the rule for a
distribution found twice (the first counts) are ``importlib.metadata``'s.
Anything else, a zip, an egg, or a finder of distributions other than the
standard one, is left to ``importlib.metadata`` itself.
"""

# Plain str paths: this module lists and reads files, nothing more, and pathlib would cost more.
# ruff: noqa: PTH100, PTH112, PTH117, PTH118, PTH122, PTH208

from __future__ import annotations

import importlib.machinery
import os
import sys
from importlib.metadata import EntryPoint
from importlib.metadata import distributions
from typing import TYPE_CHECKING
from typing import NamedTuple

from ._catalog import normalize
from ._files import read_regular
from ._stamps import METADATA_SUFFIXES
from ._stamps import Stat
from ._stamps import stamp_hash
from ._stamps import stamp_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping
    from importlib.metadata import Distribution

__all__ = ["Found", "Records", "entry_points", "unlisted_files"]


class Found(NamedTuple):
    """An entry point of the group, with its distribution's name and version and where they live."""

    entry_point: EntryPoint
    #: The distribution's name, as its metadata spells it, or ``None``.
    distribution: str | None
    version: str | None
    #: The distribution's metadata folder, absolute, when it is one on disk (not in a zip).
    metadata: str | None


def name_version(text: str) -> tuple[str | None, str | None]:
    """Return the ``Name`` and ``Version`` of a distribution's ``METADATA`` (or ``PKG-INFO``) text."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name"), found.get("Version")


def _read(path: str) -> str | None:
    """Return the text of the regular file at ``path``, as ``importlib.metadata`` reads it, or ``None``."""
    found = read_regular(path)
    return None if found is None else _text(found[0])


def _text(data: bytes) -> str | None:
    """Return ``data`` as UTF-8 text, or ``None``."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def _section(text: str, group: str) -> Iterator[tuple[str, str]]:
    """Yield the ``name = value`` pairs of section ``[group]``, parsed as ``importlib.metadata`` does."""
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _stem_key(name: str) -> str:
    """Return the name ``importlib.metadata`` tells distributions apart by, from a metadata folder's name."""
    return normalize(os.path.splitext(name)[0].partition("-")[0])


def _only_standard_finders() -> bool:
    """Whether the standard path finder is the only finder of distributions on ``sys.meta_path``."""
    finders = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    return finders == [importlib.machinery.PathFinder]


def _of_distribution(dist: Distribution, group: str, seen: set[str]) -> Iterator[Found]:
    """Yield the group's entry points of a distribution ``importlib.metadata`` found, unless one was seen."""
    key = normalize(getattr(dist, "_normalized_name", None) or dist.name or "")  # importlib's own key
    if key in seen:
        return
    seen.add(key)
    eps = [ep for ep in dist.entry_points if ep.group == group]
    if eps:
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        name, version = name_version(text)
        path = getattr(dist, "_path", None)  # a PathDistribution's folder; in a zip, a zipfile.Path
        folder = os.fspath(path) if isinstance(path, os.PathLike) else None
        metadata = os.path.abspath(folder) if isinstance(folder, str) and os.path.isdir(folder) else None
        for ep in eps:
            yield Found(ep, name, version, metadata)


def _of_folder(folder: str, names: list[str], group: str, seen: set[str]) -> Iterator[Found]:
    """Yield the group's entry points of the distributions in ``folder``, in its listing's order."""
    needle = f"[{group}]"
    for name in names:
        if not name.lower().endswith(METADATA_SUFFIXES):
            continue
        key = _stem_key(name)
        if key in seen:
            continue
        seen.add(key)
        where = os.path.join(folder, name)
        text = _read(os.path.join(where, "entry_points.txt"))
        if text is None or needle not in text:
            continue
        pairs = list(_section(text, group))
        if pairs:
            metadata = _read(os.path.join(where, "METADATA")) or _read(os.path.join(where, "PKG-INFO")) or ""
            dist_name, version = name_version(metadata)
            for ep_name, value in pairs:
                yield Found(EntryPoint(ep_name, value, group), dist_name, version, os.path.abspath(where))


def entry_points(group: str) -> Iterator[Found]:
    """Yield the entry points of ``group``, as ``importlib.metadata.entry_points(group=group)`` would."""
    seen: set[str] = set()
    if not _only_standard_finders():
        for dist in distributions():
            yield from _of_distribution(dist, group, seen)
        return
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder) if os.path.isdir(folder) else None
        except OSError:
            continue
        if names is None or any(n.lower().endswith(".egg") for n in names):
            for dist in distributions(path=[entry]):  # a zip, or eggs: importlib.metadata knows them
                yield from _of_distribution(dist, group, seen)
        else:
            yield from _of_folder(folder, names, group, seen)


def unlisted_files(plugins: Mapping[str, list[str]], modules: Iterable[str], records: Records) -> list[str]:
    """Return the files of ``modules`` that the ``RECORD`` of no plugin's distribution lists.

    :param records: where the ``RECORD`` files read are kept, with their stamps.
    :param plugins: the metadata folders of the plugins' distributions, by the
        top-level package of their entry points. A module's file is looked
        for first, as a line, in the ``RECORD`` of the plugins of its own
        top-level package, where it almost always is; only files not found
        there are looked for in every ``RECORD``, parsed in full.
    """
    unlisted = []
    for name in modules:
        module_file = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(module_file, str):
            # Import gives absolute paths; one that is not normal only fails to match, and is stamped.
            path = module_file if os.path.isabs(module_file) else os.path.abspath(module_file)
            for dist in plugins.get(name.partition(".")[0], ()):
                if records.lists(dist, path):
                    break
            else:
                unlisted.append(path)
    if not unlisted:
        return []
    listed = {path for dists in plugins.values() for dist in dists for path in records.paths(dist)}
    return [f for f in unlisted if f not in listed]


class Records:
    """The ``RECORD`` files of distributions, each read once, and their stamps as read.

    :param recent: whether a stamp shows a change since discovery started.
    """

    def __init__(self, recent: Callable[[Stat], bool]) -> None:
        self._recent = recent
        #: Per metadata folder: its ``RECORD``, after a newline so that each line starts with one.
        self._read: dict[str, str | None] = {}
        #: Per metadata folder: the :func:`stamp_hash` of the ``RECORD`` read, which the
        #: index can keep, or ``None`` when it changed since discovery started.
        self.stamps: dict[str, int | None] = {}

    def _of(self, dist: str) -> tuple[str, str | None]:
        """Return the site folder (ending in a separator) and the ``RECORD`` of ``dist``."""
        if dist in self._read:
            text = self._read[dist]
        else:
            found = read_regular(dist + os.sep + "RECORD")  # None: an egg-info, not recorded
            text = None
            if found is not None:
                st = stamp_of(found[1])
                self.stamps[dist] = None if self._recent(st) else stamp_hash(st)
                text = _text(found[0])
            self._read[dist] = text = None if text is None else "\n" + text
        return dist[: dist.rfind(os.sep) + 1], text

    def lists(self, dist: str, path: str) -> bool:
        """Whether ``dist``'s ``RECORD`` has a line for ``path`` as it is, relative to its site folder."""
        site, text = self._of(dist)
        return text is not None and path.startswith(site) and f"\n{path[len(site) :]}," in text

    def paths(self, dist: str) -> list[str]:
        """Return the absolute paths ``dist``'s ``RECORD`` lists, normalized."""
        site, text = self._of(dist)
        if text is None:
            return []
        slash = os.sep == "/"
        # Most paths are plain ones below the site folder; only others need the slower normpath.
        return [
            site + rel
            if slash and rel[:1] not in ("/", ".") and "/." not in rel
            else os.path.normpath(os.path.join(site, rel))
            for rel in _record_paths(text)
        ]


def _record_paths(record: str) -> list[str]:
    """Return the paths a ``RECORD`` lists (CSV: path, hash, size)."""
    if '"' not in record:
        return [line.partition(",")[0] for line in record.splitlines() if line]
    import csv  # noqa: PLC0415 - only a quoted path needs it

    return [row[0] for row in csv.reader(record.splitlines()) if row]
