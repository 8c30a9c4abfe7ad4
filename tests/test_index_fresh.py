"""The index never lies: after each way of changing what is installed, a new process sees it.

Each test changes a real venv the way an installer or a developer does, then
checks that a new process gives the answer ``SPINCYCLE_JOBS_NO_CACHE=1`` gives,
and that an unchanged environment uses the index again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import Venv
from .conftest import clean_env
from .conftest import pip
from .conftest import write_project
from .plugins import JOB

pytestmark = pytest.mark.slow

OBSERVE = """\
import json
from spincycle_jobs import Factory, JobError
f = Factory()
def outcome(job_type):
    try:
        return type(f.make(job_type, "j")).__name__
    except JobError as err:
        return type(err).__name__
seen = {
    "types": [repr(t) for t in f.types()],
    "plugins": [[p.name, p.distribution, p.version, repr(p.error)] for p in f.plugins()],
    "conflicts": repr(f.conflicts()),
    "made": {t: outcome(t) for t in ("alpha", "beta", "gamma", "delta", "sleep")},
    "used_index": f.used_index,
}
print(json.dumps(seen))
"""


def table_plugin(package: str, types: dict[str, str]) -> dict[str, str]:
    """A plugin whose hook module imports its table of job types from another module."""
    return {
        "plugin.py": f"""\
            from spincycle_jobs import hookimpl
            from {package}.table import TYPES

            @hookimpl
            def spincycle_jobs_job_types():
                return dict(TYPES)
            """,
        "table.py": f"TYPES = {types!r}\n",
        "job.py": JOB.format(name="Job"),
    }


def offering(package: str, *types: str) -> dict[str, str]:
    """The table of a plugin in ``package`` that offers ``types``, all made by its ``Job``."""
    return dict.fromkeys(types, f"{package}.job:Job")


class Site:
    """A venv shared by the tests of this module, and what each test adds to how it runs."""

    def __init__(self, venv: Venv, root: Path) -> None:
        self.venv = venv
        self.root = root

    def site_packages(self) -> Path:
        (path,) = (self.venv.path / "lib").glob("python*/site-packages")
        return path

    def run(self, cache: Path, *, cwd: Path | None = None, **env: str) -> dict[str, Any]:
        """Run :data:`OBSERVE` as ``python -c`` in a new process, in ``cwd``."""
        proc = subprocess.run(
            [self.venv.python, "-c", OBSERVE],
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd or self.root,
            env=clean_env(SPINCYCLE_JOBS_CACHE_DIR=str(cache), **env),
            timeout=120,
        )
        if proc.returncode:
            pytest.fail(f"python failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
        return result

    def assert_fresh(self, cache: Path, *, cwd: Path | None = None, **env: str) -> dict[str, Any]:
        """Run with the index (it may rebuild, then must be warm) and without; all give one answer."""
        first = self.run(cache, cwd=cwd, **env)
        warm = self.run(cache, cwd=cwd, **env)
        fresh = self.run(cache, cwd=cwd, SPINCYCLE_JOBS_NO_CACHE="1", **env)
        answer = {k: v for k, v in fresh.items() if k != "used_index"}
        assert {k: v for k, v in first.items() if k != "used_index"} == answer
        assert {k: v for k, v in warm.items() if k != "used_index"} == answer
        assert warm["used_index"] is True
        return warm


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Site:
    root = tmp_path_factory.mktemp("fresh")
    venv = Venv(root / "venv", wheelhouse)
    venv.install("spincycle-jobs", "spincycle-jobs-example")
    return Site(venv, root)


@pytest.fixture(scope="module")
def setuptools_wheels(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A wheelhouse with setuptools too, for projects built with it."""
    path = tmp_path_factory.mktemp("setuptools-wheels")
    for wheel in wheelhouse.iterdir():
        shutil.copy(wheel, path)
    pip("download", "--only-binary=:all:", "-d", path, "setuptools>=64")
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def install(site: Site, *args: str | Path, links: Path | None = None) -> None:
    """pip install into the shared venv, from the wheelhouse only."""
    links = links or site.venv.wheelhouse
    pip("--python", site.venv.python, "install", "--no-index", "--find-links", links, *args)


