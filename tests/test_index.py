"""The persisted index: each change to what is installed gives exactly what a fresh discovery gives."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import textwrap
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from .conftest import EXAMPLE
from .conftest import Venv
from .conftest import write_project
from .plugins import GOOD
from .plugins import OTHER

if TYPE_CHECKING:
    from collections.abc import Callable

# What a process sees: listings, whether the index was used, which plugin modules it imported.
OBSERVE = """\
import json, sys
from spincycle_jobs import Factory
f = Factory()
job = f.make("sleep", "nap")
seen = {
    "types": [repr(t) for t in f.types()],
    "plugins": [[p.name, p.distribution, p.version, repr(p.error)] for p in f.plugins()],
    "used_index": f.used_index,
    "imported": sorted(m for m in sys.modules if m.startswith(("good_jobs", "spincycle_jobs_example."))),
}
print(json.dumps(seen))
"""

GOOD_V2 = dict(
    GOOD, **{"plugin.py": GOOD["plugin.py"].replace('"beta": ', '"gamma": "good_jobs.beta:Beta", "beta": ')}
)


def foreign_header(text: str) -> str:
    """The same index, with the header of another interpreter's."""
    header, _, rest = text.partition("\n")
    return json.dumps(json.loads(header) | {"key": "someone else's"}) + "\n" + rest


class Env:
    """A venv with the example plugin, and a cache folder of its own."""

    def __init__(self, venv: Venv, cache: Path) -> None:
        self.venv = venv
        self.cache = cache

    def settings(self) -> dict[str, str]:
        return {"SPINCYCLE_JOBS_CACHE_DIR": str(self.cache)}

    def observe(self, *, cache: bool = True, **env: str) -> dict[str, Any]:
        if not cache:
            env["SPINCYCLE_JOBS_NO_CACHE"] = "1"
        result: dict[str, Any] = self.venv.run(OBSERVE, **self.settings(), **env)
        return result

    def assert_fresh(self) -> dict[str, Any]:
        """Run twice with the index (it may rebuild, then must be warm) and once without; all agree."""
        first, warm, fresh = self.observe(), self.observe(), self.observe(cache=False)
        for seen in (first, warm):
            assert seen["types"] == fresh["types"]
            assert seen["plugins"] == fresh["plugins"]
        assert warm["used_index"] is True
        assert fresh["used_index"] is False
        return warm

    def index_files(self) -> list[Path]:
        return sorted(self.cache.glob("index-*.json"))


@pytest.fixture
def env(make_venv: Any, tmp_path: Path) -> Env:
    venv = make_venv()
    venv.install("spincycle-jobs", EXAMPLE)
    return Env(venv, tmp_path / "cache")


