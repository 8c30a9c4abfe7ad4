"""Discovery now: find the entry points, load each plugin through pluggy, and record it in the index.

Only a process that discovers imports this module, and with it pluggy and
``importlib.metadata``; a process that makes jobs from a warm index never does.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Mapping
from types import FunctionType
from types import MethodType
from types import ModuleType
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pluggy

from . import hookspecs
from ._catalog import HOOK
from ._catalog import PROJECT_NAME
from ._catalog import Offer
from ._catalog import PluginInfo
from ._catalog import TypeInfo
from ._catalog import conflict_error
from ._catalog import is_target
from ._catalog import normalize
from ._catalog import spec_of
from ._entrypoints import Records
from ._entrypoints import entry_points
from ._entrypoints import unlisted_files
from ._errors import PluginError
from ._errors import type_name
from ._index import PluginRow
from ._index import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

    from ._catalog import Catalog
    from ._index import Index
    from ._job import JobConstructor
    from ._stamps import Stamps

__all__ = ["Candidate", "LiveCatalog", "scan"]


@attrs.frozen
class Candidate:
    """A plugin to load: what it is called, where it comes from, and how to get it."""

    name: str
    distribution: str | None
    version: str | None
    load: Callable[[], object]
    #: For an entry point: its value, ``"module"`` or ``"module:attr"``.
    source: str | None = None
    #: For an entry point: its distribution's metadata folder, when it is one on disk.
    metadata: str | None = None


def entry_point_candidates(group: str, allow: frozenset[str] | None, deny: frozenset[str]) -> list[Candidate]:
    """Return the plugins of ``group`` that ``allow`` and ``deny`` let through, by name."""
    found = []
    for ep, dist_name, version, metadata in entry_points(group):
        names = {ep.name, normalize(dist_name)} if dist_name else {ep.name}
        if names & deny or (allow is not None and not names & allow):
            continue
        found.append(Candidate(ep.name, dist_name, version, ep.load, ep.value, metadata))
    found.sort(key=lambda c: (c.name, c.distribution or ""))
    return found


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, which skips a module's attributes that are not hooks without inspecting them.

    pluggy inspects every attribute of a plugin, statically, to find its hooks:
    that is most of the cost of registering a module. A plain module's attribute
    is its own value, and only a function or method (a static or class method too)
    that carries the marker can be a hook: anything else is skipped at once, and
    the rest is left to pluggy.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        if type(plugin) is ModuleType:
            value = vars(plugin).get(name)
            if not isinstance(value, FunctionType | MethodType | staticmethod | classmethod):
                return None
            marker = self.project_name + "_impl"
            if (
                getattr(value, marker, None) is None
                and getattr(value.__func__ if not isinstance(value, FunctionType) else None, marker, None)
                is None
            ):
                return None
        return super().parse_hookimpl_opts(plugin, name)


class LiveCatalog:
    """The catalog of plugins loaded in this process, through pluggy.

    :param strict: raise the first plugin problem instead of recording it.
    :param below: a catalog this one is layered on: its plugin names are taken,
        and, when strict, its offers conflict with this one's.
    """

    def __init__(self, *, strict: bool, below: Catalog | None = None) -> None:
        self._strict = strict
        self._below = below
        self._plugins: dict[str, PluginInfo] = {}
        self._offers: dict[str, list[Offer]] = {}
        #: Every plugin object loaded, by id, kept alive so that no id is reused.
        self._objects: dict[int, tuple[object, str]] = {}
        self._pm = _PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)

    def offers(self, job_type: str) -> list[Offer]:
        """Return the offers of ``job_type``."""
        return self._offers.get(job_type, [])

    def all_offers(self) -> dict[str, list[Offer]]:
        """Return the offers of every job type."""
        return self._offers

    def plugin(self, name: str) -> PluginInfo | None:
        """Return the plugin called ``name``, or ``None``."""
        return self._plugins.get(name)

    def plugins(self) -> dict[str, PluginInfo]:
        """Return every plugin, loaded or not."""
        return self._plugins

    def _taken(self, name: str) -> PluginInfo | None:
        return self._plugins.get(name) or (self._below.plugin(name) if self._below is not None else None)

    def add(self, candidate: Candidate) -> None:
        """Load one plugin and take its job types; a failure is recorded, or raised when strict.

        :raises PluginError: in strict mode, when the plugin is broken or offers a type
            another plugin offers.
        """
        start = time.perf_counter()
        taken = self._taken(candidate.name)
        try:
            offered = self._load(candidate, taken)
        except Exception as err:
            if taken is None:
                info = PluginInfo(
                    candidate.name,
                    candidate.distribution,
                    candidate.version,
                    err,
                    time.perf_counter() - start,
                )
                self._plugins[candidate.name] = info
            if self._strict:
                msg = f"plugin {candidate.name!r} ({candidate.distribution}) failed to load: {err}"
                raise PluginError(msg, plugin=candidate.name) from err
            return
        info = PluginInfo(
            candidate.name, candidate.distribution, candidate.version, None, time.perf_counter() - start
        )
        self._plugins[info.name] = info
        for job_type, value in sorted(offered.items()):
            target = spec_of(value, sep=".")
            offer = Offer(TypeInfo(job_type, info.name, info.distribution, info.version, target), value)
            offers = self._offers.setdefault(job_type, [])
            offers.append(offer)
            if self._strict:
                every = [*(self._below.offers(job_type) if self._below is not None else []), *offers]
                if len(every) > 1:
                    raise conflict_error(job_type, [o.info for o in every])

    def _load(self, candidate: Candidate, taken: PluginInfo | None) -> Mapping[str, JobConstructor | str]:
        name = candidate.name
        if taken is not None:
            msg = f"plugin name {name!r} is already taken by {taken.distribution or 'an in-process plugin'}"
            raise PluginError(msg, plugin=name)
        plugin = candidate.load()
        other = self._objects.get(id(plugin))
        if other is not None:
            msg = f"plugin {name!r} is the same object as plugin {other[1]!r}, already loaded"
            raise PluginError(msg, plugin=name)
        # Registered while its hook runs, then unregistered: pluggy adds each plugin to a
        # list it scans in full, so a manager that kept them all would cost D² over D plugins.
        self._pm.register(plugin, name=name)
        try:
            offered = self._call_hook(name, plugin)
        finally:
            self._pm.unregister(plugin, name=name)
        self._objects[id(plugin)] = (plugin, name)
        return offered

    def _call_hook(self, name: str, plugin: object) -> Mapping[str, JobConstructor | str]:
        """Call the plugin's hook: the only plugin registered now."""
        callers = [c for c in vars(self._pm.hook).values() if c.get_hookimpls()]  # this plugin's alone
        unknown = sorted(c.name for c in callers if not c.has_spec())
        if unknown:
            msg = f"plugin {name!r} implements {', '.join(unknown)}, which matches no spincycle_jobs hook"
            raise PluginError(msg, plugin=name)
        impls = self._pm.hook.spincycle_jobs_job_types.get_hookimpls()
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
        if isinstance(value, str) and not is_target(value):
            msg = f"plugin {name!r}: job type {key!r} names {value!r}, which is not of the form 'module:attr'"
            raise PluginError(msg, plugin=name)
        if not isinstance(value, str) and not callable(value):
            msg = f"plugin {name!r}: job type {key!r} maps to {type_name(type(value))}, expected {expected}"
            raise PluginError(msg, plugin=name)
    return offered


