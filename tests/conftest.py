"""Fixtures that build real distributions and install them into real virtual environments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
from hypothesis import settings

from .pg import postgres_server  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins_example"


def pip(*args: str | Path) -> None:
    """Run this environment's pip quietly, raising with its output on failure."""
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this package's settings (but the test cache folder) or the Python path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPINCYCLE_JOBS_", "PYTHON", "COV"))}
    return env | {"SPINCYCLE_JOBS_CACHE_DIR": os.environ["SPINCYCLE_JOBS_CACHE_DIR"]} | extra


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep every index the tests write in a folder of their own, never in the user's cache."""
    before = os.environ.get("SPINCYCLE_JOBS_CACHE_DIR")
    os.environ["SPINCYCLE_JOBS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache") / "spincycle-jobs")
    yield
    if before is None:
        del os.environ["SPINCYCLE_JOBS_CACHE_DIR"]
    else:
        os.environ["SPINCYCLE_JOBS_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test a default run store of its own (in ``$XDG_STATE_HOME``), never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("SPINCYCLE_JOBS_STORE", raising=False)


class Venv:
    """A real virtual environment, filled from the wheelhouse only."""

    def __init__(self, path: Path, wheelhouse: Path) -> None:
        venv.create(path, with_pip=False)
        self.path = path
        self.python = path / "bin" / "python"
        self.wheelhouse = wheelhouse

    def install(self, *requirements: str | Path, editable: bool = False) -> None:
        """Install requirements or project folders (``editable`` for ``pip install -e``)."""
        args: list[str | Path] = []
        for req in requirements:
            args += ["-e", req] if editable else [req]
        pip("--python", self.python, "install", "--no-index", "--find-links", self.wheelhouse, *args)

    def uninstall(self, *names: str) -> None:
        """Uninstall distributions by name."""
        pip("--python", self.python, "uninstall", "-y", *names)

    def run(self, code: str, **env: str) -> Any:
        """Run ``code`` in this venv's Python; it prints one JSON value as its last line."""
        proc = self.popen(code, **env)
        out, err = proc.communicate(timeout=120)
        if proc.returncode:
            pytest.fail(f"python failed ({proc.returncode}):\n{out}\n{err}")
        return json.loads(out.splitlines()[-1])

    def popen(self, code: str, **env: str) -> subprocess.Popen[str]:
        """Start ``code`` in this venv's Python, with pipes."""
        return subprocess.Popen(
            [self.python, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(**env),
        )

    def script(self, name: str) -> Path:
        """The path of an installed console script."""
        return self.path / "bin" / name


def write_project(where: Path, name: str, version: str, files: dict[str, str], entry_point: str = "") -> Path:
    """Write a plugin project: a pyproject.toml for ``name`` and its package ``files``.

    :param entry_point: ``"ep_name = module"`` for the ``spincycle_jobs`` group.
    """
    root = where / f"{name}-{version}"
    package = name.replace("-", "_").lower()
    ep_name, _, ep_value = entry_point.partition("=")
    eps = (
        f'[project.entry-points.spincycle_jobs]\n{ep_name.strip()} = "{ep_value.strip()}"\n'
        if entry_point
        else ""
    )
    files = {"__init__.py": "", **files}
    for rel, text in files.items():
        path = root / package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        version = "{version}"
        dependencies = ["spincycle-jobs"]

        [tool.hatch.build.targets.wheel]
        packages = ["{package}"]
        """)
        + eps
    )
    return root


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of spincycle-jobs, the example plugin, their dependencies and the build backend."""
    path = tmp_path_factory.mktemp("wheelhouse")
    pip("download", "--only-binary=:all:", "-d", path, "pluggy", "attrs", "hatchling", "editables", "pytest")
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", path, ROOT, EXAMPLE)
    return path


@pytest.fixture
def make_venv(tmp_path: Path, wheelhouse: Path) -> Any:
    """Make a new venv under this test's temporary folder."""

    def make(name: str = "venv") -> Venv:
        return Venv(tmp_path / name, wheelhouse)

    return make


# Property tests are deterministic: the same examples on every run, and no example database, so a
# new random example never fails a run by chance. ``--hypothesis-profile=explore`` hunts for new ones.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("deterministic")


def live_processes() -> list[tuple[int, str, list[str]]]:
    """Every live (not zombie) process: its pid, its command line (NULs as spaces) and its stat fields.

    The stat fields start after the command name, with the state; a command
    line that is not UTF-8 is decoded with replacement characters.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and fields[0] != "Z":
            found.append((int(entry.name), cmdline, fields))
    return found


def stderr_on_a_terminal(args: list[str], until: bytes, timeout: float = 60.0) -> bytes:
    """Run the command line with ``args``, its stderr a terminal, until it prints ``until``; it must exit 0.

    :returns: what it printed on stderr.
    """
    import pty  # noqa: PLC0415 - only these tests need a terminal
    import select  # noqa: PLC0415

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spincycle_jobs", *args], stdout=subprocess.PIPE, stderr=slave, env=clean_env()
    )
    os.close(slave)
    seen = b""
    try:
        while until not in seen:
            ready, _, _ = select.select([master], [], [], timeout)
            assert ready, f"not printed within {timeout} s: {until!r}; printed: {seen!r}"
            seen += os.read(master, 4096)
        assert proc.wait(timeout=timeout) == 0
    finally:
        proc.kill()
        proc.communicate()
        os.close(master)
    return seen
