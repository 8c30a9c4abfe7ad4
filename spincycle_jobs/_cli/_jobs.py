"""The job commands: ``list``, ``show``, ``doctor``, ``create`` and ``run``.

``register`` adds them (see :mod:`._common` for how a group registers).
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import TYPE_CHECKING
from typing import Any

from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import DocumentError
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import dump_document
from spincycle_jobs._document import load_document
from spincycle_jobs._document import make_job
from spincycle_jobs._errors import JobError
from spincycle_jobs._errors import type_name
from spincycle_jobs._runner import Runner
from spincycle_jobs._state import State

from ._common import EXIT_FAIL
from ._common import EXIT_OK
from ._common import UsageError
from ._common import add_kv
from ._common import add_output_file
from ._common import clean
from ._common import document_hint
from ._common import emit
from ._common import err
from ._common import factory
from ._common import kv_dict
from ._common import out
from ._common import read_text
from ._common import seconds
from ._common import table
from ._common import type_dict
from ._common import typed_hint
from ._common import wants_json
from ._common import warn
from ._common import write_text
from ._doctor import doctor
from ._signals import run_interruptibly
from ._signals import signal_exit

if TYPE_CHECKING:
    import argparse

    from spincycle_jobs._factory import Factory
    from spincycle_jobs._job import Job
    from spincycle_jobs._runner import RunResult

    from ._common import Commands

__all__ = ["register"]


def register(commands: Commands) -> None:
    """Add the job commands."""
    commands.add("list", _list, "List the installed job types, conflicts and broken plugins.")
    show = commands.add("show", _show, "Describe one job type: where it comes from, and its documentation.")
    show.add_argument("type", help="the job type")
    commands.add(
        "doctor",
        doctor,
        "Check what is installed: import every plugin and job type, and report what is wrong.",
        description="Exit code 0 when nothing is wrong, 1 when something is.",
    )
    create = commands.add(
        "create",
        _create,
        "Create a job and write its job document (the Request Manager's side).",
        description="The document holds the serialized job; 'run --from' runs it, on this host or another.",
        writes_file=True,
    )
    create.add_argument("type", help="the job type")
    create.add_argument("name", help="the job name")
    add_kv(create, "-a", "--arg", "job_args", "a job arg")
    add_output_file(create, "the job document")
    run = commands.add(
        "run",
        _run,
        "Run a job through the whole call sequence (the Job Runner's side).",
        description=(
            "The first Ctrl-C, SIGTERM or SIGHUP stops the job and waits for it; a second gives up.\n"
            "Exit code: 0 when the job completes, else the job's exit code, or 1."
        ),
    )
    run.add_argument("type", nargs="?", help="the job type (not with --from)")
    run.add_argument("name", nargs="?", help="the job name (not with --from)")
    add_kv(run, "-a", "--arg", "job_args", "a job arg")
    add_kv(run, "-d", "--data", "job_data", "a job data key")
    run.add_argument("--from", dest="from_file", metavar="FILE", help="run a job document ('-' for stdin)")
    run.add_argument("--timeout", type=seconds, metavar="S", help="seconds a try may take")
    run.add_argument("--retries", type=int, default=0, metavar="N", help="more tries for a try that fails")
    run.add_argument("--retry-wait", type=seconds, default=0.0, metavar="S", help="seconds between tries")


def _list(opts: argparse.Namespace) -> int:
    jobs = factory(opts)
    types, plugins, conflicts = jobs.types(), jobs.plugins(), jobs.conflicts()
    broken = [p for p in plugins if p.error is not None]
    rows = [["TYPE", "PLUGIN", "DISTRIBUTION", "VERSION"]]
    rows += [[t.type, t.plugin, t.distribution or "-", t.version or "-"] for t in types]
    lines = [table(rows) if types else "no job types installed"]
    lines += [
        clean(f"conflict: {c[0].type!r} is offered by {', '.join(i.plugin for i in c)}") for c in conflicts
    ]
    lines += [clean(f"broken plugin {p.name!r} ({p.distribution}): {p.error}") for p in broken]
    lines.append("index: used" if jobs.used_index else "index: not used (every plugin was loaded)")
    value = {
        "index_used": jobs.used_index,
        "types": [type_dict(t) for t in types],
        "conflicts": [[type_dict(i) for i in c] for c in conflicts],
        "broken": [{"name": p.name, "distribution": p.distribution, "error": str(p.error)} for p in broken],
    }
    emit(opts, value, "\n".join(lines))
    return EXIT_OK


def _show(opts: argparse.Namespace) -> int:
    jobs = factory(opts)
    info = jobs.type_info(opts.type)
    job = jobs.make(info.type, "show")
    doc = inspect.cleandoc(type(job).__doc__ or "")
    value = type_dict(info) | {"class": type_name(type(job)), "doc": doc}
    text = "\n".join(clean(f"{k}: {v}") for k, v in value.items() if k != "doc") + (
        f"\n\n{doc}" if doc else ""
    )
    emit(opts, value, text)
    return EXIT_OK


def _created(opts: argparse.Namespace, jobs: Factory) -> JobRecord:
    """Make, create and serialize the job the options name."""
    jobs.type_info(opts.type)
    try:
        return JobRecord.create(jobs, opts.type, opts.name, kv_dict(opts.job_args))
    except JobError as error:
        hint = typed_hint(error, opts.job_args)
        if not hint:
            raise
        msg = f"{error}{hint}"
        raise JobError(msg) from error


def _create(opts: argparse.Namespace) -> int:
    record = _created(opts, factory(opts))
    write_text(opts.output, dump_document(JOB_FORMAT, record.to_dict()))
    return EXIT_OK


def _job_from_document(jobs: Factory, path: str) -> Job:
    text = read_text(path, "job document")
    where = f"job document {path!r}"
    try:
        body = load_document(text, JOB_FORMAT, where)
    except DocumentError as error:
        hint = document_hint(text, path, error)
        if not hint:
            raise
        msg = f"{error}{hint}"
        raise DocumentError(msg) from None
    record = JobRecord.from_dict(body, where)
    return make_job(jobs, record, where, warn)


def _run(opts: argparse.Namespace) -> int:
    jobs = factory(opts)
    if opts.from_file is not None:
        if opts.type or opts.name or opts.job_args:
            msg = "run --from takes no TYPE, NAME or -a: the document holds them"
            raise UsageError(msg)
        job = _job_from_document(jobs, opts.from_file)
    else:
        if not (opts.type and opts.name):
            msg = "run needs TYPE and NAME, or --from FILE"
            raise UsageError(msg)
        job = make_job(jobs, _created(opts, jobs), "the job", warn)
    try:
        runner = Runner(job, timeout=opts.timeout, retries=opts.retries, retry_wait=opts.retry_wait)
    except ValueError as error:
        raise UsageError(str(error)) from None
    what = f"{job.type()} {job.name()}"
    job_data = kv_dict(opts.job_data)

    def status() -> str:
        st = runner.status()
        return f"{what} (try {st.tries}): {'waiting to retry' if st.sleeping else st.status}"

    try:
        outcome = run_interruptibly(lambda: runner.run(job_data), runner.stop, what=what, status=status)
    except (SystemExit, KeyboardInterrupt) as error:  # the job's run() raised them: a broken job
        return _raised(opts, what, error)
    if outcome.value is None:
        return signal_exit(outcome.signum or 0)
    _report(opts, job, outcome.value)
    if outcome.value.state == State.COMPLETE:
        return EXIT_OK
    if outcome.signum is not None:
        return signal_exit(outcome.signum)
    return _exit_code(outcome.value)


def _exit_code(result: RunResult) -> int:
    """Return the exit code of a run that did not complete: the job's own, else 1."""
    code = result.returns[-1].exit if result.returns else 0
    if not isinstance(code, int) or code == 0 or code > 255:  # type: ignore[redundant-expr] # a sloppy job  # noqa: PLR2004 - the largest exit code
        return EXIT_FAIL
    if code < 0:  # its command was killed by signal -code: the shell's convention
        return signal_exit(-code) if -code < 128 else EXIT_FAIL  # noqa: PLR2004
    return code


