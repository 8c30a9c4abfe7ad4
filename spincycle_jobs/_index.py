"""The persisted index of what discovery found, so a new process need not discover again.

One file per interpreter, ``sys.path`` and Factory settings, in a cache
folder only the user can write. It holds a :class:`Snapshot`: every plugin
loaded through an entry point (:class:`PluginRow`) and every job type it
offers (:class:`TypeRow`), with the stamps of what that came from:

- for each ``sys.path`` folder, the set of its distributions' metadata folders
  (``*.dist-info``, ``*.egg-info``) by name, and, for each of those, the file an
  installer rewrites on every install: ``RECORD`` for a plugin's distribution
  (``entry_points.txt`` where there is no ``RECORD``), ``entry_points.txt`` for
  any other (its metadata folder where it has none, which a new file changes);
- a ``sys.path`` entry that is a file (a zip) as a whole;
- every file imported while the plugins loaded that no plugin's ``RECORD``
  lists (an editable install's code, a src layout's, a module from elsewhere).

A stamp is a file's modification time, change time, size and inode: the
change time cannot be set back, so a restored modification time is seen.
When discovery starts, the time is noted and each ``sys.path`` folder's own
stat taken; the files' stamps are taken when the index is written. It is not
written if a ``sys.path`` folder's stat changed meanwhile, or a stamp shows a
change since discovery started (see :class:`._stamps.Stamps`). It is read
only from a folder and a file that this user owns and no one else can write;
anything else, and any file that is not exactly such an index, means
discovery runs again.

A process checks an index by its header and stamps alone, and reads the rows
when it first needs one; the length and checksum of the rows follow the
stamps, so rows other than those checked (a file replaced in between) are
seen as a damaged index.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import zlib
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import NamedTuple

from ._files import mine
from ._files import read_private
from ._files import write_private
from ._stamps import Stamps
from ._stamps import entry_unchanged
from ._stamps import stat

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping

__all__ = ["CorruptIndexError", "Index", "PluginRow", "Snapshot", "TypeRow", "locate"]

#: Bump when the file's shape changes: an index of another version is ignored.
INDEX_VERSION: Final = 5
#: The start of every file this package writes in the cache folder.
MAGIC: Final = b'{"format":"spincycle-jobs/index",'
CACHE_DIR_ENV: Final = "SPINCYCLE_JOBS_CACHE_DIR"
#: Index files kept; older ones are pruned when a new one is written.
KEEP: Final = 32
#: The first read of an index: its header and stamps (about 45 KiB at 1,000 distributions).
_HEAD_BYTES: Final = 1 << 16
_ENCODER = json.JSONEncoder(separators=(",", ":"))

# Paths are plain strings here, not pathlib: importing pathlib would cost a
# warm start more than reading the index does.


class CorruptIndexError(ValueError):
    """A row of an index is not what this package writes."""


class PluginRow(NamedTuple):
    """A plugin loaded through an entry point, as the index records it."""

    name: str
    distribution: str | None
    version: str | None
    #: The entry point's value, ``"module"`` or ``"module:attr"``.
    source: str
    #: Seconds spent importing it and calling its hook.
    seconds: float

    @classmethod
    def parse(cls, row: object) -> PluginRow:
        """Return ``row``, a decoded line of the index, as a plugin row.

        :raises CorruptIndexError: when it is not one.
        """
        if isinstance(row, list) and len(row) == len(cls._fields):
            name, dist, version, source, seconds = row
            if (
                isinstance(name, str)
                and isinstance(dist, str | None)
                and isinstance(version, str | None)
                and isinstance(source, str)
                and isinstance(seconds, float)
            ):
                return cls(name, dist, version, source, seconds)
        msg = f"not a plugin row: {row!r:.200}"
        raise CorruptIndexError(msg)


class TypeRow(NamedTuple):
    """A job type and the plugin that offers it, as the index records it."""

    type: str
    plugin: str
    #: ``"module:attr"``, which imports the constructor.
    spec: str
    #: What :attr:`TypeInfo.target <spincycle_jobs.TypeInfo.target>` shows.
    target: str

    @classmethod
    def parse(cls, row: object) -> TypeRow:
        """Return ``row``, a decoded line of the index, as a type row.

        :raises CorruptIndexError: when it is not one.
        """
        if isinstance(row, list) and len(row) == len(cls._fields) and all(isinstance(x, str) for x in row):
            job_type, plugin, spec, target = row
            return cls(
                job_type, plugin, spec, target or spec
            )  # the file leaves out a target equal to the spec
        msg = f"not a job type row: {row!r:.200}"
        raise CorruptIndexError(msg)


def _decode(text: str | bytes) -> object:
    """Decode one JSON value; one that is not JSON is a corrupt index."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        msg = f"a line of the index is not JSON: {err}"
        raise CorruptIndexError(msg) from err


