"""Each example job, checked by spincycle_jobs.testing.check_job as the platform would drive it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from spincycle_jobs import ArgNotSetError, Factory, JobError, State, WrongArgTypeError
from spincycle_jobs.testing import check_job

PACKAGE = Path(__file__).resolve().parent.parent / "spincycle_jobs_example"


def test_noop(job_factory: Factory) -> None:
    """noop completes."""
    assert check_job(job_factory, "noop").state == State.COMPLETE


def test_sleep(job_factory: Factory) -> None:
    """sleep sleeps for its duration, then completes."""
    assert check_job(job_factory, "sleep", {"duration": 0.1}).state == State.COMPLETE


def test_sleep_stopped(job_factory: Factory) -> None:
    """stop ends a sleep early, as STOPPED."""
    ret = check_job(job_factory, "sleep", {"duration": 30}, stop_after=0.2, timeout=2)
    assert ret.state == State.STOPPED


@pytest.mark.parametrize(
    ("args", "error"),
    [({}, ArgNotSetError), ({"duration": "1"}, WrongArgTypeError), ({"duration": -1}, JobError)],
    ids=["missing", "wrong-type", "negative"],
)
def test_sleep_bad_args(job_factory: Factory, args: dict[str, object], error: type[Exception]) -> None:
    """sleep refuses a missing, mistyped or negative duration."""
    with pytest.raises(error, match="duration"):
        check_job(job_factory, "sleep", args)


@pytest.mark.parametrize("args", [["hello", "world"], "hello world"], ids=["list", "string"])
def test_shell_command(job_factory: Factory, args: object) -> None:
    """shell-command captures stdout and completes; args may be a list or a string."""
    ret = check_job(job_factory, "shell-command", {"cmd": "echo", "args": args})
    assert (ret.state, ret.exit, ret.stdout) == (State.COMPLETE, 0, "hello world\n")


def test_shell_command_failure(job_factory: Factory) -> None:
    """A non-zero exit is FAIL with that exit code and the command's stderr."""
    ret = check_job(job_factory, "shell-command", {"cmd": "sh", "args": ["-c", "echo oops >&2; exit 3"]})
    assert (ret.state, ret.exit, ret.stderr) == (State.FAIL, 3, "oops\n")
    assert ret.error is not None


def test_shell_command_not_found(job_factory: Factory) -> None:
    """A command that does not exist fails with exit 127."""
    ret = check_job(job_factory, "shell-command", {"cmd": "/no/such/command"})
    assert (ret.state, ret.exit) == (State.FAIL, 127)


def test_shell_command_stopped(job_factory: Factory) -> None:
    """stop terminates a running command: the run ends as STOPPED."""
    ret = check_job(job_factory, "shell-command", {"cmd": "sleep", "args": "30"}, stop_after=0.3, timeout=5)
    assert ret.state == State.STOPPED


def test_shell_command_that_ignores_sigterm(job_factory: Factory) -> None:
    """A command that ignores SIGTERM is killed after the grace period."""
    script = "trap '' TERM; sleep 30 & wait; wait"
    ret = check_job(
        job_factory, "shell-command", {"cmd": "sh", "args": ["-c", script]}, stop_after=0.3, timeout=5
    )
    assert ret.state == State.STOPPED


def test_shell_command_binary_output(job_factory: Factory) -> None:
    """Output that is not UTF-8 keeps the real exit code; bad bytes become U+FFFD."""
    args = ["-c", "printf 'ok \\377\\376 end'; printf '\\200' >&2; exit 0"]
    ret = check_job(job_factory, "shell-command", {"cmd": "sh", "args": args})
    assert (ret.state, ret.exit, ret.stdout, ret.stderr) == (
        State.COMPLETE,
        0,
        "ok \ufffd\ufffd end",
        "\ufffd",
    )


def test_shell_command_output_is_bounded(job_factory: Factory) -> None:
    """Past max_output, the first and last halves are kept, with a marker that counts what was cut."""
    args = ["-c", "printf 'HEAD'; head -c 100000 /dev/zero | tr '\\0' x; printf 'TAIL'"]
    ret = check_job(job_factory, "shell-command", {"cmd": "sh", "args": args, "max_output": 100})
    assert ret.stdout.startswith(
        "HEAD" + "x" * 46 + "\n[... 99908 bytes cut: the output passed max_output=100"
    )
    assert ret.stdout.endswith("...]\n" + "x" * 46 + "TAIL")
    assert ret.state == State.COMPLETE


def test_shell_command_refuses_negative_max_output(job_factory: Factory) -> None:
    """max_output must be >= 0."""
    with pytest.raises(JobError, match="max_output"):
        check_job(job_factory, "shell-command", {"cmd": "true", "max_output": -1})


def test_shell_command_late_stop_signals_nothing(
    job_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop after the command was reaped sends no signal: its pid may be another process's by now."""
    job = job_factory.make("shell-command", "late")
    job.create({"cmd": "true"})
    job.run({})
    sent: list[object] = []
    monkeypatch.setattr(os, "killpg", lambda *a: sent.append(a))
    job.stop()
    assert sent == []


def test_set_args_is_create_only(job_factory: Factory) -> None:
    """set-args adds its mapping to the job args during create, for the jobs after it."""
    job_args = {"set": {"port": 8080, "user": "deploy"}}
    job = job_factory.make("set-args", "defaults")
    job.create(job_args)
    assert job_args == {"set": {"port": 8080, "user": "deploy"}, "port": 8080, "user": "deploy"}
    assert check_job(job_factory, "set-args", job_args).stdout == "set port, user\n"


def code_lines(path: Path) -> int:
    """Count the lines of a module that are neither blank nor part of a docstring."""
    source = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and ast.get_docstring(node):
            first = node.body[0]
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(1 for n, line in enumerate(source.splitlines(), 1) if line.strip() and n not in docstrings)


@pytest.mark.parametrize(("module", "most"), [("sleep.py", 25), ("shell.py", 70), ("capture.py", 30)])
def test_jobs_stay_small(module: str, most: int) -> None:
    """The kit keeps the example jobs small: the ceremony lives in BaseJob."""
    assert code_lines(PACKAGE / module) <= most
