"""Hostile chain input: exit 2 with one bounded line, or bounded output; nothing replaced, nothing hangs."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest

from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainError
from spincycle_jobs import Factory

from .test_chain_cli import cli

if TYPE_CHECKING:
    from pathlib import Path

JOB = '[[jobs]]\nid = "a"\ntype = "noop"\nname = "a"\n'


def spec(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "spec.toml"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


def one_error_line(proc: object, *fragments: str) -> None:
    code, err = getattr(proc, "returncode", None), str(getattr(proc, "stderr", ""))
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert len(err) < 500
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ("[" * 5000 + "]" * 5000, "nests arrays or tables too deeply"),
        ("{ a = " * 400 + "1" + " }" * 400, "nests arrays or tables"),
        ("[" * 150 + "]" * 150, "more than 100 deep"),
    ],
)
def test_deep_args_exit_2(tmp_path: Path, args: str, fragment: str) -> None:
    text = f'request_id = "r"\n[args]\nx = {args}\n{JOB}'
    one_error_line(cli("chain", "create", spec(tmp_path, text)), fragment)


def test_a_spec_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    text = f'request_id = "r\xe9"\n{JOB}'.encode("latin-1")
    one_error_line(cli("chain", "create", spec(tmp_path, text)), "is not UTF-8 text (byte 15)")


def test_a_huge_retry_wait_is_refused_where_it_is_written(tmp_path: Path) -> None:
    text = f'request_id = "r"\n{JOB}retry = 1\nretry_wait = 1e300\n'
    one_error_line(cli("chain", "create", spec(tmp_path, text)), "retry_wait must be seconds from 0 to")
    with pytest.raises(ChainError, match="retry_wait"):
        ChainBuilder("r", factory=Factory()).job("a", "noop", "a", retry_wait=1e300)


def test_a_long_cycle_is_one_short_line(tmp_path: Path) -> None:
    n = 10_000
    jobs = "".join(
        f'[[jobs]]\nid = "j{i}"\ntype = "noop"\nname = "n"\nafter = ["j{(i + 1) % n}"]\n' for i in range(n)
    )
    proc = cli("chain", "create", spec(tmp_path, f'request_id = "r"\n{jobs}'))
    one_error_line(proc, "the jobs form a cycle: 'j0' -> ", "... 9995 more")


def test_a_huge_job_id_is_drawn_cut_short(tmp_path: Path) -> None:
    huge = "x" * 100_000
    text = f'request_id = "r"\n[[jobs]]\nid = "{huge}"\ntype = "noop"\nname = "a"\n{JOB}'
    document = tmp_path / "chain.json"
    assert cli("chain", "create", spec(tmp_path, text), "-o", document).returncode == 0
    shown = cli("chain", "show", document)
    assert shown.returncode == 0
    assert len(shown.stdout) < 1000
    assert "x" * 39 + "…" in shown.stdout


def test_save_never_replaces_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """--save to a FIFO (a device node needs root to make): refused before anything runs; the node stays."""
    document = tmp_path / "chain.json"
    assert cli("chain", "create", spec(tmp_path, f'request_id = "r"\n{JOB}'), "-o", document).returncode == 0
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path, "/dev/null"):
        proc = cli("chain", "run", "--from", document, "--save", target, "--no-store")
        one_error_line(proc, "is not a regular file")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # noqa: PTH116
    assert cli("chain", "create", spec(tmp_path, f'request_id = "r"\n{JOB}'), "-o", fifo).returncode == 2


def test_per_job_args_in_a_spec(tmp_path: Path) -> None:
    """Two sleeps with durations of their own; a job's args are its own, the shared args go on."""
    text = (
        'request_id = "r"\n[args]\nduration = 0\ncmd = "echo"\nargs = "shared"\n'
        '[[jobs]]\nid = "short"\ntype = "sleep"\nname = "s"\n[jobs.args]\nduration = 0.01\n'
        '[[jobs]]\nid = "long"\ntype = "sleep"\nname = "l"\nafter = ["short"]\n[jobs.args]\nduration = 0.2\n'
        '[[jobs]]\nid = "say"\ntype = "shell-command"\nname = "say"\nafter = ["long"]\n'
    )
    document = tmp_path / "chain.json"
    created = cli("chain", "create", spec(tmp_path, text), "-o", document)
    assert created.returncode == 0, created.stderr
    ran = cli("chain", "run", "--from", document, "--json", "--no-store")
    assert ran.returncode == 0, ran.stderr
    import json  # noqa: PLC0415

    jobs = json.loads(ran.stdout)["jobs"]
    assert jobs["say"]["returns"][0]["stdout"] == "shared\n"
    bad = f'request_id = "r"\n{JOB}[jobs.args]\nwhen = 1979-05-27T07:32:00Z\n'
    one_error_line(
        cli("chain", "create", spec(tmp_path, bad)),
        "['jobs'][0]['args']['when']: a datetime is not JSON data",
    )


def test_create_suggests_typing_an_arg(tmp_path: Path) -> None:
    """-a duration=0.5 is a string, which sleep refuses: the error suggests duration:=0.5, as run does."""
    text = 'request_id = "r"\n[[jobs]]\nid = "nap"\ntype = "sleep"\nname = "nap"\n'
    proc = cli("chain", "create", spec(tmp_path, text), "-a", "duration=0.5")
    one_error_line(proc, "job 'nap'", "did you mean -a duration:=0.5?")


def test_a_document_of_another_kind_says_which_command_takes_it(tmp_path: Path) -> None:
    """A spec to run --from or chain run; a chain document to run --from; a job document to chain run."""
    toml = spec(tmp_path, f'request_id = "r"\n{JOB}')
    document, job = tmp_path / "chain.json", tmp_path / "job.json"
    assert cli("chain", "create", toml, "-o", document).returncode == 0
    assert cli("create", "noop", "x", "-o", job).returncode == 0
    for args, hint in [
        (("run", "--from", toml), f"'spincycle-jobs chain create {toml} -o chain.json'"),
        (("chain", "run", "--from", toml), f"'spincycle-jobs chain create {toml} -o chain.json'"),
        (
            ("run", "--from", document),
            f"it is a chain document: run it with 'spincycle-jobs chain run --from {document}'",
        ),
        (
            ("chain", "run", "--from", job),
            f"it is a job document: run it with 'spincycle-jobs run --from {job}'",
        ),
    ]:
        one_error_line(cli(*args), hint)
