from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import cast

import attrs

from ._errors import PluginError
from ._errors import UnknownJobTypeError
from ._errors import type_name
from ._index import locate
from ._job import Job

if TYPE_CHECKING:
    import pluggy

    from ._index import Index
    from ._index import Recorded
    from ._job import JobConstructor

__all__ = ["Factory", "PluginInfo", "TypeInfo"]

#: The pluggy project name, and the entry-point group plugins declare.
PROJECT_NAME: Final = "spincycle_jobs"
DISABLE_AUTOLOAD_ENV: Final = "SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD"
NO_CACHE_ENV: Final = "SPINCYCLE_JOBS_NO_CACHE"
STRICT_ENV: Final = "SPINCYCLE_JOBS_STRICT"
HOOK: Final = "spincycle_jobs_job_types"


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to something other than off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _normalize(dist_name: str) -> str:
    import re  # noqa: PLC0415 - not on the path of a warm start

    return re.sub(r"[-_.]+", "-", dist_name).lower()


def _is_target(value: str) -> bool:
    """Whether ``value`` has the form ``"package.module:attr.path"``."""
    module, sep, attr = value.partition(":")
    return bool(sep) and all(part.isidentifier() for part in (*module.split("."), *attr.split(".")))


def _spec(value: object, sep: str = ":") -> str:
    """Return ``"module:qualname"``, which imports ``value`` if it lives at that name; a string as it is.

    With ``sep="."``, the qualified name ``module.qualname`` instead.
    """
    if isinstance(value, str):
        return value
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}{sep}{qualname}" if module and qualname else repr(value)


@attrs.frozen
class TypeInfo:
    """A job type a plugin offers, as :meth:`Factory.types` lists it."""

    #: The job type.
    type: str
    #: The name of the plugin that offers it (its entry-point name).
    plugin: str
    #: The plugin's distribution, as its metadata spells it; ``None`` for a
    #: plugin registered in-process.
    distribution: str | None
    #: The distribution's version, or ``None``.
    version: str | None
    #: What makes the job: the plugin's lazy string ``"module:attr"``, or the
    #: constructor's qualified name, ``module.QualName``.
    target: str


@attrs.frozen
class PluginInfo:
    """A plugin the factory found, as :meth:`Factory.plugins` lists it."""

    #: The plugin's name (its entry-point name).
    name: str
    #: Its distribution, as the metadata spells it; ``None`` for a plugin
    #: registered in-process.
    distribution: str | None
    #: The distribution's version, or ``None``.
    version: str | None
    #: ``None`` for a plugin that loaded, else what kept it from loading.
    error: BaseException | None = None
    #: Seconds spent importing the plugin and calling its hook.
    load_seconds: float = attrs.field(default=0.0, eq=False)


@attrs.frozen
class _Candidate:
    """A plugin to load: what it is called, where it comes from, and how to get it."""

    name: str
    distribution: str | None
    version: str | None
    load: Callable[[], object]
    #: For an entry point: its value, ``"module"`` or ``"module:attr"``.
    source: str | None = None
    #: For an entry point: the folder that holds its distribution's ``dist-info``.
    site: str | None = None


class _Provider:
    """One plugin's offer of one job type; resolves a lazy string once."""

    def __init__(self, info: TypeInfo, value: JobConstructor | str, lock: threading.Lock) -> None:
        self.info = info
        #: Where the constructor can be imported from, if it lives at its name.
        self.spec = _spec(value)
        self._value = value
        self._lock = lock
        self._error: Exception | None = None

    def importable(self) -> bool:
        """Whether :attr:`spec` names this very constructor, so it can be imported by name."""
        if isinstance(self._value, str):
            return True
        try:
            return _resolve(self.spec) is self._value
        except Exception:  # noqa: BLE001 - anything that does not resolve is not importable
            return False

    def constructor(self) -> JobConstructor:
        value = self._value
        if not isinstance(value, str):
            return value
        with self._lock:
            if isinstance(self._value, str) and self._error is None:
                try:
                    self._value = _resolve(self._value)
                except Exception as err:  # noqa: BLE001 - any failure of plugin code is reported
                    self._error = err
            if self._error is not None:
                msg = (
                    f"plugin {self.info.plugin!r} ({self.info.distribution}) names {value!r} for job type "
                    f"{self.info.type!r}, which cannot be loaded: {type(self._error).__name__}: {self._error}"
                )
                raise PluginError(msg, plugin=self.info.plugin) from self._error
            assert not isinstance(self._value, str)  # noqa: S101 - resolved above
            return self._value


