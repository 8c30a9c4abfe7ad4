"""Discovery over really installed distributions: built, pip-installed into a real venv, then used."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import textwrap
from typing import TYPE_CHECKING
from typing import Any

import pytest

from .conftest import EXAMPLE
from .conftest import Venv
from .conftest import clean_env
from .conftest import pip
from .conftest import write_project
from .plugins import DISTRIBUTIONS
from .plugins import GOOD

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

PRELUDE = """\
import json, sys, threading
from spincycle_jobs import Factory, JobError

def failure(factory, job_type, job_name="j"):
    try:
        factory.make(job_type, job_name)
    except JobError as err:
        cause = err.__cause__
        return {"cls": type(err).__name__, "msg": str(err), "plugin": getattr(err, "plugin", None),
                "cause": type(cause).__name__ if cause else None}
    return None

def show(value):
    print(json.dumps(value))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Venv:
    """One venv with spincycle-jobs, the example plugin, and every test plugin, good and broken."""
    root = tmp_path_factory.mktemp("world")
    env = Venv(root / "venv", wheelhouse)
    projects = [write_project(root, *dist) for dist in DISTRIBUTIONS]
    env.install("spincycle-jobs", "spincycle-jobs-example", *projects)
    return env


def in_world(world: Venv, code: str, **env: str) -> Any:
    return world.run(PRELUDE + textwrap.dedent(code), **env)


#: Whether the factory finds the entry points of a group as importlib.metadata does.
SAME_AS_IMPORTLIB = """
    from importlib.metadata import entry_points as eps
    from spincycle_jobs._entrypoints import entry_points as found
    same = []
    for group in ("spincycle_jobs", "console_scripts", "no-such-group"):
        theirs = [[e.name, e.value, e.dist.metadata["Name"], e.dist.version] for e in eps(group=group)]
        ours = [[f.entry_point.name, f.entry_point.value, f.distribution, f.version] for f in found(group)]
        same.append(sorted(theirs) == sorted(ours))
    show(same)
    """


