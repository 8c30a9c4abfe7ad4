"""The chain commands: ``chain create``, ``run``, ``resume`` and ``show``; :mod:`._ops` adds the operators'.

``register`` adds them (see :mod:`._common` for how a group registers).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from spincycle_jobs._errors import JobError
from spincycle_jobs._jsondata import deeper
from spincycle_jobs._jsondata import problem
from spincycle_jobs._state import State

from ._common import EXIT_FAIL
from ._common import EXIT_OK
from ._common import MAX_JSON_DEPTH
from ._common import UsageError
from ._common import add_kv
from ._common import add_output_file
from ._common import clean
from ._common import document_hint
from ._common import err
from ._common import factory
from ._common import kv_dict
from ._common import out
from ._common import plural
from ._common import read_text
from ._common import scheduler_address
from ._common import seconds
from ._common import typed_hint
from ._common import wants_json
from ._common import write_text
from ._ops import add_store
from ._ops import open_store
from ._ops import register as register_ops
from ._save import Saver
from ._signals import run_interruptibly
from ._signals import signal_exit

if TYPE_CHECKING:
    from collections.abc import Collection

    from spincycle_jobs._chain import Chain
    from spincycle_jobs._chain import ChainBuilder
    from spincycle_jobs._chain import ChainJob
    from spincycle_jobs._chainrunner import ChainResult
    from spincycle_jobs._chainrunner import ChainRunner
    from spincycle_jobs._executor import Executor
    from spincycle_jobs._store import Store

    from ._common import Commands

__all__ = ["dot", "draw", "register"]

#: The keys a ``[[jobs]]`` table of a request spec may have, and the type of each.
_JOB_KEYS: Final = {
    "id": (str,),
    "type": (str,),
    "name": (str,),
    "after": (list,),
    "retry": (int,),
    "retry_wait": (int, float),
    "args": (dict,),
}


def register(commands: Commands) -> None:
    """Add the ``chain`` group."""
    chain = commands.group(
        "chain",
        "Build and run job chains: graphs of jobs that pass job data along.",
        description=(
            "Subcommands: create (a TOML request spec to a chain document), run, resume, show;\n"
            "over the run store: ps, status, log, list, stop."
        ),
    )
    create = chain.add(
        "create",
        _create,
        "Build a chain from a TOML request spec and write its chain document (the Request Manager's side).",
        description=(
            "The spec has a request_id (--request-id gives another), an optional [args] table of\n"
            "job args, and [[jobs]] tables with id, type, name and the optional after (a list of\n"
            "ids), retry, retry_wait and args (a table laid over [args] for that job's create alone).\n"
            "Every job is made, created (all with one job args dict) and serialized, in order."
        ),
        writes_file=True,
    )
    create.add_argument("spec", metavar="SPEC.toml", help="the request spec")
    add_kv(create, "-a", "--arg", "job_args", "a job arg, added to [args] or overriding it")
    create.add_argument(
        "--request-id",
        metavar="ID",
        help="the chain's request id, instead of the spec's: a spec run many times needs one a run",
    )
    add_output_file(create, "the chain document")
    run = chain.add(
        "run",
        _run,
        "Run a chain document (the Job Runner's side).",
        description=(
            "A job starts once every job in its 'after' has completed; the first Ctrl-C, SIGTERM or\n"
            "SIGHUP stops the chain and waits for its running jobs; a second gives up.\n"
            "Exit code: 0 when the chain completes, 1 when it fails or is stopped, 2 on bad input."
        ),
    )
    run.add_argument(
        "--from", dest="from_file", metavar="FILE", required=True, help="the chain document ('-': stdin)"
    )
    add_drive_options(run)
    run.add_argument("--no-store", action="store_true", help="do not record the run in the run store")
    add_kv(run, "-d", "--data", "job_data", "a job data key the first jobs start with")
    resume = chain.add(
        "resume",
        _resume,
        "Run a recorded run on from the run store: its completed jobs are not run again.",
        description=(
            "A run that failed, was stopped, or whose driver is gone (lost) can be resumed; one process\n"
            "drives a run at a time. Exit codes as chain run's."
        ),
    )
    resume.add_argument("request_id", metavar="REQUEST_ID")
    add_drive_options(resume)
    show = chain.add("show", _show, "Draw a chain document's jobs, their order and their states.")
    show.add_argument("file", metavar="FILE", help="the chain document ('-': stdin)")
    show.add_argument("--dot", action="store_true", help="write the graph in Graphviz's dot language")
    register_ops(chain)


def add_drive_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of the commands that drive a run: where its jobs run, the store, ``--save``."""
    parser.formatter_class = _ExecutorsHelp
    parser.add_argument(
        "--executor",
        default="thread",
        metavar="NAME",
        help="where the jobs run: an installed executor ({executors}); default: thread",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        type=scheduler_address,
        help="the Dask scheduler, for --executor dask",
    )
    parser.add_argument(
        "--connect-timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="seconds to wait for the scheduler (default: 10)",
    )
    parser.add_argument(
        "--save", metavar="FILE", help="keep the chain document here, rewritten at most once a second"
    )
    parser.add_argument(
        "--stop-timeout", type=seconds, default=10.0, metavar="S", help="seconds stopped jobs get to return"
    )
    add_store(parser)


