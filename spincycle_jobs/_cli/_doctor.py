"""``doctor``: load every plugin, make a job of every type, and say what is wrong, and where."""

from __future__ import annotations

import re
import traceback
from typing import TYPE_CHECKING
from typing import Any

from spincycle_jobs._catalog import PROJECT_NAME
from spincycle_jobs._catalog import normalize

from ._common import EXIT_FAIL
from ._common import EXIT_OK
from ._common import clean
from ._common import emit
from ._common import factory
from ._common import plural
from ._common import type_dict

if TYPE_CHECKING:
    import argparse

    from spincycle_jobs._factory import TypeInfo

__all__ = ["doctor", "forgotten_entry_points", "origin"]

_DIST: str = "spincycle-jobs"


def _needs_us(requirement: str) -> bool:
    """Whether a ``Requires-Dist`` line names spincycle-jobs, other than through an extra."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    marker = requirement.partition(";")[2]
    return name is not None and normalize(name[1]) == _DIST and "extra" not in marker


def forgotten_entry_points(group: str = PROJECT_NAME) -> list[tuple[str, str | None]]:
    """Installed distributions that depend on spincycle-jobs but declare no entry point in ``group``.

    :returns: ``(name, version)`` of each, sorted, each name once.
    """
    from importlib.metadata import distributions  # noqa: PLC0415 - only doctor needs it

    found: dict[str, tuple[str, str | None]] = {}
    for dist in distributions():
        name = dist.metadata["Name"] or ""
        key = normalize(name)
        if not name or key == _DIST or key in found:
            continue
        if any(_needs_us(r) for r in dist.requires or ()):
            found[key] = (name, dist.version)
            if any(ep.group == group for ep in dist.entry_points):
                found[key] = ("", None)  # a plugin: seen, and fine
    return sorted(v for v in found.values() if v[0])


def origin(error: BaseException) -> str:
    """Where an error was raised: the innermost frame of the plugin's code, following its causes.

    Frames of the import machinery (``<frozen importlib._bootstrap>``) are
    skipped: a module that is missing is reported at the plugin's import.
    """
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:  # a cause can loop back
        error = error.__cause__
        seen.add(id(error))
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if not f.filename.startswith("<") and "importlib" not in f.filename]
    if not (ours or frames):
        return "unknown"
    frame = (ours or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def doctor(opts: argparse.Namespace) -> int:
    """Report each plugin, each type that cannot be made, conflicts and forgotten entry points."""
    jobs = factory(opts, cache=False)  # load every plugin now: errors and load times as they are today
    plugins, conflicts, types = jobs.plugins(), jobs.conflicts(), jobs.types()
    broken = [p for p in plugins if p.error is not None]
    unmakeable: list[tuple[TypeInfo, BaseException]] = []
    for info in types:
        try:
            jobs.make(info.type, "doctor")
        except Exception as problem:  # noqa: BLE001 - any failure to make is what doctor reports
            unmakeable.append((info, problem))
    forgotten = forgotten_entry_points()
    lines = []
    for p in plugins:
        state = f"BROKEN: {_describe(p.error)} (at {origin(p.error)})" if p.error else "ok"
        lines.append(
            f"{p.name} ({p.distribution} {p.version}), loaded in {p.load_seconds * 1000:.1f} ms: {state}"
        )
    for info, error in unmakeable:
        lines.append(f"BROKEN TYPE: {info.type!r} ({info.target}): {_describe(error)} (at {origin(error)})")
    for c in conflicts:
        who = " and ".join(f"{i.plugin} ({i.distribution} {i.version})" for i in c)
        lines.append(f"CONFLICT: job type {c[0].type!r} is offered by {who}")
    for name, version in forgotten:
        lines.append(
            f"NO ENTRY POINT: {name} {version} depends on spincycle-jobs but declares no entry point "
            f"in group {PROJECT_NAME!r}; add [project.entry-points.{PROJECT_NAME}] to its pyproject.toml"
        )
    problems = len(broken) + len(unmakeable) + len(conflicts) + len(forgotten)
    lines.append(
        f"{plural(len(plugins), 'plugin')}, {plural(len(types), 'job type')}, {plural(problems, 'problem')}"
    )
    value: dict[str, Any] = {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "load_ms": round(p.load_seconds * 1000, 3),
                "error": None if p.error is None else _describe(p.error),
                "origin": None if p.error is None else origin(p.error),
            }
            for p in plugins
        ],
        "broken_types": [
            {
                "type": i.type,
                "plugin": i.plugin,
                "target": i.target,
                "error": _describe(e),
                "origin": origin(e),
            }
            for i, e in unmakeable
        ],
        "conflicts": [[type_dict(i) for i in c] for c in conflicts],
        "no_entry_point": [{"distribution": n, "version": v} for n, v in forgotten],
        "problems": problems,
    }
    emit(opts, value, "\n".join(clean(line) for line in lines))
    return EXIT_FAIL if problems else EXIT_OK