class Snapshot:
    """What discovery found: plugin and type rows, looked up one at a time.

    The rows are kept as the file's bytes, one JSON line per row (ASCII: JSON
    escapes the rest), so that a process that makes one type decodes one line,
    not thousands: the length of the plugins' lines, then those, then the
    types', in the order discovery found them.

    :param rows: those bytes, or a function that reads them when first needed
        (an index is checked before its rows are read).
    :raises CorruptIndexError: from any method, when the rows are not such rows,
        or the row it finds does not parse.
    """

    def __init__(self, rows: bytes | Callable[[], bytes]) -> None:
        self._load: Callable[[], bytes] = rows if callable(rows) else lambda: rows
        self._parts: tuple[bytes, int, int] | None = None

    def _rows(self) -> tuple[bytes, int, int]:
        """Return the rows, where the plugins' lines start and where they end."""
        if self._parts is None:
            data = self._load()
            head_end = data.find(b"\n")
            if head_end < 0 or not data[:head_end].isdigit() or not data.endswith(b"\n"):
                msg = "the rows of the index do not start with their length"
                raise CorruptIndexError(msg)
            self._parts = (data, head_end, head_end + int(data[:head_end]))
        return self._parts

    @classmethod
    def of(cls, plugins: Iterable[PluginRow], types: Iterable[tuple[str, str, str, str]]) -> Snapshot:
        """Return the snapshot of these rows, as the index file holds it: ``types`` as :class:`TypeRow` s."""
        # Rows of strings, written without the general encoder, which costs more per row.
        q = json.encoder.encode_basestring_ascii
        EMPTY = q("")  # noqa: N806 - the target the file leaves out, equal to the spec

        def q_null(value: str | None) -> str:
            return "null" if value is None else q(value)

        plugin_lines = "".join(
            [f"\n[{q(n)},{q_null(d)},{q_null(v)},{q(s)},{t!r}]" for n, d, v, s, t in plugins]  # t: seconds
        ).encode()
        type_lines = "".join(
            [f"\n[{q(t)},{q(p)},{q(s)},{EMPTY if g == s else q(g)}]" for t, p, s, g in types]
        ).encode()
        return cls(b"%d" % len(plugin_lines) + plugin_lines + type_lines + b"\n")

    def data(self) -> bytes:
        """Return the rows as the lines of an index file."""
        return self._rows()[0]

    @staticmethod
    def _find(data: bytes, start: int, end: int, name: str) -> bytes | None:
        """Return the line in ``data[start:end]`` whose row starts with ``name``, or ``None``."""
        # In JSON, '["name",' can begin nothing else; each line starts after a newline.
        at = data.find(b"\n" + json.dumps([name])[:-1].encode() + b",", start, end)
        if at < 0:
            return None
        line_end = data.find(b"\n", at + 1)
        return data[at + 1 : line_end]

    def plugin(self, name: str) -> PluginRow | None:
        """Return the row of the plugin called ``name``, or ``None``."""
        line = self._find(*self._rows(), name)
        return None if line is None else PluginRow.parse(_decode(line))

    def all_plugins(self) -> list[PluginRow]:
        """Return every plugin's row."""
        data, start, end = self._rows()
        return [PluginRow.parse(_decode(line)) for line in data[start:end].split(b"\n") if line]

    def lookup(self, job_type: str) -> TypeRow | None:
        """Return the row of ``job_type``, or ``None`` when the index has no such type."""
        data, _, start = self._rows()
        line = self._find(data, start, len(data), job_type)
        return None if line is None else TypeRow.parse(_decode(line))

    def all_types(self) -> list[TypeRow]:
        """Return every type's row, in the order discovery found them."""
        data, _, start = self._rows()
        return [TypeRow.parse(_decode(line)) for line in data[start:].split(b"\n") if line]


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