class _ExecutorsHelp(argparse.RawDescriptionHelpFormatter):
    """Names the installed executors in ``--help``, looked up only when help is shown."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text is not None and "{executors}" in text:
            from spincycle_jobs._executors import installed  # noqa: PLC0415 - only for --help

            text = text.replace("{executors}", ", ".join(installed()))
        return text


# -- chain create --


def _read_spec(path: str) -> dict[str, Any]:
    import tomllib  # noqa: PLC0415 - only chain create reads TOML

    try:
        with open(path, "rb") as file:  # noqa: PTH123 - a plain file the user named
            spec: dict[str, Any] = tomllib.loads(file.read().decode("utf-8"))
    except OSError as error:
        msg = f"cannot read request spec {path!r}: {error.strerror or error}"
        raise UsageError(msg) from None
    except UnicodeDecodeError as error:
        msg = f"request spec {path!r} is not UTF-8 text (byte {error.start}): TOML files are UTF-8"
        raise UsageError(msg) from None
    except tomllib.TOMLDecodeError as error:
        msg = f"request spec {path!r} is not TOML: {error}"
        raise UsageError(msg) from None
    except RecursionError:
        msg = f"request spec {path!r} nests arrays or tables too deeply"
        raise UsageError(msg) from None
    bad = problem(spec)  # TOML has dates and times, which JSON data does not
    if bad is None and deeper(spec, MAX_JSON_DEPTH):
        bad = f"it nests arrays or tables more than {MAX_JSON_DEPTH} deep"
    if bad is not None:
        msg = f"request spec {path!r}: {bad}"
        raise UsageError(msg)
    return spec


def _builder(spec: dict[str, Any], where: str, opts: argparse.Namespace) -> ChainBuilder:
    """Check a request spec's shape, naming the key at fault, and return a builder with its jobs."""
    unknown = set(spec) - {"request_id", "args", "jobs"}
    if unknown:
        msg = f"{where}: unknown top-level key {min(unknown)!r} (expected request_id, args, jobs)"
        raise UsageError(msg)
    request_id, args, jobs = spec.get("request_id"), spec.get("args", {}), spec.get("jobs")
    if opts.request_id is not None:
        request_id = opts.request_id
        if not request_id:
            msg = "--request-id must be a non-empty string"
            raise UsageError(msg)
    if not isinstance(request_id, str) or not request_id:
        msg = f"{where}: request_id must be a non-empty string"
        raise UsageError(msg)
    if not isinstance(args, dict):
        msg = f"{where}: args must be a table"
        raise UsageError(msg)
    if not isinstance(jobs, list) or not jobs:
        msg = f"{where}: no [[jobs]]: a chain needs at least one job"
        raise UsageError(msg)
    from spincycle_jobs._chain import ChainBuilder  # noqa: PLC0415 - other commands never load chains

    builder = ChainBuilder(request_id, args | kv_dict(opts.job_args), factory=factory(opts))
    for i, job in enumerate(jobs, 1):
        builder.job(**_job_options(job, f"{where}, job #{i}"))
    return builder