def build(project: Path, out: Path, links: Path) -> Path:
    """Build ``project``'s wheel into ``out``; return it."""
    before = set(out.glob("*.whl")) if out.exists() else set()
    pip("wheel", "--no-deps", "--no-index", "--find-links", links, "-w", out, project)
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


def test_pip_install_upgrade_uninstall(site: Site, cache: Path, tmp_path: Path) -> None:
    """pip: an install, an upgrade that adds a type, and an uninstall are each seen at once."""
    site.assert_fresh(cache)
    table = offering("pip_jobs", "alpha")
    install(
        site,
        write_project(tmp_path, "pip-jobs", "1.0", table_plugin("pip_jobs", table), "pipj = pip_jobs.plugin"),
    )
    assert site.assert_fresh(cache)["made"]["alpha"] == "Job"
    table = offering("pip_jobs", "alpha", "beta")
    install(
        site,
        write_project(tmp_path, "pip-jobs", "2.0", table_plugin("pip_jobs", table), "pipj = pip_jobs.plugin"),
    )
    assert site.assert_fresh(cache)["made"]["beta"] == "Job"
    site.venv.uninstall("pip-jobs")
    assert site.assert_fresh(cache)["made"]["alpha"] == "UnknownJobTypeError"


def test_uv_install_upgrade_uninstall(site: Site, cache: Path, tmp_path: Path) -> None:
    """uv: an install, an upgrade and an uninstall are each seen at once."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: it comes with the test extra, pip install -e '.[test]'")
    common = [
        "--python",
        str(site.venv.python),
        "--offline",
        "--no-index",
        "--find-links",
        str(site.venv.wheelhouse),
    ]

    def uv_pip(*args: str | Path) -> None:
        cmd = [uv, "pip", *map(str, args)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=clean_env())
        if proc.returncode:
            pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")

    for version, types in [("1.0", ("gamma",)), ("2.0", ("gamma", "delta"))]:
        table = offering("uv_jobs", *types)
        project = write_project(
            tmp_path, "uv-jobs", version, table_plugin("uv_jobs", table), "uvj = uv_jobs.plugin"
        )
        uv_pip("install", *common, project)
        made = site.assert_fresh(cache)["made"]
        assert [made["gamma"], made["delta"]] == ["Job", "Job" if len(types) == 2 else "UnknownJobTypeError"]
    uv_pip("uninstall", "--python", str(site.venv.python), "uv-jobs")
    assert site.assert_fresh(cache)["made"]["gamma"] == "UnknownJobTypeError"


SETUPTOOLS_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"
dependencies = ["spincycle-jobs"]

[project.entry-points.spincycle_jobs]
{ep} = "{package}.plugin"

[tool.setuptools.packages.find]
where = ["{where}"]
"""


def setuptools_project(
    where: Path, name: str, ep: str, files: dict[str, str], *, src: bool
) -> tuple[Path, Path]:
    """Write a project built with setuptools; return it and its package folder."""
    package = name.replace("-", "_")
    root = where / name
    code = root / "src" if src else root
    for rel, text in {"__init__.py": "", **files}.items():
        (code / package).mkdir(parents=True, exist_ok=True)
        (code / package / rel).write_text(textwrap.dedent(text))
    pyproject = SETUPTOOLS_PYPROJECT.format(name=name, ep=ep, package=package, where="src" if src else ".")
    (root / "pyproject.toml").write_text(pyproject)
    return root, code / package


@pytest.mark.parametrize("backend", ["setuptools", "hatchling"])
def test_editable_table_module_changes(
    site: Site, cache: Path, tmp_path: Path, setuptools_wheels: Path, backend: str
) -> None:
    """An editable plugin whose hook imports its table of types: an edit of the table is seen at once."""
    name = f"ed-{backend}"
    package = name.replace("-", "_")
    files = table_plugin(package, offering(package, "alpha"))
    if backend == "setuptools":
        project, code = setuptools_project(tmp_path, name, "ed", files, src=False)
    else:
        project = write_project(tmp_path, name, "1.0", files, f"ed = {package}.plugin")
        code = project / package
    install(site, "-e", project, links=setuptools_wheels)
    try:
        assert site.assert_fresh(cache)["made"]["alpha"] == "Job"
        (code / "table.py").write_text(f"TYPES = {offering(package, 'alpha', 'beta')!r}\n")
        assert site.assert_fresh(cache)["made"]["beta"] == "Job"
    finally:
        site.venv.uninstall(name)