def _raised(opts: argparse.Namespace, what: str, error: BaseException) -> int:
    name = type_name(type(error))
    if opts.debug:
        import traceback  # noqa: PLC0415 - only --debug needs it

        traceback.print_exception(error)
    if wants_json(opts):
        out(json.dumps({"state": State.FAIL.name, "error": str(error), "error_type": name}, indent=2))
    err(clean(f"{what}: FAIL: its run() raised {name}({error}), which a job must never do"))
    return EXIT_FAIL


def _error_fields(error: BaseException | None) -> dict[str, Any]:
    if error is None:
        return {"error": None, "error_type": None}
    return {"error": str(error), "error_type": type_name(type(error))}


def _report(opts: argparse.Namespace, job: Job, result: RunResult) -> None:
    last = result.returns[-1] if result.returns else None
    if wants_json(opts):
        value = {
            "type": job.type(),
            "name": job.name(),
            "state": result.state.name,
            "tries": result.tries,
            "returns": [
                {
                    "state": r.state.name,
                    "exit": r.exit,
                    **_error_fields(r.error),
                    "stdout": r.stdout,
                    "stderr": r.stderr,
                }
                for r in result.returns
            ],
        }
        out(json.dumps(value, indent=2))
        return
    if last is not None:
        out(last.stdout, end="")
        sys.stdout.flush()
        err(last.stderr, end="")
    tries = f"{result.tries} {'try' if result.tries == 1 else 'tries'}"
    exit_code = last.exit if last else 0
    err(clean(f"{job.type()} {job.name()}: {result.state.name} (exit {exit_code}, {tries})"))
    if last is not None and last.error is not None:
        if opts.debug:
            import traceback  # noqa: PLC0415 - only --debug needs it

            traceback.print_exception(last.error)
        err(clean(f"error: {type_name(type(last.error))}: {last.error}"))