def _resolve(target: str) -> JobConstructor:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        msg = f"{target} is a {type_name(type(obj))}, not a Job class or callable"
        raise TypeError(msg)
    return obj  # type: ignore[no-any-return]


def _entry_point_candidates(
    group: str, allow: frozenset[str] | None, deny: frozenset[str]
) -> list[_Candidate]:
    from importlib.metadata import entry_points  # noqa: PLC0415 - only discovery needs it

    found = []
    for ep in entry_points(group=group):
        dist = ep.dist
        dist_name = dist.name if dist is not None else None
        names = {ep.name, _normalize(dist_name)} if dist_name else {ep.name}
        if names & deny or (allow is not None and not names & allow):
            continue
        version = dist.version if dist is not None else None
        dist_info = getattr(dist, "_path", None)  # a PathDistribution's dist-info folder
        site = None if dist_info is None else os.path.dirname(dist_info)  # noqa: PTH120 - str in, str out
        found.append(_Candidate(ep.name, dist_name, version, ep.load, ep.value, site))
    found.sort(key=lambda c: (c.name, c.distribution or ""))
    return found


class _Registry:
    """What discovery found: the plugins, and who offers each job type.

    A registry read from the index takes each plugin and job type from the
    record only when first asked for it: making one job never reads the rest.
    """

    def __init__(self, strict: bool, recorded: Recorded | None = None) -> None:  # noqa: FBT001
        self.strict = strict
        self.lock = threading.Lock()
        self._plugins: dict[str, PluginInfo] = {}
        self._providers: dict[str, list[_Provider]] = {}
        self._pm: pluggy.PluginManager | None = None
        self._recorded = recorded
        #: ("type", job type) and ("plugin", name) already taken from the record.
        self._looked_up: set[tuple[str, str]] = set()
        self._all_taken = recorded is None

    @property
    def pm(self) -> pluggy.PluginManager:
        """The plugin manager, made on first need: a registry read from the index has none."""
        if self._pm is None:
            import pluggy  # noqa: PLC0415 - only loading plugins needs it

            from . import hookspecs  # noqa: PLC0415

            self._pm = pluggy.PluginManager(PROJECT_NAME)
            self._pm.add_hookspecs(hookspecs)
        return self._pm

    def providers_of(self, job_type: str) -> list[_Provider]:
        """Return the offers of ``job_type``: none, one, or several (a conflict)."""
        if not self._all_taken and ("type", job_type) not in self._looked_up:
            with self.lock:
                self._take_recorded(job_type)
        return self._providers.get(job_type, [])

    def all_providers(self) -> dict[str, list[_Provider]]:
        """Return the offers of every job type."""
        self._take_all()
        return self._providers

    def all_plugins(self) -> dict[str, PluginInfo]:
        """Return every plugin found, loaded or not."""
        self._take_all()
        return self._plugins

    def take(self, info: PluginInfo, offered: Mapping[str, JobConstructor | str]) -> None:
        """Record a loaded plugin and the job types it offers."""
        self._plugins[info.name] = info
        for job_type, value in sorted(offered.items()):
            self._take_recorded(job_type)
            target = _spec(value, sep=".")
            offer = TypeInfo(job_type, info.name, info.distribution, info.version, target)
            providers = self._providers.setdefault(job_type, [])
            providers.append(_Provider(offer, value, self.lock))
            if self.strict and len(providers) > 1:
                raise conflict_error(job_type, [p.info for p in providers])

    def taken(self, name: str) -> bool:
        """Whether a plugin of that name was found already."""
        return self._plugin(name) is not None

    def _take_all(self) -> None:
        recorded = self._recorded
        if self._all_taken or recorded is None:
            return
        with self.lock:
            for row in recorded.all_plugins():
                if row and isinstance(row[0], str):
                    self._plugin(row[0], row)
            for row in recorded.all_types():
                self._take_recorded(row[0], row)
            self._all_taken = True

    def _take_recorded(self, job_type: str, row: list[Any] | None = None) -> None:
        """Take ``job_type``'s row of the index (looked up unless given), once."""
        if self._recorded is None or ("type", job_type) in self._looked_up:
            return
        self._looked_up.add(("type", job_type))
        row = row or self._recorded.lookup(job_type)
        if row is None or len(row) != 4 or not all(isinstance(x, str) for x in row):  # noqa: PLR2004
            return  # absent, or malformed: left out
        _, plugin, spec, target = row
        if not _is_target(spec):
            return
        info = self._plugin(plugin)
        if info is not None:
            offer = TypeInfo(job_type, plugin, info.distribution, info.version, target)
            self._providers.setdefault(job_type, []).append(_Provider(offer, spec, self.lock))

    def _plugin(self, name: str, row: list[Any] | None = None) -> PluginInfo | None:
        """Return the plugin called ``name``, taking its row of the index (looked up unless given) once."""
        if self._recorded is not None and ("plugin", name) not in self._looked_up:
            self._looked_up.add(("plugin", name))
            row = row or self._recorded.plugin(name)
            if row is not None and len(row) == 5 and name not in self._plugins:  # noqa: PLR2004
                _, dist, version, _source, seconds = row
                if (
                    isinstance(dist, str | None)
                    and isinstance(version, str | None)
                    and isinstance(seconds, float)
                ):
                    self._plugins[name] = PluginInfo(name, dist, version, None, seconds)
        return self._plugins.get(name)

    def add(self, candidate: _Candidate) -> None:
        """Load one plugin and take its job types; a failure is recorded, or raised when strict."""
        start = time.perf_counter()
        try:
            offered = self._load(candidate)
        except Exception as err:
            info = PluginInfo(
                candidate.name, candidate.distribution, candidate.version, err, time.perf_counter() - start
            )
            if not self.taken(candidate.name):
                self._plugins[candidate.name] = info
            if self.strict:
                msg = f"plugin {candidate.name!r} ({candidate.distribution}) failed to load: {err}"
                raise PluginError(msg, plugin=candidate.name) from err
            return
        elapsed = time.perf_counter() - start
        self.take(
            PluginInfo(candidate.name, candidate.distribution, candidate.version, None, elapsed), offered
        )

    def _load(self, candidate: _Candidate) -> Mapping[str, JobConstructor | str]:
        name = candidate.name
        if self.taken(name):
            other = self.all_plugins()[name].distribution
            msg = f"plugin name {name!r} is already taken by {other or 'an in-process plugin'}"
            raise PluginError(msg, plugin=name)
        plugin = candidate.load()
        self.pm.register(plugin, name=name)
        try:
            return self._call_hook(name, plugin)
        except BaseException:
            self.pm.unregister(plugin)
            raise

    def _call_hook(self, name: str, plugin: object) -> Mapping[str, JobConstructor | str]:
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(c.name for c in callers if not c.has_spec())
        if unknown:
            msg = f"plugin {name!r} implements {', '.join(unknown)}, which matches no spincycle_jobs hook"
            raise PluginError(msg, plugin=name)
        impls = [i for c in callers for i in c.get_hookimpls() if i.plugin is plugin]
        if not impls:
            msg = f"plugin {name!r} implements no hook: decorate its {HOOK}() with @spincycle_jobs.hookimpl"
            raise PluginError(msg, plugin=name)
        return _check_offer(name, impls[0].function())