def test_src_layout_egg_info_on_pythonpath(site: Site, cache: Path, tmp_path: Path) -> None:
    """A src layout whose egg-info sits beside the code on PYTHONPATH: an edit of its table is seen."""
    pytest.importorskip("setuptools", reason="writing an egg-info needs setuptools in the test environment")
    files = table_plugin("src_jobs", offering("src_jobs", "gamma"))
    project, code = setuptools_project(tmp_path, "src-jobs", "srcj", files, src=True)
    egg_info = [sys.executable, "-c", "from setuptools import setup; setup()", "egg_info"]
    subprocess.run(egg_info, cwd=project, check=True, capture_output=True)
    assert (project / "src" / "src_jobs.egg-info" / "entry_points.txt").exists()
    path = str(project / "src")
    assert site.assert_fresh(cache, PYTHONPATH=path)["made"]["gamma"] == "Job"
    (code / "table.py").write_text(f"TYPES = {offering('src_jobs', 'gamma', 'delta')!r}\n")
    assert site.assert_fresh(cache, PYTHONPATH=path)["made"]["delta"] == "Job"


def test_target_and_pythonpath(site: Site, cache: Path, tmp_path: Path) -> None:
    """pip --target into a folder on PYTHONPATH: an install and an upgrade there are seen."""
    target = tmp_path / "target"
    for version, types in [("1.0", ("alpha",)), ("2.0", ("alpha", "delta"))]:
        files = table_plugin("tgt_jobs", offering("tgt_jobs", *types))
        project = write_project(tmp_path, "tgt-jobs", version, files, "tgt = tgt_jobs.plugin")
        links = site.venv.wheelhouse
        pip(
            "install",
            "--no-deps",
            "--no-index",
            "--find-links",
            links,
            "--upgrade",
            "--target",
            target,
            project,
        )
        made = site.assert_fresh(cache, PYTHONPATH=str(target))["made"]
        assert made["delta"] == ("Job" if version == "2.0" else "UnknownJobTypeError")


def test_plugin_in_a_zip(site: Site, cache: Path, tmp_path: Path) -> None:
    """A plugin inside a zip on sys.path is discovered and indexed; a new zip in its place is seen."""
    zipped = tmp_path / "plugins.zip"
    for version, types in [("1.0", ("gamma",)), ("2.0", ("gamma", "beta"))]:
        files = table_plugin("zip_jobs", offering("zip_jobs", *types))
        project = write_project(tmp_path, "zip-jobs", version, files, "zipj = zip_jobs.plugin")
        wheel = build(project, tmp_path / f"wheels-{version}", site.venv.wheelhouse)
        shutil.copy(wheel, zipped)  # a pure wheel is a zip that imports
        made = site.assert_fresh(cache, PYTHONPATH=str(zipped))["made"]
        assert [made["gamma"], made["beta"]] == ["Job", "Job" if version == "2.0" else "UnknownJobTypeError"]


@pytest.mark.parametrize("how", ["pip-ignore-installed", "unzip-over"])
def test_same_version_reinstall_over_the_files(site: Site, cache: Path, tmp_path: Path, how: str) -> None:
    """The same version installed again over its files, with another type, is seen at once."""
    name, package = f"re-{how}", f"re_{how.replace('-', '_')}"
    first = write_project(
        tmp_path / "1",
        name,
        "1.0",
        table_plugin(package, offering(package, "alpha")),
        f"re = {package}.plugin",
    )
    install(site, first)
    try:
        assert site.assert_fresh(cache)["made"]["beta"] == "UnknownJobTypeError"
        files = table_plugin(package, offering(package, "alpha", "beta"))
        again = write_project(tmp_path / "2", name, "1.0", files, f"re = {package}.plugin")
        if how == "pip-ignore-installed":
            install(site, "--no-deps", "--ignore-installed", again)
        else:
            with zipfile.ZipFile(build(again, tmp_path / "wheels", site.venv.wheelhouse)) as wheel:
                wheel.extractall(site.site_packages())
        assert site.assert_fresh(cache)["made"]["beta"] == "Job"
    finally:
        site.venv.uninstall(name)