def scan(
    group: str, allow: frozenset[str] | None, deny: frozenset[str], *, strict: bool, index: Index | None
) -> LiveCatalog:
    """Discover the plugins of ``group`` now, and record them in ``index`` when it is given.

    The start of discovery is noted before the entry points are read, so that
    what changes while discovery runs is never recorded as seen. The garbage
    collector is held off meanwhile (see :func:`_collector_paused`).
    """
    stamps = index.stamps() if index is not None else None
    catalog = LiveCatalog(strict=strict)
    with _collector_paused():
        found = entry_point_candidates(group, allow, deny)
        loaded_before = set(sys.modules)
        for candidate in found:
            catalog.add(candidate)
        if index is not None and stamps is not None:
            _record(index, stamps, catalog, found, sys.modules.keys() - loaded_before)
    return catalog


def _record(
    index: Index, stamps: Stamps, catalog: LiveCatalog, found: list[Candidate], modules: set[str]
) -> None:
    """Write what discovery found to ``index``, or remove the index when discovery did not go cleanly.

    :param modules: the modules the plugins imported while they loaded.
    """
    snapshot = _snapshot(catalog, found)
    if snapshot is None:
        index.remove()
        return
    by_package: dict[str, list[str]] = {}
    for c in found:
        if c.metadata is not None and c.source is not None:
            by_package.setdefault(c.source.partition(":")[0].partition(".")[0], []).append(c.metadata)
    records = Records(stamps.recent)
    files = unlisted_files(by_package, modules, records)
    plugin_dists = {c.metadata: records.stamps.get(c.metadata) for c in found if c.metadata is not None}
    index.write(stamps, plugin_dists, files, snapshot)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while plugins load and the index is recorded.

    Loading plugins makes long-lived objects (modules, classes, functions),
    which no collection frees. At 1,000 distributions, about 130 collections
    ran while they loaded, and left a full collection of everything due, which
    the next few allocations set off (about 11 ms): in the first process, those
    of recording the index. Held off, what discovery made is looked at once,
    by the first collection after it, and no full collection comes due. The
    collector is left as it was found: a program that turned it off keeps it
    off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _snapshot(catalog: LiveCatalog, found: list[Candidate]) -> Snapshot | None:
    """Return what the index should record, or ``None`` when discovery did not go cleanly.

    A broken plugin, a conflict, or a constructor that cannot be imported by its name
    (a lambda, a closure) leaves the index out: discovery then runs in full each time,
    so that what it reports is exactly what a fresh discovery says.
    """
    plugins = []
    for c in found:
        info = catalog.plugin(c.name)
        if info is None or info.error is not None or c.source is None:
            return None
        plugins.append(PluginRow(c.name, c.distribution, c.version, c.source, info.load_seconds))
    offers = catalog.all_offers()
    if any(len(o) > 1 or not o[0].importable() for o in offers.values()):
        return None
    # A TypeRow's fields, made one at a time as they are written, not all held at once.
    types = ((job_type, o.info.plugin, o.spec, o.info.target) for job_type, (o,) in offers.items())
    return Snapshot.of(plugins, types)