@pytest.mark.slow
class TestIndex:
    def test_warm_index_imports_only_the_job_module(self, env: Env) -> None:
        """With the index warm, make imports the one job module and no hook module."""
        cold = env.observe()
        assert cold["used_index"] is False
        assert "spincycle_jobs_example.plugin" in cold["imported"]
        warm = env.assert_fresh()
        assert warm["imported"] == ["spincycle_jobs_example.sleep"]
        code = "import json, sys; from spincycle_jobs import Factory; Factory().make('noop', 'n'); "
        modules = env.venv.run(
            code + "print(json.dumps(sorted(sys.modules)))", SPINCYCLE_JOBS_CACHE_DIR=str(env.cache)
        )
        assert "pluggy" not in modules
        assert "importlib.metadata" not in modules

    def test_install_uninstall(self, env: Env, tmp_path: Path) -> None:
        """Installing and uninstalling a plugin distribution are seen at once."""
        env.assert_fresh()
        env.venv.install(write_project(tmp_path, "good-jobs", "1.0", GOOD, "good = good_jobs.plugin"))
        assert "alpha" in str(env.assert_fresh()["types"])
        env.venv.uninstall("good-jobs")
        assert "alpha" not in str(env.assert_fresh()["types"])

    def test_plugin_offering_classes(self, env: Env, tmp_path: Path) -> None:
        """A plugin that offers classes, not strings, is indexed too, and its jobs made from the index."""
        env.venv.install(write_project(tmp_path, "other-jobs", "2.0", OTHER, "other = other_jobs.plugin"))
        env.assert_fresh()
        code = "import json; from spincycle_jobs import Factory; f = Factory(); j = f.make('gamma', 'g'); "
        made = env.venv.run(
            code + "print(json.dumps([type(j).__qualname__, f.used_index]))", **env.settings()
        )
        assert made == ["Gamma", True]

    def test_upgrade_new_version_new_type(self, env: Env, tmp_path: Path) -> None:
        """An upgrade to a new version with a new job type is seen at once."""
        env.venv.install(write_project(tmp_path, "good-jobs", "1.0", GOOD, "good = good_jobs.plugin"))
        assert "gamma" not in str(env.assert_fresh()["types"])
        env.venv.install(write_project(tmp_path, "good-jobs", "2.0", GOOD_V2, "good = good_jobs.plugin"))
        seen = env.assert_fresh()
        assert "type='gamma', plugin='good', distribution='good-jobs', version='2.0'" in str(seen["types"])

    def test_editable_hook_module_changes(self, env: Env, tmp_path: Path) -> None:
        """An editable plugin whose hook module changes, metadata untouched, is seen at once."""
        project = write_project(tmp_path, "good-jobs", "1.0", GOOD, "good = good_jobs.plugin")
        env.venv.install(project, editable=True)
        assert "gamma" not in str(env.assert_fresh()["types"])
        hook = project / "good_jobs" / "plugin.py"
        hook.write_text(textwrap.dedent(GOOD_V2["plugin.py"]))
        assert "gamma" in str(env.assert_fresh()["types"])

    @pytest.mark.parametrize(
        "damage",
        [
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
            lambda p: p.write_bytes(b"\x00\xff garbage"),
            lambda p: p.write_text(foreign_header(p.read_text())),
            lambda p: p.write_text(p.read_text().replace('"sleep"', '"sleeq"')),
            lambda p: p.write_text(p.read_text().replace('"example"', '"exampel"', 1)),
            lambda p: (p.unlink(), p.mkdir()),
        ],
        ids=["truncated", "garbage", "foreign", "changed-type", "changed-plugin", "unreadable"],
    )
    def test_damaged_index_is_rebuilt(self, env: Env, damage: Any) -> None:
        """A corrupt, truncated, foreign or unreadable index is ignored and rebuilt, never trusted."""
        env.assert_fresh()
        (index,) = env.index_files()
        damage(index)
        seen = env.observe()
        fresh = env.observe(cache=False)
        assert (seen["types"], seen["plugins"]) == (fresh["types"], fresh["plugins"])
        if index.is_dir():
            index.rmdir()
        env.assert_fresh()

    @pytest.mark.parametrize("kind", ["read-only-folder", "under-a-file"])
    def test_cache_folder_cannot_be_made(self, env: Env, tmp_path: Path, kind: str) -> None:
        """A cache folder that cannot be made or written (read-only home): no index, no error, same result."""
        parent = tmp_path / kind
        if kind == "under-a-file":
            parent.write_text("")  # stops root too
        else:
            parent.mkdir(mode=stat.S_IRUSR | stat.S_IXUSR)
        try:
            runs = [env.venv.run(OBSERVE, SPINCYCLE_JOBS_CACHE_DIR=str(parent / "cache")) for _ in range(2)]
            fresh = env.observe(cache=False)
            assert all((r["types"], r["plugins"]) == (fresh["types"], fresh["plugins"]) for r in runs)
            if kind == "under-a-file" or os.geteuid() != 0:  # root writes into a read-only folder
                assert runs[1]["used_index"] is False
        finally:
            if parent.is_dir():
                parent.chmod(stat.S_IRWXU)

    def test_shared_writable_folder_is_not_used(self, env: Env) -> None:
        """A cache folder others can write is not trusted: no index is read or written there."""
        env.cache.mkdir(mode=0o777)
        env.cache.chmod(0o777)
        assert env.observe()["used_index"] is False
        assert env.observe()["used_index"] is False
        assert env.index_files() == []

    def test_private_files(self, env: Env) -> None:
        """The cache folder and index are the user's alone."""
        env.assert_fresh()
        assert stat.S_IMODE(env.cache.stat().st_mode) == 0o700
        (index,) = env.index_files()
        assert stat.S_IMODE(index.stat().st_mode) == 0o600

    def test_processes_racing(self, env: Env) -> None:
        """Eight processes building the index at once all get the right answer, and leave a valid index."""
        procs = [env.venv.popen(OBSERVE, SPINCYCLE_JOBS_CACHE_DIR=str(env.cache)) for _ in range(8)]
        outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        fresh = env.observe(cache=False)
        assert all((o["types"], o["plugins"]) == (fresh["types"], fresh["plugins"]) for o in outs)
        assert env.observe()["used_index"] is True
        assert [p.name for p in env.cache.iterdir() if p.name.endswith(".tmp")] == []

    def test_no_cache(self, env: Env) -> None:
        """SPINCYCLE_JOBS_NO_CACHE=1 reads and writes no index."""
        env.observe(cache=False)
        env.observe(cache=False)
        assert not env.cache.exists()

    def test_broken_plugin_is_never_indexed(self, env: Env, tmp_path: Path) -> None:
        """While a plugin is broken no index is kept, so its error is reported as it happens."""
        env.assert_fresh()
        broken = {"plugin.py": "raise ImportError('needs libfoo')\n"}
        env.venv.install(write_project(tmp_path, "broken-jobs", "0.1", broken, "broken = broken_jobs.plugin"))
        first, second = env.observe(), env.observe()
        assert second["used_index"] is False
        assert "ImportError('needs libfoo')" in str(second["plugins"])
        assert first["plugins"] == second["plugins"] == env.observe(cache=False)["plugins"]
        assert env.index_files() == []