def test_upgrade_with_folder_mtime_restored(site: Site, cache: Path, tmp_path: Path) -> None:
    """An upgrade after which site-packages gets its old modification time back (rsync -a, tar) is seen."""
    name = "mtime-jobs"
    for version, types in [("1.0", ("alpha",)), ("2.0", ("alpha", "gamma"))]:
        files = table_plugin("mtime_jobs", offering("mtime_jobs", *types))
        before = site.site_packages().stat()
        install(site, write_project(tmp_path, name, version, files, "mt = mtime_jobs.plugin"))
        os.utime(site.site_packages(), ns=(before.st_atime_ns, before.st_mtime_ns))
        made = site.assert_fresh(cache)["made"]
        assert made["gamma"] == ("Job" if version == "2.0" else "UnknownJobTypeError")
    site.venv.uninstall(name)


RACER = """\
import os, subprocess
from spincycle_jobs import hookimpl

@hookimpl
def spincycle_jobs_job_types():
    marker = os.environ["RACE_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        # Another distribution is installed while discovery runs, after the entry points were read.
        subprocess.run(os.environ["RACE_INSTALL"].split("\\x1f"), check=True, capture_output=True)
    return {"sleep2": "spincycle_jobs_example.sleep:Sleep"}
"""


def test_install_racing_discovery(site: Site, cache: Path, tmp_path: Path) -> None:
    """A distribution installed while a process discovers is not recorded as seen; the next one sees it."""
    install(site, write_project(tmp_path, "racer", "1.0", {"plugin.py": RACER}, "racer = racer.plugin"))
    late = write_project(
        tmp_path,
        "late-jobs",
        "1.0",
        table_plugin("late_jobs", offering("late_jobs", "delta")),
        "late = late_jobs.plugin",
    )
    wheel = build(late, tmp_path / "wheels", site.venv.wheelhouse)
    command = [
        sys.executable,
        "-m",
        "pip",
        "-q",
        "--python",
        str(site.venv.python),
        "install",
        "--no-deps",
        str(wheel),
    ]
    marker, race = str(tmp_path / "raced"), "\x1f".join(command)
    try:
        during = site.run(cache, RACE_MARKER=marker, RACE_INSTALL=race)
        assert during["made"]["delta"] == "UnknownJobTypeError"  # its entry point was read before the install
        assert not list(cache.glob("index-*.json"))  # so nothing was recorded
        assert site.assert_fresh(cache, RACE_MARKER=marker, RACE_INSTALL=race)["made"]["delta"] == "Job"
    finally:
        site.venv.uninstall("racer", "late-jobs")


TOUCHER = """\
import os
from spincycle_jobs import hookimpl

@hookimpl
def spincycle_jobs_job_types():
    path = os.environ.get("TOUCH_FILE")
    if path:  # rewritten in place, the same bytes: only its stat tells
        with open(path, "r+b") as file:
            data = file.read()
            file.seek(0)
            file.write(data)
    return {"sleep2": "spincycle_jobs_example.sleep:Sleep"}
"""


def test_file_changed_while_discovering(site: Site, cache: Path, tmp_path: Path) -> None:
    """A stamped file changed while a process discovers is not recorded as seen; the next one records it."""
    project = write_project(tmp_path, "toucher", "1.0", {"plugin.py": TOUCHER}, "toucher = toucher.plugin")
    install(site, project)
    try:
        (record,) = site.site_packages().glob("toucher-1.0.dist-info/RECORD")
        assert site.run(cache, TOUCH_FILE=str(record))["used_index"] is False
        assert not list(cache.glob("index-*.json"))
        site.assert_fresh(cache)
    finally:
        site.venv.uninstall("toucher")


def test_working_folder(site: Site, cache: Path, tmp_path: Path) -> None:
    """python -c in any folder without distributions shares one index; files written there change nothing."""
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    site.assert_fresh(cache, cwd=folders[0])
    (folders[1] / "notes.txt").write_text("a job's output")
    assert site.run(cache, cwd=folders[1])["used_index"] is True
    (folders[0] / "more.txt").write_text("more output")
    assert site.run(cache, cwd=folders[0])["used_index"] is True
    assert len(list(cache.glob("index-*.json"))) == 1
