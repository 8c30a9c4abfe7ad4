from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from spincycle_jobs import Factory
from spincycle_jobs import JobError
from spincycle_jobs import JobFactory
from spincycle_jobs import PluginError
from spincycle_jobs import UnknownJobTypeError
from spincycle_jobs import hookimpl

from .jobs import Echo
from .jobs import offering


def factory(*plugins: object, **kwargs: Any) -> Factory:
    return Factory(autoload=False, plugins=plugins, **kwargs)


class Typo:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_typez() -> dict[str, Any]:
        return {"echo": Echo}


class NoHook:
    @staticmethod
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"echo": Echo}


class Raises:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        msg = "database down"
        raise RuntimeError(msg)


class TestMake:
    @pytest.mark.parametrize(
        "constructor",
        [Echo, lambda t, n: Echo(t, n), "tests.jobs:Echo"],
        ids=["class", "callable", "lazy-string"],
    )
    def test_make_each_kind_of_constructor(self, constructor: Any) -> None:
        """A class, a callable and a lazy string all make a blank job of the type and name asked."""
        job = factory(offering(echo=constructor)).make("echo", "e1")
        assert isinstance(job, Echo)
        assert (job.type(), job.name()) == ("echo", "e1")

    def test_make_returns_new_jobs(self) -> None:
        """Each make returns a new job; Factory is a JobFactory."""
        f = factory(offering(echo=Echo))
        assert isinstance(f, JobFactory)
        assert f.make("echo", "a") is not f.make("echo", "a")

    def test_unknown_type_suggests(self) -> None:
        """An unknown type raises UnknownJobTypeError naming it and the closest types."""
        f = factory(offering(echo=Echo, sleep=Echo))
        with pytest.raises(UnknownJobTypeError, match="^unknown job type 'slep'; did you mean 'sleep'\\?$"):
            f.make("slep", "x")

    def test_unknown_type_suggests_types_that_contain_it(self) -> None:
        """A part of a type's name, too far from it for a close match, still suggests it."""
        f = factory(offering(**{"shell-command": Echo, "sleep": Echo}))
        with pytest.raises(UnknownJobTypeError, match="did you mean 'shell-command'\\?$"):
            f.make("shell", "x")

    def test_type_info_looks_up_one_type(self) -> None:
        """type_info returns what types() lists for that type, and raises as make does."""
        f = factory(offering(echo=Echo, sleep=Echo))
        assert f.type_info("echo") == next(t for t in f.types() if t.type == "echo")
        with pytest.raises(UnknownJobTypeError, match="did you mean 'sleep'"):
            f.type_info("slep")

    def test_unknown_type_names_failed_plugins(self) -> None:
        """The unknown-type error says which plugins failed to load, and why."""
        f = factory(offering(echo=Echo), Raises)
        with pytest.raises(UnknownJobTypeError, match="plugins that failed to load: 'Raises': RuntimeError"):
            f.make("mystery", "x")

    @pytest.mark.parametrize(
        ("constructor", "message"),
        [
            (lambda t, n: None, "returned NoneType, not a Job"),
            (lambda t, n: Echo(t, "other"), "returned a job of type 'bad' named 'other'"),
            (lambda t, n: Echo("other", n), "returned a job of type 'other' named 'b1'"),
            ("json:loads", "raised TypeError"),
        ],
        ids=["none", "wrong-name", "wrong-type", "wrong-signature"],
    )
    def test_bad_constructor_result(self, constructor: Any, message: str) -> None:
        """A constructor returning no Job, or one of another name or type: a JobError naming the plugin."""
        f = factory(offering(bad=constructor), offering(good=Echo))
        with pytest.raises(PluginError, match=message) as info:
            f.make("bad", "b1")
        assert info.value.plugin == "offers-bad"
        assert f.make("good", "g").name() == "g"

    def test_constructor_raises(self) -> None:
        """A constructor that raises gives a PluginError with the original as __cause__."""
        boom = ValueError("boom")

        def constructor(job_type: str, job_name: str) -> Echo:
            raise boom

        with pytest.raises(PluginError, match="raised ValueError: boom") as info:
            factory(offering(bad=constructor)).make("bad", "b")
        assert info.value.__cause__ is boom

    @pytest.mark.parametrize(
        ("target", "message"),
        [
            ("no_such_module_here:Job", "ModuleNotFoundError"),
            ("json:no_such_attr", "AttributeError"),
            ("json:__doc__", "is a str, not a Job class or callable"),
        ],
        ids=["no-module", "no-attr", "not-callable"],
    )
    def test_lazy_string_that_does_not_resolve(self, target: str, message: str) -> None:
        """A lazy string that does not import or names nothing fails its type alone, naming plugin, string."""
        f = factory(offering(bad=target, good=Echo))
        for _ in range(2):  # the same answer every time
            with pytest.raises(PluginError, match=f"plugin 'offers-bad-good' .*names '{target}'.*{message}"):
                f.make("bad", "b")
        assert f.make("good", "g").name() == "g"

    def test_conflict_fails_only_that_type(self) -> None:
        """Two plugins offering one type make it fail, naming both; their other types work."""
        f = factory(offering(shared=Echo, a=Echo), offering(shared=Echo, b=Echo))
        f.register(offering(shared=Echo), name="third")
        with pytest.raises(PluginError, match="job type 'shared' is offered by more than one plugin") as info:
            f.make("shared", "s")
        assert "'offers-shared-a'" in str(info.value)
        assert "'offers-shared-b'" in str(info.value)
        assert "'third'" in str(info.value)
        assert [t.type for t in f.types()] == ["a", "b"]
        assert [len(c) for c in f.conflicts()] == [3]