class TestBadPluginsTable:
    """Each row of the contract's table of what goes wrong, over installed distributions."""

    def test_import_failure_and_raising_hook_are_isolated(self, world: Venv) -> None:
        """A plugin that fails to import, or whose hook raises, costs only itself; plugins() shows why."""
        out = in_world(
            world,
            """
            f = Factory()
            errors = {p.name: f"{type(p.error).__name__}: {p.error}" for p in f.plugins() if p.error}
            show({"sleep": f.make("sleep", "nap").name(), "alpha": f.make("alpha", "a").name(),
                  "errors": errors, "unknown": failure(f, "delta")})
            """,
        )
        assert out["sleep"] == "nap"
        assert out["alpha"] == "a"
        assert out["errors"]["broken"] == "ImportError: needs libfoo, which is not installed"
        assert out["errors"]["raiser"] == "RuntimeError: inventory service down"
        unknown = out["unknown"]
        assert unknown["cls"] == "UnknownJobTypeError"
        assert unknown["msg"].startswith("unknown job type 'delta'")
        assert "'broken': ImportError: needs libfoo" in unknown["msg"]
        assert "'raiser': RuntimeError: inventory service down" in unknown["msg"]

    def test_conflict_fails_that_type_only(self, world: Venv) -> None:
        """Two plugins offering one type: make of it names both plugins and distributions."""
        out = in_world(world, "f = Factory(); show([failure(f, 'shared'), f.make('gamma', 'g').name()])")
        conflict, gamma = out
        assert conflict["cls"] == "PluginError"
        assert "job type 'shared' is offered by more than one plugin" in conflict["msg"]
        assert "plugin 'good' (good-jobs 1.0)" in conflict["msg"]
        assert "plugin 'other' (other-jobs 2.0)" in conflict["msg"]
        assert gamma == "g"

    def test_bad_hook_return_is_reported_with_name(self, world: Venv) -> None:
        """A hook that returns something other than a mapping marks that plugin broken, by name."""
        out = in_world(world, "show([[p.name, str(p.error)] for p in Factory().plugins() if p.error])")
        errors = dict(out)
        assert errors["badreturn"].startswith("plugin 'badreturn': spincycle_jobs_job_types() returned list")

    def test_hook_typo_is_reported(self, world: Venv) -> None:
        """A hook implementation that matches no hookspec is that plugin's error, never ignored."""
        out = in_world(world, "show({p.name: str(p.error) for p in Factory().plugins()})")
        assert "spincycle_jobs_job_typez, which matches no spincycle_jobs hook" in out["typo"]

    @pytest.mark.parametrize(
        ("job_type", "message"),
        [
            (
                "lazy-no-module",
                "names 'good_jobs.missing:Job' for job type 'lazy-no-module'.*ModuleNotFoundError",
            ),
            ("lazy-no-attr", "names 'good_jobs.alpha:Nope' for job type 'lazy-no-attr'.*AttributeError"),
        ],
        ids=["no-module", "no-attr"],
    )
    def test_lazy_string_failure(self, world: Venv, job_type: str, message: str) -> None:
        """A lazy string that does not import or names nothing fails its type, naming plugin and string."""
        out = in_world(world, f"f = Factory(); show([failure(f, {job_type!r}), f.make('beta', 'b').name()])")
        err, beta = out
        assert err["cls"] == "PluginError"
        assert err["plugin"] == "good"
        assert "plugin 'good' (good-jobs)" in err["msg"]
        assert re.search(message, err["msg"]), err["msg"]
        assert beta == "b"

    def test_unknown_type_suggests_closest(self, world: Venv) -> None:
        """An unknown type raises UnknownJobTypeError naming it and the closest known types."""
        out = in_world(world, "show(failure(Factory(), 'sleeep'))")
        assert out["cls"] == "UnknownJobTypeError"
        assert out["msg"].startswith("unknown job type 'sleeep'; did you mean 'sleep'?")

    @pytest.mark.parametrize(
        ("job_type", "message"),
        [
            ("not-a-job", "returned dict, not a Job"),
            ("wrong-name", "returned a job of type 'wrong-name' named 'j-x'"),
        ],
        ids=["non-job", "wrong-name"],
    )
    def test_constructor_returns_wrong_thing(self, world: Venv, job_type: str, message: str) -> None:
        """A constructor that returns a non-Job, or a job of the wrong name: a JobError naming the plugin."""
        err = in_world(world, f"show(failure(Factory(), {job_type!r}))")
        assert err["cls"] == "PluginError"
        assert err["plugin"] == "good"
        assert message in err["msg"]

    def test_constructor_raises(self, world: Venv) -> None:
        """A constructor that raises gives a JobError naming the plugin, the original as __cause__."""
        err = in_world(world, "show(failure(Factory(), 'ctor-raises'))")
        assert err["plugin"] == "good"
        assert err["cause"] == "LookupError"
        assert "raised LookupError: no inventory for j" in err["msg"]


