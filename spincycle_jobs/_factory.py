"""The Factory: makes jobs of the types that plugins offer, from one catalog under one lock."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import threading
from typing import TYPE_CHECKING
from typing import Final
from typing import TypeVar
from typing import cast

from ._catalog import PROJECT_NAME
from ._catalog import IndexCatalog
from ._catalog import PluginInfo
from ._catalog import TypeInfo
from ._catalog import conflict_error
from ._catalog import normalize
from ._errors import PluginError
from ._errors import UnknownJobTypeError
from ._errors import type_name
from ._index import CorruptIndexError
from ._index import locate
from ._job import Job

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator

    from ._catalog import Catalog
    from ._catalog import Offer
    from ._scan import Candidate
    from ._scan import LiveCatalog

__all__ = ["Factory", "PluginInfo", "TypeInfo", "here", "host", "placed"]

T = TypeVar("T")

DISABLE_AUTOLOAD_ENV: Final = "SPINCYCLE_JOBS_DISABLE_PLUGIN_AUTOLOAD"
NO_CACHE_ENV: Final = "SPINCYCLE_JOBS_NO_CACHE"
STRICT_ENV: Final = "SPINCYCLE_JOBS_STRICT"
ALLOW_ENV: Final = "SPINCYCLE_JOBS_ALLOW"
DENY_ENV: Final = "SPINCYCLE_JOBS_DENY"


#: Where this thread makes and runs jobs, when that is not just this host: ``worker ADDRESS`` on Dask.
_PLACE: Final[contextvars.ContextVar[str | None]] = contextvars.ContextVar(
    "spincycle_jobs_place", default=None
)


@functools.cache
def host() -> str:
    """Return this host's name, asked once."""
    import socket  # noqa: PLC0415 - a warm make needs no host name

    return socket.gethostname()


def here() -> str:
    """Return where this runs, as an error that says "here" names it.

    ``worker tcp://10.0.0.7:40123`` while a Dask worker runs a try (see
    :func:`placed`), else ``host 'NAME'``.
    """
    place = _PLACE.get()
    return f"host {host()!r}" if place is None else place


@contextlib.contextmanager
def placed(place: str) -> Iterator[None]:
    """Have :func:`here` return ``place`` in this thread (and context) until the block ends."""
    token = _PLACE.set(place)
    try:
        yield
    finally:
        _PLACE.reset(token)


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to something other than off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def env_names(name: str) -> list[str] | None:
    """Return the comma-separated names in the environment variable ``name``; ``None`` when there are none."""
    names = [n.strip() for n in os.environ.get(name, "").split(",") if n.strip()]
    return names or None