class TestBrokenPlugins:
    @pytest.mark.parametrize(
        ("plugin", "message"),
        [
            (Raises, "database down"),
            (offering(**{"": Echo}), "returned the key ''"),
            (offering(x=42), "job type 'x' maps to int"),
            (offering(x="not a target"), "'not a target', which is not of the form 'module:attr'"),
            (Typo, "implements spincycle_jobs_job_typez, which matches no spincycle_jobs hook"),
            (NoHook, "implements no hook: decorate its spincycle_jobs_job_types"),
        ],
        ids=["hook-raises", "empty-key", "not-callable", "bad-string", "typo", "undecorated"],
    )
    def test_broken_plugin_is_isolated(self, plugin: object, message: str) -> None:
        """A broken plugin is reported with its name and error; good plugins keep working."""
        f = factory(offering(echo=Echo), plugin)
        broken = [p for p in f.plugins() if p.error is not None]
        assert len(broken) == 1
        assert message in str(broken[0].error)
        assert f.make("echo", "e").name() == "e"
        assert [t.type for t in f.types()] == ["echo"]

    def test_hook_returning_non_mapping(self) -> None:
        """A hook that returns a list is reported as broken, with the plugin's name."""

        class ListPlugin:
            @staticmethod
            @hookimpl
            def spincycle_jobs_job_types() -> list[str]:
                return ["echo"]

        (info,) = factory(ListPlugin).plugins()
        assert info.name == "ListPlugin"
        assert isinstance(info.error, PluginError)
        assert "plugin 'ListPlugin': spincycle_jobs_job_types() returned list, expected a mapping" in str(
            info.error
        )

    def test_strict_raises_first_problem(self) -> None:
        """In strict mode the first plugin problem raises at discovery."""
        f = factory(offering(echo=Echo), Raises, strict=True)
        with pytest.raises(PluginError, match="plugin 'Raises' \\(None\\) failed to load: database down"):
            f.types()

    def test_strict_raises_conflict(self) -> None:
        """In strict mode a conflict raises at discovery."""
        f = factory(offering(echo=Echo), offering(echo=Echo, x=Echo), strict=True)
        with pytest.raises(PluginError, match="offered by more than one plugin"):
            f.make("echo", "e")

    def test_strict_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SPINCYCLE_JOBS_STRICT=1 turns strict mode on."""
        monkeypatch.setenv("SPINCYCLE_JOBS_STRICT", "1")
        with pytest.raises(JobError):
            factory(Raises).plugins()

    def test_duplicate_plugin_name(self) -> None:
        """A second plugin under a name already taken is reported, the first keeps working."""
        f = factory()
        f.register(offering(echo=Echo), name="same")
        f.register(offering(other=Echo), name="same")
        assert [t.type for t in f.types()] == ["echo"]
        (info,) = f.plugins()
        assert info.error is None


class TestListing:
    def test_types_records(self) -> None:
        """types() lists one record per type, sorted, with plugin and target."""
        f = factory()
        f.register(offering(zeta="tests.jobs:Echo", alpha=Echo), name="mine")
        records = f.types()
        assert [(t.type, t.plugin, t.distribution, t.version) for t in records] == [
            ("alpha", "mine", None, None),
            ("zeta", "mine", None, None),
        ]
        assert records[0].target == "tests.jobs.Echo"  # a class: its qualified name
        assert records[1].target == "tests.jobs:Echo"  # a lazy string: as given

    def test_register_after_discovery(self) -> None:
        """A plugin registered after discovery is taken in at once."""
        f = factory(offering(a=Echo))
        assert [t.type for t in f.types()] == ["a"]
        f.register(offering(b=Echo), name="late")
        assert [t.type for t in f.types()] == ["a", "b"]
        assert f.make("b", "x").name() == "x"

    def test_autoload_off_by_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD=1 loads no entry points."""
        monkeypatch.setenv("SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD", "1")
        assert Factory().plugins() == []
        monkeypatch.setenv("SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD", "0")
        assert Factory(group="no-such-group-anywhere").plugins() == []

    def test_discovery_once_under_threads(self) -> None:
        """16 threads racing the first make load each plugin and call its hook once."""
        calls: list[int] = []

        class Counting:
            @staticmethod
            @hookimpl
            def spincycle_jobs_job_types() -> dict[str, Any]:
                calls.append(1)
                return {"echo": "tests.jobs:Echo"}

        f = factory(Counting)
        barrier = threading.Barrier(16)
        names: list[str] = []

        def make(i: int) -> None:
            barrier.wait()
            names.append(f.make("echo", f"e{i}").name())

        threads = [threading.Thread(target=make, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert calls == [1]
        assert sorted(names) == sorted(f"e{i}" for i in range(16))
        assert len(f.plugins()) == 1


class TestLayers:
    """In-process plugins sit on top of the installed ones, read from the index or found by discovery."""

    @pytest.fixture(params=["index", "discovery"])
    def installed(
        self, request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> Any:
        monkeypatch.setenv("SPINCYCLE_JOBS_CACHE_DIR", str(tmp_path / "cache"))
        Factory().types()  # builds the index
        use_index = request.param == "index"

        def make(**kwargs: Any) -> Factory:
            factory = Factory(cache=use_index, **kwargs)
            assert factory.used_index is use_index
            return factory

        return make

    def test_same_type_as_an_installed_plugin_conflicts(self, installed: Any) -> None:
        """An in-process plugin offering an installed type makes that type a conflict, naming both."""
        factory = installed(plugins=[offering(noop=Echo)])
        with pytest.raises(PluginError, match="'noop' is offered by more than one plugin") as info:
            factory.make("noop", "n")
        assert "'example'" in str(info.value)
        assert "'offers-noop'" in str(info.value)
        assert "noop" not in [t.type for t in factory.types()]
        assert factory.make("sleep", "s").name() == "s"

    def test_name_of_an_installed_plugin_is_taken(self, installed: Any) -> None:
        """An in-process plugin cannot take an installed plugin's name; the installed one keeps working."""
        factory = installed()
        factory.register(offering(mine=Echo), name="example")
        assert [p.name for p in factory.plugins()] == ["example"]
        assert factory.plugins()[0].distribution == "spincycle-jobs-example"
        with pytest.raises(UnknownJobTypeError):
            factory.make("mine", "m")

    def test_strict_conflict_with_an_installed_plugin(self, installed: Any) -> None:
        """In strict mode, an in-process plugin offering an installed type raises at discovery."""
        factory = installed()
        with pytest.raises(PluginError, match="'sleep' is offered by more than one plugin"):
            Factory(strict=True, plugins=[offering(sleep=Echo)]).types()
        assert factory.make("sleep", "s").name() == "s"


@pytest.mark.parametrize("collector", ["on", "off"])
@pytest.mark.parametrize("plugin", ["loads", "breaks"])
def test_discovery_gives_the_garbage_collector_back_as_it_was(
    collector: str, plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery holds the collector off while plugins load, then leaves it as it was, even after an error."""
    from spincycle_jobs import _scan  # noqa: PLC0415 - the module that loads plugins

    enabled, fails = collector == "on", plugin == "breaks"
    loading: list[bool] = []
    add = _scan.LiveCatalog.add

    def add_and_see(catalog: _scan.LiveCatalog, candidate: _scan.Candidate) -> None:
        loading.append(gc.isenabled())
        if fails:
            raise PluginError("it broke", plugin=candidate.name)
        add(catalog, candidate)

    monkeypatch.setattr(_scan.LiveCatalog, "add", add_and_see)
    (gc.enable if enabled else gc.disable)()
    try:
        factory = Factory(cache=False)
        if fails:
            with pytest.raises(PluginError, match="it broke"):
                factory.types()
        else:
            assert "sleep" in {info.type for info in factory.types()}
        assert loading
        assert not any(loading)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