def _job_options(job: object, where: str) -> dict[str, Any]:
    if not isinstance(job, dict):
        msg = f"{where}: expected a [[jobs]] table"
        raise UsageError(msg)
    if isinstance(job.get("id"), str):
        where = f"{where} ({job['id']!r})"
    for key, value in job.items():
        if key not in _JOB_KEYS:
            msg = f"{where}: unknown key {key!r} (expected {', '.join(_JOB_KEYS)})"
            raise UsageError(msg)
        if not isinstance(value, _JOB_KEYS[key]) or isinstance(value, bool):
            kinds = " or ".join(t.__name__ for t in _JOB_KEYS[key])
            msg = f"{where}: {key} must be {kinds}, got {type(value).__name__}"
            raise UsageError(msg)
    for key in ("id", "type", "name"):
        if key not in job:
            msg = f"{where}: {key} is missing"
            raise UsageError(msg)
    if not all(isinstance(a, str) for a in job.get("after", [])):
        msg = f"{where}: after must be a list of job ids (strings)"
        raise UsageError(msg)
    return {
        "id": job["id"],
        "job_type": job["type"],
        "job_name": job["name"],
        "after": job.get("after", ()),
        "retry": job.get("retry", 0),
        "retry_wait": job.get("retry_wait", 0.0),
        "args": job.get("args"),
    }


def _create(opts: argparse.Namespace) -> int:
    from spincycle_jobs._chain import ChainError  # noqa: PLC0415 - other commands never load chains

    where = f"request spec {opts.spec!r}"
    try:
        chain = _builder(_read_spec(opts.spec), where, opts).build()
    except ChainError as error:
        hint = typed_hint(error.__cause__, opts.job_args)
        if not hint:
            raise
        msg = f"{error}{hint}"
        raise ChainError(msg, error.job_id) from error
    write_text(opts.output, chain.to_json())
    return EXIT_OK


# -- chain run --


def _read_chain(path: str) -> Chain:
    from spincycle_jobs._chain import Chain  # noqa: PLC0415 - other commands never load chains
    from spincycle_jobs._chain import ChainError  # noqa: PLC0415

    text = read_text(path, "chain document")
    try:
        return Chain.from_json(text, f"chain document {'<stdin>' if path == '-' else path!r}")
    except ChainError as error:
        hint = document_hint(text, path, error)
        if not hint:
            raise
        msg = f"{error}{hint}"
        raise ChainError(msg) from None


