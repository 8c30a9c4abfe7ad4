"""The ``spincycle-jobs`` command line: list, show, create, run and doctor."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING
from typing import Any
from typing import NoReturn
from typing import TextIO

from ._document import JOB_FORMAT
from ._document import JobRecord
from ._document import dump_document
from ._document import load_document
from ._document import make_job
from ._document import type_info
from ._errors import JobError
from ._factory import Factory
from ._factory import TypeInfo
from ._runner import Runner
from ._runner import RunResult
from ._state import State

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence
    from types import FrameType

    from ._job import Job

PROG = "spincycle-jobs"
_STATUS_EVERY = 0.2


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        msg = f"{message} (see '{self.prog} --help')"
        raise UsageError(msg)


def _kv(option: str) -> Callable[[str], tuple[str, Any]]:
    """Parse ``KEY=VALUE`` (a string) or ``KEY:=JSON`` (a typed value) for ``option``."""

    def parse(text: str) -> tuple[str, Any]:
        key, sep, value = text.partition("=")
        if not sep or not key or key == ":":
            msg = f"malformed {option} {text!r}: expected KEY=VALUE or KEY:=JSON"
            raise argparse.ArgumentTypeError(msg)
        if not key.endswith(":"):
            return key, value
        try:
            return key[:-1], json.loads(value)
        except ValueError as err:
            msg = f"malformed {option} {text!r}: the value after := is not JSON ({err})"
            raise argparse.ArgumentTypeError(msg) from None

    return parse


def _add_kv(parser: argparse.ArgumentParser, short: str, long: str, dest: str, what: str) -> None:
    """Add a repeatable ``KEY=VALUE`` / ``KEY:=JSON`` option."""
    parser.add_argument(
        short,
        long,
        dest=dest,
        action="append",
        type=_kv(short),
        default=[],
        metavar="KEY=VALUE",
        help=f"{what}: KEY=VALUE for a string, KEY:=JSON for a typed value; repeatable",
    )


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    job_args = _Parser(add_help=False)
    _add_kv(job_args, "-a", "--arg", "job_args", "a job arg")
    parser = _Parser(prog=PROG, description="List, inspect, create and run Spin Cycle jobs from plugins.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", parents=[common], help="list job types and broken plugins")
    show = sub.add_parser("show", parents=[common], help="describe one job type")
    show.add_argument("type", help="the job type")
    sub.add_parser("doctor", parents=[common], help="report what is installed and what is wrong with it")
    create = sub.add_parser(
        "create",
        parents=[common, job_args],
        help="the Request Manager side: write a job document",
    )
    create.add_argument("type", help="the job type")
    create.add_argument("name", help="the job name")
    create.add_argument("-o", "--output", metavar="FILE", help="write the job document here, not to stdout")
    run = sub.add_parser("run", parents=[common, job_args], help="run a job through the whole call sequence")
    run.add_argument("type", nargs="?", help="the job type (not with --from)")
    run.add_argument("name", nargs="?", help="the job name (not with --from)")
    _add_kv(run, "-d", "--data", "job_data", "a job data key")
    run.add_argument("--from", dest="from_file", metavar="FILE", help="run a job document ('-' for stdin)")
    run.add_argument("--timeout", type=float, metavar="S", help="seconds a try may take")
    run.add_argument("--retries", type=int, default=0, metavar="N", help="more tries for a try that fails")
    run.add_argument("--retry-wait", type=float, default=0.0, metavar="S", help="seconds between tries")
    return parser


def _version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only --version needs it

    return version("spincycle-jobs")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        opts = _parser().parse_args(argv)
        command = {"list": _list, "show": _show, "doctor": _doctor, "create": _create, "run": _run}
        return command[opts.command](opts)
    except (UsageError, JobError, OSError) as err:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {err}".replace("\n", " "), file=sys.stderr)
        return 2


def _emit(opts: argparse.Namespace, value: Any, text: str) -> None:
    """Print ``value`` as JSON with ``--json``, else ``text``."""
    print(json.dumps(value, indent=2, default=str) if opts.json else text)


def _type_dict(info: TypeInfo) -> dict[str, Any]:
    return {k: getattr(info, k) for k in ("type", "plugin", "distribution", "version", "target")}


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _list(opts: argparse.Namespace) -> int:
    factory = Factory()
    types, plugins, conflicts = factory.types(), factory.plugins(), factory.conflicts()
    broken = [p for p in plugins if p.error is not None]
    rows = [["TYPE", "PLUGIN", "DISTRIBUTION", "VERSION"]]
    rows += [[t.type, t.plugin, t.distribution or "-", t.version or "-"] for t in types]
    lines = [_table(rows) if types else "no job types installed"]
    lines += [f"conflict: {c[0].type!r} is offered by {', '.join(i.plugin for i in c)}" for c in conflicts]
    lines += [f"broken plugin {p.name!r} ({p.distribution}): {p.error}" for p in broken]
    lines.append("index: used" if factory.used_index else "index: not used (every plugin was loaded)")
    value = {
        "index_used": factory.used_index,
        "types": [_type_dict(t) for t in types],
        "conflicts": [[_type_dict(i) for i in c] for c in conflicts],
        "broken": [{"name": p.name, "distribution": p.distribution, "error": str(p.error)} for p in broken],
    }
    _emit(opts, value, "\n".join(lines))
    return 0


def _show(opts: argparse.Namespace) -> int:
    factory = Factory()
    info = type_info(factory, opts.type)
    job = factory.make(info.type, "show")
    doc = (type(job).__doc__ or "").strip()
    value = _type_dict(info) | {"class": f"{type(job).__module__}.{type(job).__qualname__}", "doc": doc}
    text = "\n".join(f"{k}: {v}" for k, v in value.items() if k != "doc") + (f"\n\n{doc}" if doc else "")
    _emit(opts, value, text)
    return 0


def _doctor(opts: argparse.Namespace) -> int:
    factory = Factory(cache=False)  # load every plugin now: errors and load times as they are today
    plugins, conflicts = factory.plugins(), factory.conflicts()
    problems = [p for p in plugins if p.error is not None]
    lines = []
    for p in plugins:
        where = f" (at {_origin(p.error)})" if p.error is not None else ""
        state = f"BROKEN: {type(p.error).__name__}: {p.error}{where}" if p.error else "ok"
        lines.append(
            f"{p.name} ({p.distribution} {p.version}), loaded in {p.load_seconds * 1000:.1f} ms: {state}"
        )
    for c in conflicts:
        who = " and ".join(f"{i.plugin} ({i.distribution} {i.version})" for i in c)
        lines.append(f"CONFLICT: job type {c[0].type!r} is offered by {who}")
    lines.append(
        f"{len(plugins)} plugins, {len(factory.types())} job types, {len(problems) + len(conflicts)} problems"
    )
    value = {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "load_ms": round(p.load_seconds * 1000, 3),
                "error": None if p.error is None else f"{type(p.error).__name__}: {p.error}",
                "origin": None if p.error is None else _origin(p.error),
            }
            for p in plugins
        ],
        "conflicts": [[_type_dict(i) for i in c] for c in conflicts],
    }
    _emit(opts, value, "\n".join(lines))
    return 1 if problems or conflicts else 0


def _origin(err: BaseException) -> str:
    """Where an error was raised: the innermost frame, following its causes."""
    while err.__cause__ is not None:
        err = err.__cause__
    frames = traceback.extract_tb(err.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"


def _create(opts: argparse.Namespace) -> int:
    record = JobRecord.create(Factory(), opts.type, opts.name, dict(opts.job_args))
    text = dump_document(JOB_FORMAT, record.to_dict())
    if opts.output:
        with open(opts.output, "w", encoding="utf-8") as out:  # noqa: PTH123 - a plain file the user named
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _job_from_document(factory: Factory, path: str) -> Job:
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as src:  # noqa: PTH123 - a plain file the user named
                text = src.read()
    except (OSError, ValueError) as err:
        msg = f"cannot read job document {path!r}: {err}"
        raise UsageError(msg) from None
    where = f"job document {path!r}"
    record = JobRecord.from_dict(load_document(text, JOB_FORMAT, where), where)
    return make_job(factory, record, where, lambda msg: print(f"{PROG}: warning: {msg}", file=sys.stderr))


def _run(opts: argparse.Namespace) -> int:
    factory = Factory()
    if opts.from_file is not None:
        if opts.type or opts.name or opts.job_args:
            msg = "run --from takes no TYPE, NAME or -a: the document holds them"
            raise UsageError(msg)
        job = _job_from_document(factory, opts.from_file)
    else:
        if not (opts.type and opts.name):
            msg = "run needs TYPE and NAME, or --from FILE"
            raise UsageError(msg)
        creator = factory.make(opts.type, opts.name)
        creator.create(dict(opts.job_args))
        job = factory.make(opts.type, opts.name)
        job.deserialize(creator.serialize())
    try:
        runner = Runner(job, timeout=opts.timeout, retries=opts.retries, retry_wait=opts.retry_wait)
    except ValueError as err:
        raise UsageError(str(err)) from None
    result = _run_interactively(runner, dict(opts.job_data))
    _report(opts, job, result)
    if result.state == State.COMPLETE:
        return 0
    last_exit = result.returns[-1].exit if result.returns else 0
    if last_exit < 0:  # killed by a signal: the shell's convention
        return 128 - last_exit
    return last_exit or 1


def _run_interactively(runner: Runner, job_data: dict[str, Any]) -> RunResult:
    """Run in a worker thread; Ctrl-C stops the job, a second one gives up; show status on a terminal."""
    box: list[RunResult] = []
    worker = threading.Thread(target=lambda: box.append(runner.run(job_data)), daemon=True)
    interrupts = 0

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            print(f"\n{PROG}: interrupted again, giving up", file=sys.stderr)
            raise SystemExit(130)
        print(f"\n{PROG}: stopping {runner.job.name()} (Ctrl-C again to give up)", file=sys.stderr)
        threading.Thread(target=runner.stop, daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_sigint)
    live = sys.stderr.isatty()
    try:
        worker.start()
        while worker.is_alive():
            worker.join(_STATUS_EVERY)
            if live and worker.is_alive():
                _show_status(sys.stderr, runner)
    finally:
        signal.signal(signal.SIGINT, previous)
        if live:
            sys.stderr.write("\r\x1b[K")
    return box[0]


def _show_status(out: TextIO, runner: Runner) -> None:
    st = runner.status()
    what = "waiting to retry" if st.sleeping else st.status
    out.write(f"\r\x1b[K{runner.job.type()} {runner.job.name()} (try {st.tries}): {what}"[:200])
    out.flush()


def _report(opts: argparse.Namespace, job: Job, result: RunResult) -> None:
    last = result.returns[-1] if result.returns else None
    if opts.json:
        value = {
            "type": job.type(),
            "name": job.name(),
            "state": result.state.name,
            "tries": result.tries,
            "returns": [
                {
                    "state": r.state.name,
                    "exit": r.exit,
                    "error": None if r.error is None else str(r.error),
                    "stdout": r.stdout,
                    "stderr": r.stderr,
                }
                for r in result.returns
            ],
        }
        print(json.dumps(value, indent=2))
        return
    if last is not None:
        sys.stdout.write(last.stdout)
        sys.stderr.write(last.stderr)
    tries = f"{result.tries} {'try' if result.tries == 1 else 'tries'}"
    exit_code = last.exit if last else 0
    print(f"{job.type()} {job.name()}: {result.state.name} (exit {exit_code}, {tries})", file=sys.stderr)
    if last is not None and last.error is not None:
        print(f"error: {type(last.error).__name__}: {last.error}", file=sys.stderr)
