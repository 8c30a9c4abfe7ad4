"""The persisted index of what discovery found, so a new process need not discover again.

One JSON file per interpreter, ``sys.path`` and Factory settings, in a cache
folder only the user can write. It records, for every plugin loaded through
an entry point, its name, distribution, version and entry point, and every
job type with its plugin and target; and the stamps (modification time,
size, inode) of what that came from: the ``sys.path`` folders, the
distributions' ``dist-info`` folders and the plugins' hook modules. Any
stamp that differs, or a file that is not exactly such an index, means
discovery runs again; nothing read from it is trusted before that check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any
from typing import Final

__all__ = ["Index", "locate"]

#: Bump when the file's shape changes: an index of another version is ignored.
INDEX_VERSION: Final = 1
CACHE_DIR_ENV: Final = "SPINCYCLE_JOBS_CACHE_DIR"
#: Index files kept; older ones are pruned when a new one is written.
KEEP: Final = 32

Stamp = list[int] | None


def stamp(path: str) -> Stamp:
    """Return what identifies ``path``'s current state, or ``None`` when it does not exist."""
    try:
        st = os.stat(path)  # noqa: PTH116 - the hot path of a warm start: no Path objects
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def default_cache_dir() -> Path:
    """Return the folder for index files: ``$SPINCYCLE_JOBS_CACHE_DIR``, else the user cache folder."""
    if configured := os.environ.get(CACHE_DIR_ENV):
        return Path(configured)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "spincycle-jobs"


def _private_dir(path: Path) -> bool:
    """Make ``path`` if needed; say whether it is a folder that only this user can write."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return path.is_dir() and owner_ok and not st.st_mode & 0o022 and os.access(path, os.W_OK)


class Index:
    """One index file: where it is, and the key it must carry."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def read(self) -> dict[str, Any] | None:
        """Return the recorded discovery if the file is a valid, current index for this key, else ``None``."""
        try:
            with self.path.open("rb") as src:
                data = json.load(src)
            if data["version"] != INDEX_VERSION or data["key"] != self.key:
                return None
            if not all(stamp(path) == recorded for path, recorded in data["stamps"]):
                return None
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, plugins: list[list[Any]], types: list[list[str]], files: list[str]) -> None:
        """Record a discovery, with stamps of ``files`` and of ``sys.path``; never fails loudly."""
        import tempfile  # noqa: PLC0415 - only writing needs it

        paths = sorted({*_search_path(), *files})
        data = {
            "version": INDEX_VERSION,
            "key": self.key,
            "stamps": [[p, stamp(p)] for p in paths],
            "plugins": plugins,
            "types": types,
        }
        folder = self.path.parent
        if not _private_dir(folder):
            return
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, separators=(",", ":"))
                Path(tmp).replace(self.path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            _prune(folder)

    def remove(self) -> None:
        """Delete the index file, if there is one."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def _search_path() -> list[str]:
    return [os.path.abspath(p) for p in sys.path]  # noqa: PTH100 - as import sees them, links unresolved


def _prune(folder: Path) -> None:
    """Keep the newest :data:`KEEP` index files in ``folder``."""
    found = []
    for path in folder.glob("index-*.json"):
        with contextlib.suppress(OSError):
            found.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(found, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            path.unlink()


def locate(group: str, allow: frozenset[str] | None, deny: frozenset[str]) -> Index:
    """Return the index for this interpreter, ``sys.path`` and Factory settings."""
    key = json.dumps(
        [
            INDEX_VERSION,
            sys.executable,
            sys.version,
            str(Path(__file__).parent),
            _search_path(),
            group,
            None if allow is None else sorted(allow),
            sorted(deny),
        ]
    )
    name = "index-" + hashlib.sha256(key.encode()).hexdigest()[:24] + ".json"
    return Index(default_cache_dir() / name, key)