def _check_offer(name: str, offered: object) -> Mapping[str, JobConstructor | str]:
    """Return ``offered`` if it is a mapping of job type to constructor or lazy string, else raise."""
    expected = "a mapping of job type (str) to a Job class, a callable or a 'module:attr' string"
    if not isinstance(offered, Mapping):
        msg = f"plugin {name!r}: {HOOK}() returned {type_name(type(offered))}, expected {expected}"
        raise PluginError(msg, plugin=name)
    for key, value in offered.items():
        if not isinstance(key, str) or not key:
            msg = f"plugin {name!r}: {HOOK}() returned the key {key!r}, expected {expected}"
            raise PluginError(msg, plugin=name)
        if isinstance(value, str) and not _is_target(value):
            msg = f"plugin {name!r}: job type {key!r} names {value!r}, which is not of the form 'module:attr'"
            raise PluginError(msg, plugin=name)
        if not isinstance(value, str) and not callable(value):
            msg = f"plugin {name!r}: job type {key!r} maps to {type_name(type(value))}, expected {expected}"
            raise PluginError(msg, plugin=name)
    return offered


def conflict_error(job_type: str, infos: Iterable[TypeInfo]) -> PluginError:
    """Return the error for a job type that more than one plugin offers."""
    infos = list(infos)
    who = " and ".join(f"plugin {i.plugin!r} ({i.distribution} {i.version})" for i in infos)
    msg = f"job type {job_type!r} is offered by more than one plugin: {who}; uninstall or deny one"
    return PluginError(msg, plugin=", ".join(i.plugin for i in infos))