class Index:
    """One index file: where it is, and the key it must carry.

    The file is lines of JSON: a header with the format, its version, the key
    and a checksum of the next three lines; the stamps of the ``sys.path``
    entries; the stamps of other files; the length and checksum of the rows;
    then the :class:`Snapshot`'s lines, the rows.
    """

    def __init__(self, path: str, key: str, entries: list[str]) -> None:
        self.path = path
        self.key = key
        #: The ``sys.path`` entries, as the key spells them.
        self.entries = entries

    def _header(self, body: bytes | memoryview) -> bytes:
        header = {"format": "spincycle-jobs/index", "version": INDEX_VERSION, "key": self.key}
        return _dumps(header | {"crc": zlib.crc32(body)}).encode()

    def read(self) -> Snapshot | None:
        """Return the snapshot if the file is a trusted, valid, current index for this key, else ``None``.

        This reads and checks the header and the stamps; the rows are read when first needed.
        """
        try:
            size = _HEAD_BYTES
            head = read_private(self.path, size=size)
            while head is not None and len(head) == size and head.count(b"\n") < 4:  # noqa: PLR2004
                size *= 4  # the stamps of many distributions: read on, not to the end
                head = read_private(self.path, size=size)
            if head is None:
                return None
            header_end = head.index(b"\n")
            entries_end = head.index(b"\n", header_end + 1)
            files_end = head.index(b"\n", entries_end + 1)
            rows_end = head.index(b"\n", files_end + 1)
            if head[:header_end] != self._header(memoryview(head)[header_end:rows_end]):
                return None
            entries, files = json.loads(head[header_end:entries_end]), json.loads(head[entries_end:files_end])
            if not self._current(entries, files):
                return None
            rows_size, rows_crc = json.loads(head[files_end:rows_end])
            return Snapshot(functools.partial(self._rows, rows_end + 1, int(rows_size), int(rows_crc)))
        except Exception:  # noqa: BLE001 - an index that cannot be read is no index
            return None

    def _rows(self, offset: int, size: int, crc: int) -> bytes:
        """Return the rows of a checked index: those its header and stamps vouch for, or raise."""
        data = read_private(self.path, offset)
        if data is None or len(data) != size or zlib.crc32(data) != crc:
            msg = "the index changed or was damaged after it was checked"
            raise CorruptIndexError(msg)
        return data

    def _current(self, entries: list[list[Any]], files: list[Any]) -> bool:
        """Whether the recorded stamps are those of the files now."""
        if [e[0] for e in entries] != self.entries:
            return False
        cwd, *stats = files
        if cwd is not None and cwd != os.getcwd():
            return False
        if not all(entry_unchanged(*e) for e in entries):
            return False
        return all(stat(path) == (None if s is None else tuple(s)) for path, s in stats)

    def stamps(self) -> Stamps:
        """Note when discovery starts, with the ``sys.path`` folders' stats: call before it starts."""
        return Stamps(self.entries)

    def write(
        self, stamps: Stamps, plugin_dists: Mapping[str, int | None], files: list[str], snapshot: Snapshot
    ) -> bool:
        """Record a discovery, unless what it came from changed while it ran; never fails loudly.

        :param stamps: from :meth:`stamps`, called before discovery started.
        :param plugin_dists: as :meth:`Stamps.record <._stamps.Stamps.record>` takes them.
        :param files: files imported while the plugins loaded that no plugin's ``RECORD`` lists.
        :returns: whether the index was written.
        """
        file_stats = [(path, stat(path)) for path in sorted(set(files))]
        kept = None if any(stamps.recent(s) for _, s in file_stats) else stamps.record(plugin_dists)
        if kept is None:
            return False
        rows = snapshot.data()
        lines = [
            kept,
            [self._working_folder(files), *file_stats],
            [len(rows), zlib.crc32(rows)],
        ]
        body = "".join("\n" + _dumps(line) for line in lines).encode()
        folder = write_private(self.path, self._header(body) + body + b"\n" + rows)
        if folder is None:
            return False
        _prune(folder)
        return True

    def _working_folder(self, files: list[str]) -> str | None:
        """Return the working folder if a plugin's code came from it, through "" on ``sys.path``.

        An index that used such code holds in that folder only.
        """
        if "" not in self.entries:
            return None
        cwd = os.path.join(os.getcwd(), "")
        inside = tuple(
            os.path.join(e, "") for e in self.entries if e.startswith(cwd)
        )  # reached through those
        return cwd[:-1] if any(f.startswith(cwd) and not f.startswith(inside) for f in files) else None

    def remove(self) -> None:
        """Delete the index file, if this package wrote it, in a folder only this user can write."""
        folder = os.path.realpath(os.path.dirname(self.path))
        path = os.path.join(folder, os.path.basename(self.path))
        with contextlib.suppress(OSError):
            if mine(os.stat(folder)) and _ours(path) is not None:
                os.unlink(path)


