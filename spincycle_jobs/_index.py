"""The persisted index of what discovery found, so a new process need not discover again.

One file per interpreter, ``sys.path`` and Factory settings, in a cache
folder only the user can write. It records, for every plugin loaded through
an entry point, its name, distribution, version and entry point, and every
job type with its plugin and target; and the stamps (modification time,
size, inode) of what that came from: the ``sys.path`` folders, whose own
stamps change whenever a distribution's ``dist-info`` folder is added,
replaced or removed (install, upgrade, uninstall), and the hook modules that
live apart from their metadata, which an editable install can change
without touching any metadata.
Any stamp that differs, or a file that is not exactly such an index, means
discovery runs again; nothing read from it is trusted before that check.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zlib
from typing import Any
from typing import Final

__all__ = ["Index", "Recorded", "locate"]

#: Bump when the file's shape changes: an index of another version is ignored.
INDEX_VERSION: Final = 3
CACHE_DIR_ENV: Final = "SPINCYCLE_JOBS_CACHE_DIR"
_DECODER = json.JSONDecoder()
#: Index files kept; older ones are pruned when a new one is written.
KEEP: Final = 32

Stamp = list[int] | None


def stamp(path: str) -> Stamp:
    """Return what identifies ``path``'s current state, or ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


# Paths are plain strings here, not pathlib: importing pathlib would cost a
# warm start more than reading the index does.


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


def _private_dir(path: str) -> bool:
    """Make ``path`` if needed; say whether it is a folder that only this user can write."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return os.path.isdir(path) and owner_ok and not st.st_mode & 0o022 and os.access(path, os.W_OK)


class Recorded:
    """A valid index's content: the plugins, and the job types, looked up one at a time.

    The job types are kept as the file's text, one JSON line each, so that a
    process that makes one type parses one line, not thousands.
    """

    def __init__(self, plugins_text: str, types_text: str) -> None:
        self._plugins_text = plugins_text
        self._types_text = types_text

    def plugin(self, name: str) -> list[Any] | None:
        """Return ``[name, distribution, version, entry point, load seconds]``, or ``None``."""
        # A row starts with its name; in JSON, '["name",' can begin nothing else.
        start = self._plugins_text.find(json.dumps([name])[:-1] + ",")
        if start < 0:
            return None
        row, _ = _DECODER.raw_decode(self._plugins_text, start)
        return row if isinstance(row, list) else None

    def all_plugins(self) -> list[list[Any]]:
        """Return every plugin's row."""
        rows = json.loads(self._plugins_text)
        return [row for row in rows if isinstance(row, list)] if isinstance(rows, list) else []

    def lookup(self, job_type: str) -> list[Any] | None:
        """Return ``[job_type, plugin, spec, target]``, or ``None`` when the index has no such type."""
        needle = "\n" + json.dumps([job_type])[:-1] + ","
        start = self._types_text.find(needle)
        if start < 0:
            return None
        end = self._types_text.find("\n", start + 1)
        row = json.loads(self._types_text[start + 1 : end if end >= 0 else None])
        return row if isinstance(row, list) else None

    def all_types(self) -> list[list[Any]]:
        """Return every ``[job_type, plugin, spec, target]``, sorted by type, malformed lines left out."""
        rows = (json.loads(line) for line in self._types_text.split("\n") if line)
        return [row for row in rows if isinstance(row, list) and row and isinstance(row[0], str)]


class Index:
    """One index file: where it is, and the key it must carry.

    The file is lines of JSON: a header with the format version, the key and
    a checksum of the rest; the stamps; the plugins; then one line per job
    type, sorted.
    """

    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self.key = key

    def read(self) -> Recorded | None:
        """Return the recorded discovery if the file is a valid, current index for this key, else ``None``."""
        try:
            with open(self.path, "rb") as src:
                data = src.read()
            header_end = data.index(b"\n")
            header = json.loads(data[:header_end])
            if header != {"version": INDEX_VERSION, "key": self.key, "crc": zlib.crc32(data[header_end:])}:
                return None
            text = data[header_end:].decode()
            stamps_end = text.index("\n", 1)
            plugins_end = text.index("\n", stamps_end + 1)
            stamps = json.loads(text[1:stamps_end])
            if not all(stamp(path) == recorded for path, recorded in stamps):
                return None
        except (OSError, ValueError, TypeError):
            return None
        return Recorded(text[stamps_end + 1 : plugins_end], text[plugins_end:])

    def write(self, plugins: list[list[Any]], types: list[list[str]], files: list[str]) -> None:
        """Record a discovery, with stamps of ``files`` and of ``sys.path``; never fails loudly."""
        import tempfile  # noqa: PLC0415 - only writing needs it

        paths = sorted({*_search_path(), *files})
        lines = [[[p, stamp(p)] for p in paths], plugins, *sorted(types)]
        body = "".join("\n" + json.dumps(line, separators=(",", ":")) for line in lines) + "\n"
        header = json.dumps({"version": INDEX_VERSION, "key": self.key, "crc": zlib.crc32(body.encode())})
        folder = os.path.dirname(self.path)
        if not _private_dir(folder):
            return
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(header + body)
                os.replace(tmp, self.path)  # atomic: readers see the old file or the new
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            _prune(folder)

    def remove(self) -> None:
        """Delete the index file, if there is one."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _search_path() -> list[str]:
    return [os.path.abspath(p) for p in sys.path]


def _prune(folder: str) -> None:
    """Keep the newest :data:`KEEP` index files, and no writer's temporary file over an hour old."""
    import time  # noqa: PLC0415 - only writing needs these
    from pathlib import Path  # noqa: PLC0415

    found = []
    for path in Path(folder).glob("index-*.json"):
        with contextlib.suppress(OSError):
            found.append((path.stat().st_mtime_ns, path))
    stale = [path for _, path in sorted(found, reverse=True)[KEEP:]]
    for path in Path(folder).glob(".index-*.tmp"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < time.time() - 3600:
                stale.append(path)
    for path in stale:
        with contextlib.suppress(OSError):
            path.unlink()


def locate(group: str, allow: frozenset[str] | None, deny: frozenset[str]) -> Index:
    """Return the index for this interpreter, ``sys.path`` and Factory settings."""
    key = json.dumps(
        [
            INDEX_VERSION,
            sys.executable,
            sys.version,
            os.path.dirname(__file__),
            _search_path(),
            group,
            None if allow is None else sorted(allow),
            sorted(deny),
        ]
    )
    raw = key.encode()  # the name need not be collision-proof: the file holds the whole key
    name = f"index-{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.json"
    return Index(os.path.join(default_cache_dir(), name), key)