class Factory:
    """Makes jobs of the types that installed plugins offer (a :class:`JobFactory`).

    Plugins are found through the entry points of ``group`` and loaded once,
    on first need, however many threads ask at that moment. A plugin that
    fails to load, or offers a type another plugin offers too, costs only
    what it offers: everything else keeps working, and :meth:`plugins`
    says what went wrong.

    :param group: the entry-point group to load plugins from.
    :param autoload: load the plugins of ``group``; off with ``False`` or the
        environment variable ``SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD=1``.
    :param plugins: in-process plugins to register, as :meth:`register` does.
    :param allow: when given, load only the entry points whose name or
        distribution name is in it.
    :param deny: skip the entry points whose name or distribution name is in
        it; a skipped plugin is never imported, nor listed.
    :param strict: raise :class:`PluginError` on the first plugin problem
        instead of isolating it (for CI); also on with ``SPINCYCLE_JOBS_STRICT=1``.
    :param cache: keep what discovery found in a persisted index, so the next
        process need not import every plugin again; off with ``False`` or
        ``SPINCYCLE_JOBS_NO_CACHE=1``. See :doc:`/factory`.
    """

    def __init__(
        self,
        *,
        group: str = PROJECT_NAME,
        autoload: bool = True,
        plugins: Iterable[object] = (),
        allow: Iterable[str] | None = None,
        deny: Iterable[str] = (),
        strict: bool = False,
        cache: bool = True,
    ) -> None:
        self._group = group
        self._autoload = autoload and not env_flag(DISABLE_AUTOLOAD_ENV)
        self._strict = strict or env_flag(STRICT_ENV)
        self._allow = None if allow is None else frozenset(_names(allow))
        self._deny = frozenset(_names(deny))
        self._cache = cache and not env_flag(NO_CACHE_ENV)
        self._used_index = False
        self._lock = threading.Lock()
        self._registered: list[_Candidate] = []
        self._registry: _Registry | None = None
        for plugin in plugins:
            self.register(plugin)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add an in-process plugin: a module or object with hook implementations.

        :param name: the plugin's name; by default its ``__name__``.
        :raises PluginError: in strict mode, when the plugin is broken.
        """
        name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin):x}"
        candidate = _Candidate(name, None, None, lambda: plugin)
        with self._lock:
            self._registered.append(candidate)
            if self._registry is not None:
                self._registry.add(candidate)

    def make(self, job_type: str, job_name: str) -> Job:
        """Make a new, blank job of ``job_type`` named ``job_name``.

        Calls no method of the job but :meth:`Job.type` and :meth:`Job.name`,
        to check them.

        :raises UnknownJobTypeError: when no plugin offers ``job_type``.
        :raises PluginError: when the plugin's constructor fails, returns
            something other than a :class:`Job` of that type and name, or
            when more than one plugin offers ``job_type``.
        """
        providers = self._loaded().providers_of(job_type)
        if not providers:
            raise self._unknown(job_type)
        if len(providers) > 1:
            raise conflict_error(job_type, [p.info for p in providers])
        info = providers[0].info
        constructor = providers[0].constructor()
        what = f"plugin {info.plugin!r} ({info.distribution}): {info.target}({job_type!r}, {job_name!r})"
        try:
            job: object = constructor(job_type, job_name)
            got = (job.type(), job.name()) if isinstance(job, Job) else None
        except Exception as err:
            msg = f"{what} raised {type(err).__name__}: {err}"
            raise PluginError(msg, plugin=info.plugin) from err
        if got is None:
            msg = f"{what} returned {type_name(type(job))}, not a Job"
            raise PluginError(msg, plugin=info.plugin)
        if got != (job_type, job_name):
            msg = f"{what} returned a job of type {got[0]!r} named {got[1]!r}"
            raise PluginError(msg, plugin=info.plugin)
        return cast("Job", job)

    def types(self) -> list[TypeInfo]:
        """Return one record per job type that can be made, sorted by type.

        A type that more than one plugin offers is left out: see :meth:`conflicts`.
        """
        providers = self._loaded().all_providers()
        return [p[0].info for _, p in sorted(providers.items()) if len(p) == 1]

    def conflicts(self) -> list[tuple[TypeInfo, ...]]:
        """Return, for each job type that more than one plugin offers, every offer of it."""
        providers = self._loaded().all_providers()
        return [tuple(x.info for x in p) for _, p in sorted(providers.items()) if len(p) > 1]

    def plugins(self) -> list[PluginInfo]:
        """Return one record per plugin found, loaded or not, sorted by name."""
        return [info for _, info in sorted(self._loaded().all_plugins().items())]

    def refresh(self) -> None:
        """Discover again now, ignoring and rewriting the persisted index."""
        with self._lock:
            self._registry = self._discover(use_index=False)

    @property
    def used_index(self) -> bool:
        """Whether the plugins came from the persisted index (no plugin was imported to list them)."""
        self._loaded()
        return self._used_index

    def _loaded(self) -> _Registry:
        registry = self._registry
        if registry is not None:
            return registry
        with self._lock:
            if self._registry is None:
                self._registry = self._discover(use_index=True)
            return self._registry

    def _discover(self, *, use_index: bool) -> _Registry:
        registry = _Registry(self._strict)
        self._used_index = False
        if self._autoload:
            index = locate(self._group, self._allow, self._deny) if self._cache else None
            recorded = index.read() if index is not None and use_index else None
            if recorded is not None:
                registry = _Registry(self._strict, recorded)
                self._used_index = True
            else:
                found = _entry_point_candidates(self._group, self._allow, self._deny)
                for candidate in found:
                    registry.add(candidate)
                if index is not None:
                    _record(index, registry, found)
        for candidate in self._registered:
            registry.add(candidate)
        return registry

    def _unknown(self, job_type: str) -> UnknownJobTypeError:
        import difflib  # noqa: PLC0415 - only this error needs it

        registry = self._loaded()
        known = [t for t, p in registry.all_providers().items() if len(p) == 1]
        failed = tuple(
            (name, f"{type(info.error).__name__}: {info.error}")
            for name, info in sorted(registry.all_plugins().items())
            if info.error is not None
        )
        suggestions = tuple(difflib.get_close_matches(job_type, known, n=3))
        return UnknownJobTypeError(job_type, suggestions=suggestions, failed_plugins=failed)


def _record(index: Index, registry: _Registry, found: list[_Candidate]) -> None:
    """Write what discovery found to ``index``, if every plugin loaded and each type can be imported by name.

    A broken plugin, a conflict, or a constructor that cannot be imported by its name
    (a lambda, a closure) leaves the index out: discovery then runs in full each time,
    so that what it reports is exactly what a fresh discovery says.

    A hook module installed beside its distribution's metadata changes only with
    it (pip replaces the ``dist-info`` folder, and so the stamp of the folder
    that holds it, on every install); any other (an editable install's) gets a
    stamp of its own.
    """
    plugins, files = [], []
    for c in found:
        info = registry.all_plugins()[c.name]
        module = sys.modules.get((c.source or "").partition(":")[0])
        if info.error is not None or c.source is None or module is None:
            index.remove()
            return
        plugins.append([c.name, c.distribution, c.version, c.source, info.load_seconds])
        module_file = getattr(module, "__file__", None)
        if module_file and not (c.site and module_file.startswith(os.path.join(c.site, ""))):  # noqa: PTH118
            files.append(module_file)
    types = []
    for job_type, providers in registry.all_providers().items():
        if len(providers) > 1 or not providers[0].importable():
            index.remove()
            return
        offer = providers[0]
        types.append([job_type, offer.info.plugin, offer.spec, offer.info.target])
    index.write(plugins, types, files)


def _names(names: Iterable[str]) -> set[str]:
    """Return ``names`` (a single name too) with their normalized distribution spellings."""
    items = [names] if isinstance(names, str) else list(names)
    return {*items, *map(_normalize, items)}