class _Empty:
    """The catalog of no plugins: autoload is off."""

    def offers(self, job_type: str) -> list[Offer]:
        return []

    def all_offers(self) -> dict[str, list[Offer]]:
        return {}

    def plugin(self, name: str) -> PluginInfo | None:
        return None

    def plugins(self) -> dict[str, PluginInfo]:
        return {}


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
        distribution name is in it; when ``None``, those in the environment
        variable ``SPINCYCLE_JOBS_ALLOW`` (comma-separated), if it is set.
    :param deny: skip the entry points whose name or distribution name is in
        it, or in ``SPINCYCLE_JOBS_DENY`` (comma-separated); a skipped plugin
        is never imported, nor listed.
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
        allow = env_names(ALLOW_ENV) if allow is None else allow
        self._allow = None if allow is None else frozenset(_names(allow))
        self._deny = frozenset(_names([*_as_list(deny), *(env_names(DENY_ENV) or [])]))
        self._cache = cache and not env_flag(NO_CACHE_ENV)
        #: Guards everything below: the catalogs, and what was registered.
        self._lock = threading.Lock()
        self._registered: list[Candidate] = []
        #: The entry points' plugins, from the index or from discovery; ``None`` until first need.
        self._catalog: Catalog | None = None
        #: In-process plugins, layered on top of :attr:`_catalog`.
        self._local: LiveCatalog | None = None
        self._used_index = False
        for plugin in plugins:
            self.register(plugin)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add an in-process plugin: a module or object with hook implementations.

        :param name: the plugin's name; by default its ``__name__``.
        :raises PluginError: in strict mode, when the plugin is broken.
        """
        from ._scan import Candidate  # noqa: PLC0415 - in-process plugins need pluggy anyway

        name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin):x}"
        candidate = Candidate(name, None, None, lambda: plugin)
        with self._lock:
            self._registered.append(candidate)
            if self._catalog is not None:
                try:
                    self._layer().add(candidate)
                except CorruptIndexError:
                    self._load(use_index=False)  # adds every registered plugin, this one too

    def make(self, job_type: str, job_name: str) -> Job:
        """Make a new, blank job of ``job_type`` named ``job_name``.

        Calls no method of the job but :meth:`Job.type` and :meth:`Job.name`,
        to check them.

        :raises UnknownJobTypeError: when no plugin offers ``job_type``.
        :raises PluginError: when the plugin's constructor fails, returns
            something other than a :class:`Job` of that type and name, or
            when more than one plugin offers ``job_type``.
        """
        offer = self._offer(job_type)
        info, constructor = offer.info, offer.constructor()
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

    def type_info(self, job_type: str) -> TypeInfo:
        """Return the record :meth:`types` lists for ``job_type``, looking up that type alone.

        .. versionadded:: 0.2

        :raises UnknownJobTypeError: when no plugin offers ``job_type``.
        :raises PluginError: when more than one plugin offers it.
        """
        return self._offer(job_type).info

    def types(self) -> list[TypeInfo]:
        """Return one record per job type that can be made, sorted by type.

        A type that more than one plugin offers is left out: see :meth:`conflicts`.
        """
        with self._lock:
            offers = self._read(self._all_offers)
        return [o[0].info for _, o in sorted(offers.items()) if len(o) == 1]

    def conflicts(self) -> list[tuple[TypeInfo, ...]]:
        """Return, for each job type that more than one plugin offers, every offer of it."""
        with self._lock:
            offers = self._read(self._all_offers)
        return [tuple(x.info for x in o) for _, o in sorted(offers.items()) if len(o) > 1]

    def plugins(self) -> list[PluginInfo]:
        """Return one record per plugin found, loaded or not, sorted by name."""
        with self._lock:
            plugins = self._read(self._all_plugins)
        return [info for _, info in sorted(plugins.items())]

    def refresh(self) -> None:
        """Discover again now, ignoring and rewriting the persisted index."""
        with self._lock:
            self._load(use_index=False)

    @property
    def used_index(self) -> bool:
        """Whether the plugins came from the persisted index (no plugin was imported to list them)."""
        with self._lock:
            self._read(lambda: None)
            return self._used_index

    def _offer(self, job_type: str) -> Offer:
        """Return the one offer of ``job_type``, or raise why there is none."""
        with self._lock:
            offers = self._read(lambda: self._offers(job_type))
            if not offers:
                raise self._unknown(job_type)
        if len(offers) > 1:
            raise conflict_error(job_type, [o.info for o in offers])
        return offers[0]

    # Everything below runs under self._lock.

    def _read(self, read: Callable[[], T]) -> T:
        """Return what ``read`` finds in the catalogs, loading them on first need.

        An index whose rows turn out damaged is dropped: discovery runs, and ``read`` again.
        """
        try:
            if self._catalog is None:
                self._load(use_index=True)
            return read()
        except CorruptIndexError:
            self._load(use_index=False)
            return read()

    def _load(self, *, use_index: bool) -> None:
        """Set the catalog: the index's snapshot, else discovery now; then the in-process layer."""
        self._catalog, self._local, self._used_index = None, None, False
        catalog: Catalog = _Empty()
        if self._autoload:
            index = locate(self._group, self._allow, self._deny) if self._cache else None
            snapshot = index.read() if index is not None and use_index else None
            if snapshot is not None:
                catalog, self._used_index = IndexCatalog(snapshot), True
            else:
                from ._scan import scan  # noqa: PLC0415 - discovery needs pluggy and importlib.metadata

                catalog = scan(self._group, self._allow, self._deny, strict=self._strict, index=index)
        self._catalog = catalog
        for candidate in self._registered:
            self._layer().add(candidate)

    def _layer(self) -> LiveCatalog:
        """Return the in-process plugins' catalog, made on first need."""
        if self._local is None:
            from ._scan import LiveCatalog  # noqa: PLC0415 - in-process plugins need pluggy

            self._local = LiveCatalog(strict=self._strict, below=self._catalog)
        return self._local

    def _catalogs(self) -> list[Catalog]:
        return [c for c in (self._catalog, self._local) if c is not None]

    def _offers(self, job_type: str) -> list[Offer]:
        return [offer for catalog in self._catalogs() for offer in catalog.offers(job_type)]

    def _all_offers(self) -> dict[str, list[Offer]]:
        merged: dict[str, list[Offer]] = {}
        for catalog in self._catalogs():
            for job_type, offers in catalog.all_offers().items():
                merged.setdefault(job_type, []).extend(offers)
        return merged

    def _all_plugins(self) -> dict[str, PluginInfo]:
        merged: dict[str, PluginInfo] = {}
        for catalog in self._catalogs():
            for name, info in catalog.plugins().items():
                merged.setdefault(name, info)
        return merged

    def _unknown(self, job_type: str) -> UnknownJobTypeError:
        import difflib  # noqa: PLC0415 - only this error needs it

        known = [t for t, o in self._read(self._all_offers).items() if len(o) == 1]
        failed = tuple(
            (name, f"{type(info.error).__name__}: {info.error}")
            for name, info in sorted(self._read(self._all_plugins).items())
            if info.error is not None
        )
        wanted = job_type.lower()
        suggestions = tuple(
            difflib.get_close_matches(job_type, known, n=3)
            or sorted(t for t in known if wanted and wanted in t.lower())[:3]
        )
        return UnknownJobTypeError(job_type, suggestions=suggestions, failed_plugins=failed)


def _as_list(names: Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _names(names: Iterable[str]) -> set[str]:
    """Return ``names`` (a single name too) with their normalized distribution spellings."""
    items = _as_list(names)
    return {*items, *map(normalize, items)}