class TestDiscovery:
    def test_records(self, world: Venv) -> None:
        """types() and plugins() carry entry-point name, distribution as spelled, and version."""
        out = in_world(
            world,
            """
            f = Factory()
            show({"types": {t.type: [t.plugin, t.distribution, t.version, t.target] for t in f.types()},
                  "plugins": [[p.name, p.distribution, p.version, p.error is None] for p in f.plugins()]})
            """,
        )
        assert out["types"]["sleep"] == [
            "example",
            "spincycle-jobs-example",
            "0.1.0",
            "spincycle_jobs_example.sleep:Sleep",
        ]
        assert out["types"]["gamma"] == ["other", "other-jobs", "2.0", "other_jobs.gamma.Gamma"]
        assert "shared" not in out["types"]
        assert out["plugins"] == [
            ["badreturn", "bad-return", "0.1", False],
            ["broken", "import-broken", "0.1", False],
            ["example", "spincycle-jobs-example", "0.1.0", True],
            ["good", "good-jobs", "1.0", True],
            ["other", "other-jobs", "2.0", True],
            ["raiser", "hook-raises", "0.1", False],
            ["typo", "typo-hook", "0.1", False],
        ]

    def test_make_imports_only_what_it_needs(self, world: Venv) -> None:
        """make of one type imports the hook modules and that job's module, never other job modules."""
        out = in_world(
            world,
            """
            f = Factory()
            f.make("alpha", "a")
            show(sorted(m for m in sys.modules if m.split(".")[0] in ("good_jobs", "spincycle_jobs_example")))
            """,
        )
        assert out == [
            "good_jobs",
            "good_jobs.alpha",
            "good_jobs.plugin",
            "spincycle_jobs_example",
            "spincycle_jobs_example.plugin",
        ]

    @pytest.mark.parametrize(
        ("kwargs", "expect"),
        [
            ("deny=['good']", {"good": False, "example": True}),
            ("deny=['Good_Jobs']", {"good": False, "example": True}),
            ("allow=['example']", {"good": False, "example": True, "other": False}),
            ("allow=['good-jobs', 'example']", {"good": True, "example": True, "other": False}),
        ],
        ids=["deny-entry-point", "deny-distribution-any-spelling", "allow-entry-point", "allow-distribution"],
    )
    def test_allow_deny(self, world: Venv, kwargs: str, expect: dict[str, bool]) -> None:
        """allow/deny match entry-point or distribution names; a skipped plugin is not imported nor listed."""
        out = in_world(
            world,
            f"""
            f = Factory({kwargs})
            names = [p.name for p in f.plugins()]
            show({{"names": names, "imported": "good_jobs" in sys.modules,
                   "types": [t.type for t in f.types()]}})
            """,
        )
        for name, present in expect.items():
            assert (name in out["names"]) is present
        assert out["imported"] is expect["good"]
        assert ("alpha" in out["types"]) is expect["good"]

    @pytest.mark.parametrize(
        ("kwargs", "env", "expect"),
        [
            ("", {"SPINCYCLE_JOBS_DENY": "good"}, {"good": False, "example": True}),
            (
                "",
                {"SPINCYCLE_JOBS_DENY": " Good_Jobs , other"},
                {"good": False, "other": False, "example": True},
            ),
            (
                "",
                {"SPINCYCLE_JOBS_ALLOW": "example,other-jobs"},
                {"good": False, "other": True, "example": True},
            ),
            ("allow=['good']", {"SPINCYCLE_JOBS_ALLOW": "example"}, {"good": True, "example": False}),
            (
                "deny=['other']",
                {"SPINCYCLE_JOBS_DENY": "good"},
                {"good": False, "other": False, "example": True},
            ),
            ("", {"SPINCYCLE_JOBS_ALLOW": "", "SPINCYCLE_JOBS_DENY": ""}, {"good": True, "example": True}),
        ],
        ids=["deny", "deny-spellings", "allow", "explicit-allow-wins", "deny-adds", "empty"],
    )
    def test_allow_deny_from_environment(
        self, world: Venv, kwargs: str, env: dict[str, str], expect: dict[str, bool]
    ) -> None:
        """SPINCYCLE_JOBS_ALLOW applies when allow is not given; SPINCYCLE_JOBS_DENY adds to deny."""
        code = f"""
            f = Factory({kwargs})
            show({{"names": [p.name for p in f.plugins()], "imported": "good_jobs" in sys.modules,
                   "used_index": f.used_index}})
            """
        for _ in range(2):  # building the index (where all plugins load cleanly), then reading it
            out = in_world(world, code, **env)
            for name, present in expect.items():
                assert (name in out["names"]) is present, (name, out)
            assert out["imported"] is (expect["good"] and not out["used_index"])

    def test_autoload_off(self, world: Venv) -> None:
        """autoload=False, or the environment variable, loads no entry point."""
        assert in_world(
            world, "show([len(Factory(autoload=False).plugins()), 'good_jobs' in sys.modules])"
        ) == [
            0,
            False,
        ]
        out = in_world(world, "show(len(Factory().plugins()))", SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD="1")
        assert out == 0

    def test_strict_raises_on_discovery(self, world: Venv) -> None:
        """strict=True (or SPINCYCLE_JOBS_STRICT=1) raises on the first broken installed plugin."""
        code = """
            try:
                Factory().types()
            except JobError as err:
                show(str(err))
            """
        out = in_world(world, code, SPINCYCLE_JOBS_STRICT="1")
        assert out == (
            "plugin 'badreturn' (bad-return) failed to load: "
            "plugin 'badreturn': spincycle_jobs_job_types() returned list, expected a mapping of job type "
            "(str) to a Job class, a callable or a 'module:attr' string"
        )

    def test_explicit_registration_beside_installed(self, world: Venv) -> None:
        """A plugin registered in-process sits beside installed ones."""
        out = in_world(
            world,
            """
            import types
            from spincycle_jobs import hookimpl
            mine = types.ModuleType("mine")
            mine.spincycle_jobs_job_types = hookimpl(lambda: {"mine": "spincycle_jobs_example.noop:NoOp"})
            f = Factory(plugins=[mine], allow=["example"])
            show([t.type for t in f.types()])
            """,
        )
        assert out == ["mine", "noop", "set-args", "shell-command", "sleep"]

    def test_threads_race_first_make(self, world: Venv) -> None:
        """16 threads racing the first make: every make works, each hook runs once."""
        out = in_world(
            world,
            """
            f = Factory()
            barrier = threading.Barrier(16)
            names = []
            def go(i):
                barrier.wait()
                names.append(f.make("alpha" if i % 2 else "sleep", f"j{i}").name())
            threads = [threading.Thread(target=go, args=(i,)) for i in range(16)]
            for t in threads: t.start()
            for t in threads: t.join()
            import good_jobs.plugin
            show([sorted(names), len(good_jobs.plugin.CALLS)])
            """,
        )
        assert out == [sorted(f"j{i}" for i in range(16)), 1]

    def test_deterministic_across_processes(self, world: Venv) -> None:
        """The same installed set gives the same listing in every process."""
        code = "f = Factory(); show([repr(f.types()), [[p.name, str(p.error)] for p in f.plugins()]])"
        runs = [in_world(world, code, PYTHONHASHSEED=str(seed)) for seed in (1, 2, 3)]
        assert runs[0] == runs[1] == runs[2]

    def test_distribution_visible_twice_counts_once(self, world: Venv, tmp_path: Path) -> None:
        """A distribution on sys.path twice counts once, the first as import would pick it: no conflict."""
        target = tmp_path / "extra"
        project = write_project(tmp_path, "good-jobs", "1.5", GOOD, "good = good_jobs.plugin")
        pip(
            "install",
            "--no-deps",
            "--no-index",
            "--find-links",
            world.wheelhouse,
            "--target",
            target,
            project,
        )
        code = """
            f = Factory()
            import good_jobs
            show([[p.version for p in f.plugins() if p.name == "good"], f.make("alpha", "a").name(),
                  f.conflicts() == [] or [c[0].type for c in f.conflicts()], good_jobs.__file__])
            """
        versions, name, conflicts, module_file = in_world(world, code, PYTHONPATH=str(target))
        assert versions == ["1.5"]
        assert name == "a"
        assert conflicts == ["shared"]  # the conflict with other-jobs, not one with itself
        assert module_file.startswith(str(target))
        zipped = tmp_path / "plugins.zip"  # and one more copy, in a zip, which importlib.metadata reads
        shutil.make_archive(str(zipped.with_suffix("")), "zip", target)
        assert in_world(world, SAME_AS_IMPORTLIB, PYTHONPATH=f"{target}:{zipped}") == [True, True, True]

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
    def test_fifo_metadata_is_not_waited_on(self, world: Venv, tmp_path: Path) -> None:
        """A distribution whose entry_points.txt is a FIFO is passed over, the others found; nothing hangs."""
        target = tmp_path / "odd"
        (target / "odd_jobs-1.0.dist-info").mkdir(parents=True)
        (target / "odd_jobs-1.0.dist-info" / "METADATA").write_text("Name: odd-jobs\nVersion: 1.0\n")
        os.mkfifo(target / "odd_jobs-1.0.dist-info" / "entry_points.txt")
        code = "f = Factory(); show([sorted(p.name for p in f.plugins()), f.make('alpha', 'a').name()])"
        for no_cache in ("0", "1"):  # with the index, then without
            names, name = in_world(world, code, PYTHONPATH=str(target), SPINCYCLE_JOBS_NO_CACHE=no_cache)
            assert "good" in names
            assert name == "a"

    def test_call_sequence_across_processes(self, world: Venv) -> None:
        """create and serialize in one process; make, deserialize and run in another."""
        blob = in_world(
            world,
            """
            import base64
            job = Factory().make("shell-command", "hello")
            args = {"cmd": "echo", "args": "hello world"}
            job.create(args)
            show(base64.b64encode(job.serialize()).decode())
            """,
        )
        out = in_world(
            world,
            f"""
            import base64
            job = Factory().make("shell-command", "hello")
            job.deserialize(base64.b64decode({blob!r}))
            ret = job.run({{}})
            show([ret.state.name, ret.exit, ret.stdout])
            """,
        )
        assert (
            json.loads(base64.b64decode(blob)).items() >= {"args": ["hello", "world"], "cmd": "echo"}.items()
        )
        assert out == ["COMPLETE", 0, "hello world\n"]