def _executor(opts: argparse.Namespace) -> Executor:
    """Make the executor ``--executor`` names, from the entry-point group of executors."""
    from spincycle_jobs._executors import load  # noqa: PLC0415 - only commands that run chains
    from spincycle_jobs._executors import named  # noqa: PLC0415

    try:
        make = load(opts.executor)
    except LookupError as error:
        msg = f"--executor {opts.executor}: {error.args[0]}"
        raise UsageError(msg) from None
    except ImportError as error:
        extra = " (pip install 'spincycle-jobs[dask]')" if opts.executor == "dask" else ""
        msg = f"--executor {opts.executor} cannot be loaded{extra}: {error}"
        raise UsageError(msg) from None
    try:
        executor: Executor = make(
            scheduler=opts.scheduler, factory=factory(opts), connect_timeout=opts.connect_timeout
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except JobError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever an executor raises, it is the options it was given
        msg = f"cannot use --executor {opts.executor}: {type(error).__name__}: {error}"
        raise UsageError(msg) from None
    named(executor, opts.executor)
    return executor


def _run(opts: argparse.Namespace) -> int:
    chain = _read_chain(opts.from_file)
    store = None if opts.no_store else open_store(opts)
    return _drive(opts, chain, store, resume=False)


def _resume(opts: argparse.Namespace) -> int:
    store = open_store(opts)
    try:
        chain = store.chain(opts.request_id)
    except BaseException:
        store.close()
        raise
    return _drive(opts, chain, store, resume=True)


def _drive(opts: argparse.Namespace, chain: Chain, store: Store | None, *, resume: bool) -> int:
    """Run ``chain`` (recorded in ``store``, resumed from it with ``resume``) as ``chain run`` does."""
    from spincycle_jobs._chainrunner import ChainRunner  # noqa: PLC0415 - other commands never load chains

    saver, final = None, None
    try:
        saver = Saver(opts.save, chain) if opts.save else None
        executor = _executor(opts)
        try:
            options: dict[str, Any] = {
                "executor": executor,
                "stop_timeout": opts.stop_timeout,
                "on_job_end": None if saver is None else saver.changed,
            }
            if resume:
                assert store is not None  # noqa: S101 - resume opens it
                runner = ChainRunner.resume(store, chain.request_id, **options)
                job_data = None
            else:
                runner = ChainRunner(chain, store=store, **options)
                job_data = kv_dict(opts.job_data)
            if saver is not None:
                saver.follow(runner.snapshot)
            outcome = run_interruptibly(
                lambda: runner.run(job_data),
                runner.stop,
                what=f"chain {chain.request_id}",
                status=lambda: _status_line(chain, runner),
            )
            final = None if outcome.value is None else outcome.value.chain
        finally:
            executor.close()
    finally:
        if saver is not None:
            saver.close(final)
        if store is not None:
            store.close()
    if outcome.value is None:  # a second signal: gave up waiting
        return signal_exit(outcome.signum or 0)
    result = outcome.value
    _report(opts, result)
    if result.state == State.COMPLETE:
        return EXIT_OK
    return EXIT_FAIL if outcome.signum is None else signal_exit(outcome.signum)


def _status_line(chain: Chain, runner: ChainRunner) -> str:
    running = runner.status()
    parts = [f"{s.id} (try {s.tries}{': ' + s.status if s.status else ''})" for s in running]
    return f"chain {chain.request_id}: running {', '.join(parts) or 'nothing'}"


def _report(opts: argparse.Namespace, result: ChainResult) -> None:
    chain = result.chain
    if wants_json(opts):
        jobs = {}
        for job_id, run in result.jobs.items():
            returns = [
                {
                    "state": r.state.name,
                    "exit": r.exit,
                    "error": None if r.error is None else str(r.error),
                    "stdout": r.stdout,
                    "stderr": r.stderr,
                }
                for r in run.returns
            ]
            job = chain.jobs[job_id]
            jobs[job_id] = {"type": job.type, "name": job.name, "state": run.state.name, "tries": run.tries}
            jobs[job_id]["returns"] = returns
        value = {"request_id": chain.request_id, "state": result.state.name, "jobs": jobs}
        out(json.dumps(value | {"job_data": result.job_data}, indent=2))
        return
    _outputs(result, debug=bool(getattr(opts, "debug", False)))
    skipped = {job_id for job_id, run in result.jobs.items() if run.state == State.COMPLETE and not run.tries}
    out(draw(chain, done_before=skipped))
    err(clean(f"chain {chain.request_id}: {result.state.name}"))


def _outputs(result: ChainResult, *, debug: bool) -> None:
    """Show what each try printed, its lines tagged with the job's id: stdout to stdout, stderr to stderr.

    With ``--debug``, the traceback of a try that raised follows, wherever it ran.
    """
    for job_id, run in result.jobs.items():
        for number, returned in enumerate(run.returns, 1):
            tag = job_id if len(run.returns) == 1 else f"{job_id} (try {number})"
            for line in returned.stdout.splitlines():
                out(clean(f"{tag} | {line}"))
            for line in returned.stderr.splitlines():
                err(clean(f"{tag} | {line}"))
            trace = getattr(returned.error, "traceback", None)
            if debug and trace:
                err(f"{tag}: the try raised:\n{trace.rstrip()}")


# -- chain show --


def _show(opts: argparse.Namespace) -> int:
    chain = _read_chain(opts.file)
    if opts.dot:
        out(dot(chain), end="")
    elif wants_json(opts):
        layer = _layers(chain)
        jobs = [job.to_dict() | {"layer": layer[job.id]} for job in chain.jobs.values()]
        for job in jobs:
            del job["record"]
        out(json.dumps({"request_id": chain.request_id, "jobs": jobs}, indent=2))
    else:
        out(draw(chain))
    return EXIT_OK


def _layers(chain: Chain) -> dict[str, int]:
    """Each job's layer: 1 for a job after nothing, else one more than its latest after-job's."""
    layer: dict[str, int] = {}
    for job in chain.jobs.values():  # topological order: every after-job has its layer already
        layer[job.id] = 1 + max((layer[a] for a in job.after), default=0)
    return layer


_MARKS: Final = {
    State.COMPLETE: ("✔", "ok"),
    State.FAIL: ("✘", "XX"),
    State.TIMEOUT: ("⧗", "TO"),
    State.STOPPED: ("■", "[]"),
    State.RUNNING: ("▶", ">>"),
    State.PENDING: ("○", ".."),
    State.UNKNOWN: ("?", "??"),
}
#: Box-drawing pieces, then their ASCII stand-ins for a terminal that cannot show them.
_LINES: Final = {"down": ("│", "|"), "fork": ("├─", "+-"), "last": ("└─", "`-"), "from": ("◀", "<-")}


def draw(chain: Chain, *, unicode: bool | None = None, done_before: Collection[str] = ()) -> str:
    """Draw a chain for a terminal: its layers in order, each job with its state and what it runs after.

    Jobs in one layer can run side by side; a job's layer is one more than
    that of the latest job it runs after. Ids, types and names longer than
    a column allows are cut short with ``…``; errors are cut at the
    terminal's width (``COLUMNS``, when set).

    :param unicode: use box-drawing characters; by default, when stdout's encoding is UTF.
    :param done_before: the ids of jobs a resumed run skipped, recorded ``COMPLETE`` before it.
    """
    if unicode is None:
        unicode = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").startswith("utf")
    pick = 0 if unicode else 1
    mark = {state: marks[pick] for state, marks in _MARKS.items()}
    piece = {name: pieces[pick] for name, pieces in _LINES.items()}
    layer = _layers(chain)
    by_layer: dict[int, list[ChainJob]] = {}
    for job in chain.jobs.values():
        by_layer.setdefault(layer[job.id], []).append(job)
    counts: dict[str, int] = {}
    for job in chain.jobs.values():
        counts[job.state.name] = counts.get(job.state.name, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in counts.items())
    head_line = f"chain {_cut(chain.request_id, _ID_WIDTH)}: {plural(len(chain.jobs), 'job')} in "
    lines = [clean(f"{head_line}{plural(len(by_layer), 'layer')} ({summary})")]
    ids = {job.id: _cut(job.id, _ID_WIDTH) for job in chain.jobs.values()}
    whats = {job.id: _cut(f"{job.type} {job.name!r}", _WHAT_WIDTH) for job in chain.jobs.values()}
    id_width, what_width = max(map(len, ids.values())), max(map(len, whats.values()))
    columns = shutil.get_terminal_size((160, 24)).columns
    for number, jobs in sorted(by_layer.items()):
        lines.append(f"     {piece['down']}" if number > 1 else "")
        for i, job in enumerate(jobs):
            branch = piece["last"] if i == len(jobs) - 1 else piece["fork"]
            if len(jobs) == 1:
                branch = "  "
            head = f"{number:>3}  " if i == 0 else "     "
            tries = "" if not job.tries else f"{job.tries} {'try' if job.tries == 1 else 'tries'}"
            if job.id in done_before:
                tries = "done before"
            text = (
                f"{branch}{mark[job.state]} {ids[job.id].ljust(id_width)}  {job.state.name:<8}  "
                f"{tries:<11}  {whats[job.id].ljust(what_width)}"
            )
            if job.after:
                text += f"  {piece['from']} {_cut(', '.join(job.after), _AFTER_WIDTH)}"
            lines.append(head + text.rstrip())
            if job.error and job.state != State.COMPLETE:
                indent = " " * (5 + len(branch) + 2)
                lines.append(clean(f"{indent}{job.error}")[: max(columns, 40)])
    return "\n".join(lines)


#: The widest an id, a type and name, and an 'after' list are drawn.
_ID_WIDTH: Final = 40
_WHAT_WIDTH: Final = 60
_AFTER_WIDTH: Final = 80


def _cut(text: str, width: int) -> str:
    """Return ``text`` made safe for a terminal (:func:`clean`), cut to ``width`` with ``…``."""
    text = clean(text)
    return text if len(text) <= width else text[: width - 1] + "…"


_FILL: Final = {
    State.COMPLETE: "palegreen",
    State.FAIL: "lightpink",
    State.TIMEOUT: "lightpink",
    State.STOPPED: "khaki",
    State.RUNNING: "lightblue",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(chain: Chain) -> str:
    """Return the chain as a Graphviz digraph: a box per job with its state, an edge per ``after``."""
    lines = [
        f"digraph {_quote(chain.request_id)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
    ]
    for job in chain.jobs.values():
        label = f"{job.id}\n{job.type} {job.name!r}\n{job.state.name}"
        fill = _FILL.get(job.state, "white")
        lines.append(f"  {_quote(job.id)} [label={_quote(label)}, fillcolor={fill}];")
    lines += [
        f"  {_quote(before)} -> {_quote(job.id)};" for job in chain.jobs.values() for before in job.after
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"