def test_refresh_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """refresh() discovers again, ignoring the index, and rewrites it for the next factory."""
    from spincycle_jobs import Factory  # noqa: PLC0415

    monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
    first, second = Factory(), Factory()
    assert [first.used_index, second.used_index] == [False, True]
    second.refresh()
    assert [second.used_index, Factory().used_index, Factory(cache=False).used_index] == [False, True, False]
    assert second.types() == first.types()


def _plant(path: Path, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite an index's rows with ``edit``, and its checksums to match, as anyone can."""
    header, entries, files, _, rows = path.read_bytes().split(b"\n", 4)
    rows = edit(rows)
    body = b"\n".join([b"", entries, files, json.dumps([len(rows), zlib.crc32(rows)]).encode()])
    fields = json.loads(header) | {"crc": zlib.crc32(body)}
    path.write_bytes(json.dumps(fields, separators=(",", ":")).encode() + body + b"\n" + rows)


def _index_at(folder: Path, name: str = "index-new.json") -> Any:
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    return _index.Index(str(folder / name), "key", [])


def _write(index: Any, plugins: list[Any] | None = None, types: list[Any] | None = None) -> bool:
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    snapshot = _index.Snapshot.of(plugins or [], types or [])
    written: bool = index.write(index.stamps(), {}, [], snapshot)
    return written


def test_stamps_longer_than_the_first_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index whose header and stamps do not fit in the first read is read on; its rows are found."""
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    monkeypatch.setattr(_index, "_HEAD_BYTES", 16)
    index = _index_at(tmp_path / "cache")
    plugin, row = _index.PluginRow("p", "dist", "1.0", "m", 0.5), _index.TypeRow("t", "p", "m:f", "m:f")
    assert _write(index, [plugin], [row])
    snapshot = index.read()
    assert snapshot is not None
    assert [snapshot.lookup("t"), snapshot.plugin("p")] == [row, plugin]


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    """Writing an index prunes the folder to the newest index files, and crashed writers' old files."""
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for i in range(_index.KEEP + 10):
        old = folder / f"index-{i:04d}.json"
        old.write_bytes(_index.MAGIC + b"...")
        os.utime(old, ns=(i * 10**9, i * 10**9))
    crashed, writing = folder / ".index-crashed.tmp", folder / ".index-writing.tmp"
    crashed.write_bytes(_index.MAGIC)
    writing.write_bytes(_index.MAGIC)
    os.utime(crashed, (0, 0))
    index = _index_at(folder)
    assert _write(index)
    names = sorted(p.name for p in folder.glob("index-*.json"))
    assert len(names) == _index.KEEP
    assert "index-new.json" in names
    assert "index-0000.json" not in names
    assert not crashed.exists()
    assert writing.exists()  # another process may be writing it right now
    assert index.read() is not None


def test_prune_deletes_only_its_own_files(tmp_path: Path) -> None:
    """Pruning never deletes a file this package did not write, whatever its name or age."""
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    folder = tmp_path / "shared-cache"
    folder.mkdir(mode=0o700)
    foreign = [folder / f"index-{i:04d}.json" for i in range(_index.KEEP + 5)]
    foreign += [folder / ".index-someone.tmp", folder / "index-link.json"]
    for path in foreign[:-1]:
        path.write_text('{"mine": "not spincycle-jobs"}')
        os.utime(path, (0, 0))
    foreign[-1].symlink_to(foreign[0])
    for i in range(_index.KEEP + 3):
        assert _write(_index_at(folder, f"index-ours-{i}.json"))
    assert all(p.is_symlink() or p.exists() for p in foreign)
    assert len(list(folder.glob("index-ours-*.json"))) <= _index.KEEP


def test_remove_deletes_only_its_own_index(tmp_path: Path) -> None:
    """An index that is no longer wanted is deleted only if this package wrote it, in a private folder."""
    folder = tmp_path / "cache"
    ours, theirs = _index_at(folder, "index-a.json"), _index_at(folder, "index-b.json")
    assert _write(ours)
    Path(theirs.path).write_text('{"someone": "else"}')
    ours.remove()
    theirs.remove()
    assert not Path(ours.path).exists()
    assert Path(theirs.path).exists()
    assert _write(ours)
    folder.chmod(0o777)
    ours.remove()
    assert Path(ours.path).exists()


class TestTrust:
    """An index is read only from a folder and a file that only this user owns and can write."""

    @pytest.fixture
    def written(self, tmp_path: Path) -> Any:
        index = _index_at(tmp_path / "cache")
        from spincycle_jobs._index import PluginRow  # noqa: PLC0415
        from spincycle_jobs._index import TypeRow  # noqa: PLC0415

        assert _write(index, [PluginRow("p", None, None, "m", 0.5)], [TypeRow("t", "p", "m:J", "m:J")])
        assert index.read() is not None
        return index

    @pytest.mark.parametrize(
        ("what", "mode"),
        [("folder", 0o770), ("folder", 0o707), ("folder", 0o1700), ("file", 0o620), ("file", 0o606)],
        ids=["group-writable", "world-writable", "sticky", "file-group-writable", "file-world-writable"],
    )
    def test_writable_by_others_is_not_read(self, written: Any, what: str, mode: int) -> None:
        """A folder or file others can write (group, world, sticky like /tmp) is never read."""
        path = Path(written.path) if what == "file" else Path(written.path).parent
        path.chmod(mode)
        assert written.read() is None

    def test_symlink_to_shared_folder_is_not_read(self, written: Any, tmp_path: Path) -> None:
        """A cache folder that is a symlink to a folder others can write is judged by that folder."""
        real = Path(written.path).parent
        link = tmp_path / "link"
        link.symlink_to(real)
        via_link = type(written)(str(link / Path(written.path).name), written.key, written.entries)
        assert via_link.read() is not None
        real.chmod(0o777)
        assert via_link.read() is None

    def test_symlinked_file_is_not_read(self, written: Any, tmp_path: Path) -> None:
        """An index file that is a symlink is not followed."""
        target = tmp_path / "elsewhere.json"
        target.write_bytes(Path(written.path).read_bytes())
        Path(written.path).unlink()
        Path(written.path).symlink_to(target)
        assert written.read() is None

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
    def test_fifo_is_not_waited_on(self, written: Any) -> None:
        """A FIFO where the index should be is no index: reading it does not wait for a writer."""
        Path(written.path).unlink()
        os.mkfifo(written.path, 0o600)
        found: list[Any] = []
        reader = threading.Thread(target=lambda: found.append(written.read()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        assert found == [None]

    @pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root"
    )
    @pytest.mark.parametrize("what", ["folder", "file"])
    def test_another_users_is_not_read(self, written: Any, what: str) -> None:
        """A folder or index file that another user owns is never read."""
        import pwd  # noqa: PLC0415 - POSIX only

        nobody = pwd.getpwnam("nobody")
        path = Path(written.path) if what == "file" else Path(written.path).parent
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        assert written.read() is None

    def test_factory_ignores_a_planted_index(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A well-formed index in a folder others can write does not decide what make imports."""
        from spincycle_jobs import Factory  # noqa: PLC0415

        folder = tmp_path / "shared"
        monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(folder))
        assert Factory().make("noop", "n").name() == "n"
        assert Factory().used_index is True
        (path,) = folder.glob("index-*.json")
        _plant(path, lambda rows: rows.replace(b"spincycle_jobs_example.noop:NoOp", b"tests.jobs:Echo"))
        assert type(Factory().make("noop", "n")).__name__ == "Echo"  # the user's own folder: trusted
        folder.chmod(0o777)
        factory = Factory()
        assert type(factory.make("noop", "n")).__name__ == "NoOp"
        assert factory.used_index is False


class TestDamage:
    def test_rows_replaced_after_the_check(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Rows read after the check are those the stamps were checked with: others mean discovery."""
        monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
        from spincycle_jobs import Factory  # noqa: PLC0415

        Factory().types()
        factory = Factory()
        assert factory.used_index is True  # checked; the rows are not read yet
        (path,) = (tmp_path / "cache").glob("index-*.json")
        _plant(path, lambda rows: rows.replace(b"spincycle_jobs_example.noop:NoOp", b"tests.jobs:Echo"))
        assert [type(factory.make("noop", "n")).__name__, factory.used_index] == ["NoOp", False]
        fresh = Factory()  # discovery above rewrote the index
        assert [type(fresh.make("noop", "n")).__name__, fresh.used_index] == ["NoOp", True]

    def test_folder_opened_to_others_after_the_check(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Rows are read under the stamps' trust rules: a folder opened to others since means discovery."""
        folder = tmp_path / "cache"
        monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(folder))
        from spincycle_jobs import Factory  # noqa: PLC0415

        Factory().types()
        factory = Factory()
        assert factory.used_index is True  # checked; the rows are not read yet
        folder.chmod(0o777)
        assert [type(factory.make("noop", "n")).__name__, factory.used_index] == ["NoOp", False]

    def test_deeply_nested_header(self, tmp_path: Path) -> None:
        """A header of deeply nested JSON is no index, not a RecursionError."""
        index = _index_at(tmp_path / "cache")
        assert _write(index)
        Path(index.path).write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
        assert index.read() is None

    @pytest.mark.parametrize(
        "row",
        [b"[" * 100_000, b'["noop", 1, 2]', b"not json", b'["noop","example","no target","x"]'],
        ids=["nested", "wrong-shape", "not-json", "bad-target"],
    )
    def test_damaged_row_means_discovery(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: bytes
    ) -> None:
        """A row that does not parse, even behind a valid checksum, means discovery again, not an error."""
        monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
        from spincycle_jobs import Factory  # noqa: PLC0415

        expected = Factory(cache=False).types()
        Factory().types()
        (path,) = (tmp_path / "cache").glob("index-*.json")

        def damage(rows: bytes) -> bytes:
            lines = rows.split(b"\n")
            at = next(i for i, line in enumerate(lines) if line.startswith(b'["noop",'))
            lines[at] = b'["noop",' + row if not row.startswith(b'["noop"') else row
            return b"\n".join(lines)

        _plant(path, damage)
        factory = Factory()
        assert factory.make("noop", "n").name() == "n"
        assert factory.types() == expected
        assert factory.used_index is False


def test_allow_deny_from_environment_are_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index built with SPINCYCLE_JOBS_DENY or _ALLOW set is never used without them, nor the reverse."""
    monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
    from spincycle_jobs import Factory  # noqa: PLC0415

    def names() -> list[str]:
        return [p.name for p in Factory().plugins()]

    assert "example" in names()
    monkeypatch.setenv("SPINCYCLE_JOBS_DENY", "spincycle-jobs-example")
    assert "example" not in names()
    assert "example" not in names()
    assert Factory().used_index is True
    monkeypatch.delenv("SPINCYCLE_JOBS_DENY")
    monkeypatch.setenv("SPINCYCLE_JOBS_ALLOW", "no-such-plugin")
    assert names() == []
    monkeypatch.delenv("SPINCYCLE_JOBS_ALLOW")
    assert "example" in names()
    assert Factory().used_index is True
    assert len(list((tmp_path / "cache").glob("index-*.json"))) == 3


def test_threads_on_a_warm_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """32 threads making types on a warm index, switching as often as possible, never see a false error."""
    monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
    from spincycle_jobs import Factory  # noqa: PLC0415

    Factory().types()
    kinds = [t.type for t in Factory().types()]
    errors: list[BaseException] = []
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(20):
            factory = Factory()
            barrier = threading.Barrier(32)

            def make(i: int, factory: Factory = factory, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    job_type = kinds[i % len(kinds)]
                    factory.make(job_type, f"j{i}")
                    if i % 8 == 0:
                        factory.types()
                except BaseException as err:  # noqa: BLE001 - collected for the assertion
                    errors.append(err)

            threads = [threading.Thread(target=make, args=(i,)) for i in range(32)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert factory.used_index is True
    finally:
        sys.setswitchinterval(before)
    assert errors == []


@settings(derandomize=True, database=None)
@given(data=st.binary(max_size=5000), offset=st.integers(0, 6000), size=st.integers(-1, 6000))
def test_read_regular_reads_what_a_file_object_reads(data: bytes, offset: int, size: int) -> None:
    """One open, fstat and read give what seek and read on a file object give, for any span."""
    from spincycle_jobs._files import read_regular  # noqa: PLC0415 - the function under test

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data)
        with path.open("rb") as src:
            src.seek(offset)
            expected = src.read(size)
        found = read_regular(str(path), offset, size)
        assert found is not None
        assert found[0] == expected
        assert found[1].st_ino == path.stat().st_ino


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_read_regular_reads_past_the_size_it_was_told() -> None:
    """A file longer than its stat says (it grew, or it is made as it is read) is read to its end."""
    from spincycle_jobs._files import read_regular  # noqa: PLC0415 - the function under test

    assert Path("/proc/self/status").stat().st_size == 0
    found = read_regular("/proc/self/status")
    assert found is not None
    assert b"\nPid:" in found[0]
    assert found[0].endswith(b"\n")


@settings(derandomize=True, database=None)
@given(
    types=st.dictionaries(
        st.text(min_size=1), st.tuples(st.sampled_from(["pkg.mod:Job", "m:f.g"]), st.text()), max_size=12
    ),
    plugins=st.lists(
        st.tuples(
            st.text(min_size=1),
            st.none() | st.text(),
            st.none() | st.text(),
            st.floats(min_value=0, max_value=1e9, allow_nan=False),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda p: p[0],
    ),
)
def test_any_name_is_found(
    types: dict[str, tuple[str, str]], plugins: list[tuple[str, str | None, str | None, float]]
) -> None:
    """Whatever a job type or plugin is called (quotes, newlines, any text), the index finds it, only it.

    And every field of every row reads back as written: no distribution or
    version (None), any load time, a target that is or is not the spec.
    """
    from spincycle_jobs import _index  # noqa: PLC0415 - the module under test

    with tempfile.TemporaryDirectory() as tmp:
        index = _index.Index(str(Path(tmp) / "cache" / "index-x.json"), "key", [])
        plugin_rows = [_index.PluginRow(name, dist, version, "mod", t) for name, dist, version, t in plugins]
        names = [p.name for p in plugin_rows]
        rows = [
            _index.TypeRow(t, names[len(t) % len(names)], spec, target or spec)
            for t, (spec, target) in types.items()
        ]
        assert index.write(index.stamps(), {}, [], _index.Snapshot.of(plugin_rows, rows))
        recorded = index.read()
        assert recorded is not None
        by_type = {row[0]: row for row in rows}
        by_plugin = {row.name: row for row in plugin_rows}
        for name in [*by_type, *by_plugin]:
            longer = name + "x"  # a name that only starts like a real one is not found as it
            assert recorded.lookup(name) == by_type.get(name)
            assert recorded.lookup(longer) == by_type.get(longer)
            assert recorded.plugin(name) == by_plugin.get(name)
            assert recorded.plugin(longer) == by_plugin.get(longer)
        assert recorded.all_types() == rows  # in the order discovery found them
        assert recorded.all_plugins() == plugin_rows