class TestCommandLineOnBrokenPlugins:
    def test_doctor(self, world: Venv) -> None:
        """doctor names each broken plugin with its error and origin, and each conflict; it exits 1."""
        proc = subprocess.run(
            [world.script("spincycle-jobs"), "doctor", "--json"],
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        assert proc.returncode == 1
        report = json.loads(proc.stdout)
        plugins = {p["name"]: p for p in report["plugins"]}
        assert plugins["broken"]["error"] == "ImportError: needs libfoo, which is not installed"
        assert plugins["broken"]["origin"].endswith("import_broken/plugin.py:1")
        assert plugins["raiser"]["origin"].endswith("hook_raises/plugin.py:5")
        assert "matches no spincycle_jobs hook" in plugins["typo"]["error"]
        assert plugins["example"]["error"] is None
        assert all(p["load_ms"] >= 0 for p in plugins.values())
        (conflict,) = report["conflicts"]
        assert {c["plugin"] for c in conflict} == {"good", "other"}

    def test_list_shows_what_is_wrong(self, world: Venv) -> None:
        """list shows the types that work, the conflicts and the broken plugins."""
        proc = subprocess.run(
            [world.script("spincycle-jobs"), "list"],
            capture_output=True,
            text=True,
            check=True,
            env=clean_env(),
        )
        assert "conflict: 'shared' is offered by good, other" in proc.stdout
        assert "broken plugin 'broken' (import-broken): needs libfoo" in proc.stdout
        assert any(line.split()[:2] == ["sleep", "example"] for line in proc.stdout.splitlines())


class TestInstallKinds:
    def test_editable_plugin(self, make_venv: Any, tmp_path: Path) -> None:
        """An editable install is discovered, and edits to its job module take effect."""
        env = make_venv()
        project = write_project(tmp_path, "good-jobs", "1.0", GOOD, "good = good_jobs.plugin")
        env.install("spincycle-jobs")
        env.install(project, editable=True)
        code = (
            PRELUDE
            + "job = Factory().make('alpha', 'a'); job.create({'text': 'x'}); show(job.run({}).stdout)"
        )
        assert env.run(code) == "x"
        alpha = project / "good_jobs" / "alpha.py"
        alpha.write_text(alpha.read_text().replace("stdout=self.text", "stdout=self.text * 2"))
        assert env.run(code) == "xx"

    def test_example_from_wheel_and_uninstall(self, make_venv: Any) -> None:
        """The example plugin installed from its wheel is found; uninstalled, it is gone."""
        env = make_venv()
        env.install("spincycle-jobs", EXAMPLE)
        code = PRELUDE + "show([t.type for t in Factory().types()])"
        assert env.run(code) == ["noop", "set-args", "shell-command", "sleep"]
        env.uninstall("spincycle-jobs-example")
        assert env.run(code) == []
        assert shutil.which("python", path=str(env.path / "bin"))