def _ours(path: str) -> os.stat_result | None:
    """Return the stat of ``path`` if it is a regular file this package wrote, else ``None``."""
    import stat as st_mode  # noqa: PLC0415

    try:
        st = os.lstat(path)
        if not st_mode.S_ISREG(st.st_mode) or not mine(st):
            return None
        with open(path, "rb") as src:
            return st if src.read(len(MAGIC)) == MAGIC else None
    except OSError:
        return None


def _prune(folder: str) -> None:
    """Keep the newest :data:`KEEP` index files, and no writer's temporary file over an hour old.

    Only files this package wrote, as their first bytes say, are ever deleted.
    """
    import time  # noqa: PLC0415 - only writing needs it

    try:
        names = os.listdir(folder)
    except OSError:
        return
    indexes, stale = [], []
    for name in names:
        path = os.path.join(folder, name)
        is_index = name.startswith("index-") and name.endswith(".json")
        is_tmp = name.startswith(".index-") and name.endswith(".tmp")
        st = _ours(path) if is_index or is_tmp else None
        if st is not None and is_index:
            indexes.append((st.st_mtime_ns, path))
        elif st is not None and st.st_mtime < time.time() - 3600:
            stale.append(path)
    stale += [path for _, path in sorted(indexes, reverse=True)[KEEP:]]
    for path in stale:
        with contextlib.suppress(OSError):
            os.unlink(path)


def default_cache_dir() -> str:
    """Return the folder for index files: ``$SPINCYCLE_JOBS_CACHE_DIR``, else the user cache folder."""
    if configured := os.environ.get(CACHE_DIR_ENV):
        return configured
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    elif sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "spincycle-jobs")


def search_path() -> list[str]:
    """Return ``sys.path`` as the index key spells it: absolute, once each, "" for the working folder.

    ``python -c`` and ``python -m`` put the working folder on ``sys.path``; spelled
    "", it keeps one index for every folder that holds no distribution.
    """
    cwd = os.getcwd()
    entries = ["" if os.path.abspath(p) == cwd else os.path.abspath(p) for p in sys.path]
    return list(dict.fromkeys(entries))


def locate(group: str, allow: frozenset[str] | None, deny: frozenset[str]) -> Index:
    """Return the index for this interpreter, ``sys.path`` and Factory settings."""
    entries = search_path()
    key = json.dumps(
        [
            INDEX_VERSION,
            sys.executable,
            sys.version,
            os.path.dirname(__file__),
            entries,
            group,
            None if allow is None else sorted(allow),
            sorted(deny),
        ]
    )
    raw = key.encode()  # the name need not be collision-proof: the file holds the whole key
    name = f"index-{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.json"
    return Index(os.path.join(default_cache_dir(), name), key, entries)
