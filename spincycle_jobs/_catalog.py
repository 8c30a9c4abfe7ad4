"""Where the factory gets its offers: a catalog of plugins and the job types they offer.

Two catalogs implement :class:`Catalog`: :class:`IndexCatalog` reads a
persisted index's snapshot, and ``LiveCatalog`` (in ``_scan``, which needs
pluggy) loads plugins now. Neither is thread-safe on its own: the
:class:`~spincycle_jobs.Factory`'s one lock guards the catalogs it holds.
This module imports neither pluggy nor ``importlib.metadata``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import Protocol

import attrs

from ._errors import PluginError
from ._errors import type_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._index import Snapshot
    from ._job import JobConstructor

__all__ = ["PROJECT_NAME", "Catalog", "IndexCatalog", "Offer", "PluginInfo", "TypeInfo"]

#: The pluggy project name, and the entry-point group plugins declare.
PROJECT_NAME: Final = "spincycle_jobs"
#: The hook a plugin implements.
HOOK: Final = "spincycle_jobs_job_types"


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


def normalize(dist_name: str) -> str:
    """Return a distribution name as the packaging standards compare it: ``Good_Jobs`` is ``good-jobs``.

    Written out, not with :mod:`re`, which a warm start does not import.
    """
    out: list[str] = []
    for char in dist_name.lower():
        if char not in "-_.":
            out.append(char)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out)


def is_target(value: str) -> bool:
    """Whether ``value`` has the form ``"package.module:attr.path"``."""
    module, sep, attr = value.partition(":")
    return bool(sep) and all(map(str.isidentifier, module.split(".") + attr.split(".")))


def spec_of(value: object, sep: str = ":") -> str:
    """Return ``"module:qualname"``, which imports ``value`` if it lives at that name; a string as it is.

    With ``sep="."``, the qualified name ``module.qualname`` instead.
    """
    if isinstance(value, str):
        return value
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}{sep}{qualname}" if module and qualname else repr(value)


def resolve(target: str) -> JobConstructor:
    """Import what ``"module:attr.path"`` names.

    :raises TypeError: when it is not callable; any error of the import itself.
    """
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        msg = f"{target} is a {type_name(type(obj))}, not a Job class or callable"
        raise TypeError(msg)
    return obj  # type: ignore[no-any-return]


class Offer:
    """One plugin's offer of one job type; resolves a lazy string on first use.

    Resolving needs no lock: importing is thread-safe, and two threads that
    resolve at once get the same constructor or the same error.
    """

    __slots__ = ("_error", "_value", "info")

    def __init__(self, info: TypeInfo, value: JobConstructor | str) -> None:
        #: What :meth:`Factory.types` lists.
        self.info: Final = info
        self._value = value
        self._error: Exception | None = None

    @property
    def spec(self) -> str:
        """Where the constructor can be imported from, if it lives at its name."""
        return spec_of(self._value)

    def importable(self) -> bool:
        """Whether :attr:`spec` names this very constructor, so an index can record it."""
        if isinstance(self._value, str):
            return True
        try:
            return resolve(self.spec) is self._value
        except Exception:  # noqa: BLE001 - anything that does not resolve is not importable
            return False

    def constructor(self) -> JobConstructor:
        """Return the constructor, importing a lazy string the first time.

        :raises PluginError: naming the plugin and the string, when it does not resolve.
        """
        value = self._value
        if not isinstance(value, str):
            return value
        if self._error is None:
            try:
                resolved = resolve(value)
            except Exception as err:  # noqa: BLE001 - any failure of plugin code is reported
                self._error = err
            else:
                self._value = resolved
                return resolved
        info, error = self.info, self._error
        msg = (
            f"plugin {info.plugin!r} ({info.distribution}) names {value!r} for job type "
            f"{info.type!r}, which cannot be loaded: {type(error).__name__}: {error}"
        )
        raise PluginError(msg, plugin=info.plugin) from error


class Catalog(Protocol):
    """Plugins and their offers, as one source knows them."""

    def offers(self, job_type: str) -> list[Offer]:
        """Return the offers of ``job_type``: none, one, or several (a conflict)."""

    def all_offers(self) -> dict[str, list[Offer]]:
        """Return the offers of every job type."""

    def plugin(self, name: str) -> PluginInfo | None:
        """Return the plugin called ``name``, or ``None``."""

    def plugins(self) -> dict[str, PluginInfo]:
        """Return every plugin, loaded or not, by name."""


class IndexCatalog:
    """The catalog of a persisted index: each row is taken when first asked for.

    Making one job reads the row of its type and of its plugin, no other.

    :raises CorruptIndexError: from any method, when a row it needs is damaged.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._offers: dict[str, list[Offer]] = {}
        self._plugins: dict[str, PluginInfo | None] = {}
        self._complete = False

    def offers(self, job_type: str) -> list[Offer]:
        """Return the offer of ``job_type``, read from the index on first need."""
        offers = self._offers.get(job_type)
        if offers is None:
            row = self._snapshot.lookup(job_type)
            offers = self._offers[job_type] = [] if row is None else self._offer(*row)
        return offers

    def _offer(self, job_type: str, plugin: str, spec: str, target: str) -> list[Offer]:
        info = self.plugin(plugin)
        if info is None or not is_target(spec):
            from ._index import CorruptIndexError  # noqa: PLC0415 - only a damaged index needs it

            msg = f"job type {job_type!r} names plugin {plugin!r} and target {spec!r}, which do not resolve"
            raise CorruptIndexError(msg)
        return [Offer(TypeInfo(job_type, plugin, info.distribution, info.version, target), spec)]

    def all_offers(self) -> dict[str, list[Offer]]:
        """Return the offers of every job type in the index."""
        if not self._complete:
            for row in self._snapshot.all_types():
                if row.type not in self._offers:
                    self._offers[row.type] = self._offer(*row)
            self._complete = True
        return {job_type: offers for job_type, offers in self._offers.items() if offers}

    def plugin(self, name: str) -> PluginInfo | None:
        """Return the plugin called ``name``, read from the index on first need."""
        if name not in self._plugins:
            row = self._snapshot.plugin(name)
            self._plugins[name] = None if row is None else _plugin_info(*row)
        return self._plugins[name]

    def plugins(self) -> dict[str, PluginInfo]:
        """Return every plugin in the index."""
        return {row.name: _plugin_info(*row) for row in self._snapshot.all_plugins()}


def _plugin_info(
    name: str, dist: str | None, version: str | None, _source: str, seconds: float
) -> PluginInfo:
    return PluginInfo(name, dist, version, None, seconds)


def conflict_error(job_type: str, infos: Iterable[TypeInfo]) -> PluginError:
    """Return the error for a job type that more than one plugin offers."""
    infos = list(infos)
    who = " and ".join(f"plugin {i.plugin!r} ({i.distribution} {i.version})" for i in infos)
    msg = f"job type {job_type!r} is offered by more than one plugin: {who}; uninstall or deny one"
    return PluginError(msg, plugin=", ".join(i.plugin for i in infos))
