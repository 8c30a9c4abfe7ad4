"""The command line at its edges: odd bytes, odd names, closed pipes, broken jobs, and the doctor."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from .conftest import clean_env

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

JOBS = """\
import attrs
from spincycle_jobs import BaseJob, Return, State, get_arg


@attrs.define
class Raises(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        raise {error}


@attrs.define
class Chunk(BaseJob):
    chunk_size: int = 0

    def create(self, job_args):
        self.chunk_size = get_arg(job_args, "chunk_size", int)

    def run(self, job_data):
        return Return(State.COMPLETE)


@attrs.define
class Surrogate(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        return Return(State.COMPLETE, stdout="a\\ud800b\\n")


@attrs.define
class FileCopy(Chunk):
    pass
"""

PLUGIN = """\
from spincycle_jobs import hookimpl


@hookimpl
def spincycle_jobs_job_types():
    return {
        "divide": "quirky_jobs.divide:Raises",
        "exit": "quirky_jobs.exit:Raises",
        "interrupt": "quirky_jobs.interrupt:Raises",
        "chunk": "quirky_jobs.divide:Chunk",
        "surrogate": "quirky_jobs.divide:Surrogate",
        "file-copy": "quirky_jobs.divide:Filecopy",
    }
"""


def dist_info(site: Path, name: str, entry_point: str = "") -> None:
    """Install distribution ``name`` 0.1, depending on spincycle-jobs, as pip would lay it out."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\nRequires-Dist: spincycle-jobs\n"
    )
    if entry_point:
        (info / "entry_points.txt").write_text(f"[spincycle_jobs]\n{entry_point}\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder on the path with three distributions: quirky jobs, a plugin that cannot import, and one
    that forgot its entry point."""
    site = tmp_path_factory.mktemp("site")
    package = site / "quirky_jobs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN)
    for module, error in [
        ("divide", "ZeroDivisionError('division by zero')"),
        ("exit", "SystemExit(3)"),
        ("interrupt", "KeyboardInterrupt"),
    ]:
        (package / f"{module}.py").write_text(JOBS.replace("{error}", error))
    dist_info(site, "quirky-jobs", "quirky = quirky_jobs.plugin")
    (site / "needs_lib").mkdir()
    (site / "needs_lib" / "__init__.py").write_text("")
    (site / "needs_lib" / "plugin.py").write_text("import not_installed_anywhere\n")
    dist_info(site, "needs-lib", "needs = needs_lib.plugin")
    dist_info(site, "lonely-jobs")
    return site


def cli(
    *args: str | bytes, site: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = clean_env(SPINCYCLE_JOBS_NO_CACHE="1")
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "spincycle_jobs", *args],
        input=stdin,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=60,
        check=False,
        env=env,
    )


def sh(script: str, *extra: str) -> list[str]:
    return ["run", "shell-command", "sh", "-a", "cmd=sh", "-a", f"args:={json.dumps(['-c', script])}", *extra]


class TestOutput:
    def test_binary_output_keeps_the_exit_code(self) -> None:
        """A command that prints bytes that are not UTF-8 keeps its exit code; the bytes become U+FFFD."""
        ok = cli(*sh(r"printf 'a\377b\n'"))
        assert (ok.returncode, ok.stdout) == (0, "a\ufffdb\n")
        failed = cli(*sh(r"printf '\377'; exit 5"))
        assert failed.returncode == 5

    def test_output_is_bounded(self) -> None:
        """Past max_output the output is cut in the middle, with a marker that counts the bytes dropped."""
        proc = cli(*sh("head -c 5000 /dev/zero | tr '\\0' x", "-a", "max_output:=1000", "--json"))
        stdout = json.loads(proc.stdout)["returns"][0]["stdout"]
        head, marker, tail = stdout.partition(
            "\n[... 4000 bytes cut: the output passed max_output=1000 ...]\n"
        )
        assert (head, marker != "", tail) == ("x" * 500, True, "x" * 500)

    def test_lone_surrogate_in_output(self, site: Path) -> None:
        """A job's output with a lone surrogate is printed (escaped), not a crash."""
        proc = cli("run", "surrogate", "s", site=site)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "a\\ud800b\n"

    def test_control_characters_in_names(self) -> None:
        """A job name with an ANSI escape or a newline reaches the terminal escaped."""
        proc = cli("run", "noop", "\x1b[31mred\nline")
        assert proc.returncode == 0
        assert "noop \\x1b[31mred\\nline: COMPLETE" in proc.stderr
        assert "\x1b" not in proc.stderr

    def test_non_utf8_argv(self) -> None:
        """Bytes that are not UTF-8 in argv are a name like any other, shown escaped."""
        proc = cli(b"run", b"noop", b"n\xff")
        assert proc.returncode == 0
        assert "noop n\\udcff: COMPLETE" in proc.stderr

    def test_closed_pipe_ends_quietly(self) -> None:
        """A reader that closes the pipe (| head) ends the command quietly, with SIGPIPE's exit code."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "spincycle_jobs", "list", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        assert proc.stdout is not None
        proc.stdout.close()
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (128 + signal.SIGPIPE, b"")


class TestOptions:
    @pytest.mark.parametrize(
        "args",
        [
            ["--json", "list"],
            ["-o", "json", "list"],
            ["list", "-o", "json"],
            ["list", "--output-format", "json"],
        ],
        ids=["json-first", "o-first", "o-after", "long"],
    )
    def test_json_anywhere(self, args: list[str]) -> None:
        """--json and -o json work before and after the subcommand."""
        proc = cli(*args)
        assert "types" in json.loads(proc.stdout)

    def test_create_o_is_the_file(self, tmp_path: Path) -> None:
        """On create, -o names the file; -o json is refused as ambiguous; --output-format still works."""
        out = tmp_path / "doc.json"
        assert cli("create", "noop", "n", "-o", str(out)).returncode == 0
        assert json.loads(out.read_text())["type"] == "noop"
        proc = cli("create", "noop", "n", "-o", "json")
        assert proc.returncode == 2
        assert "--output-format json" in proc.stderr
        assert json.loads(cli("create", "noop", "n", "--output-format", "json").stdout)["type"] == "noop"

    @pytest.mark.parametrize("command", ["list", "show", "doctor", "create", "run"])
    def test_help_has_a_description(self, command: str) -> None:
        """Each subcommand's help page says what it does."""
        lines = cli(command, "--help").stdout.splitlines()
        description = lines[lines.index("") + 1]
        assert description[0].isupper()
        assert description.endswith(".")

    def test_allow_and_deny(self) -> None:
        """--deny and --allow choose the plugins, on every command."""
        assert "no job types installed" in cli("list", "--deny", "example").stdout
        assert "no job types installed" in cli("--allow", "nothing", "list").stdout
        assert "unknown job type 'noop'" in cli("run", "noop", "n", "--deny", "spincycle-jobs-example").stderr
        assert cli("run", "noop", "n", "--allow", "example").returncode == 0

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--timeout", "nan"], "argument --timeout: seconds must be a number from 0"),
            (["--timeout", "inf"], "argument --timeout: seconds must be a number from 0"),
            (["--timeout", "1e10"], "argument --timeout: seconds must be a number from 0"),
            (["--retry-wait", "inf"], "argument --retry-wait: seconds must be a number from 0"),
            (["--timeout", "0"], "bad timeout=0.0"),
            (["-a", 'k:={"r": NaN}'], "the value after := is not JSON (NaN is not a JSON value)"),
            (["-a", "k:=1e999"], "number 1e999 is out of range"),
            (["-a", "k:=" + "[" * 100_000], "nests lists and dicts more deeply than 100"),
            (["-a", "k:=" + "[" * 101 + "]" * 101], "nests lists and dicts more deeply than 100"),
        ],
        ids=["nan", "inf", "huge", "wait-inf", "zero", "json-nan", "json-inf", "deep", "deep-valid"],
    )
    def test_bad_values(self, args: list[str], message: str) -> None:
        """Bad numbers and JSON get one line and exit code 2."""
        proc = cli("run", "noop", "n", *args)
        assert (proc.returncode, proc.stderr.count("\n")) == (2, 1), proc.stderr
        assert message in proc.stderr

    def test_create_refuses_nan(self) -> None:
        """create never writes NaN into a document."""
        proc = cli("create", "noop", "n", "-a", 'k:={"r": NaN}')
        assert (proc.returncode, proc.stdout) == (2, "")


class TestBrokenJobs:
    def test_error_in_run_debug_and_json(self, site: Path) -> None:
        """An error raised in run(): --debug shows its traceback, --json gives its type."""
        proc = cli("run", "divide", "d", "--debug", site=site)
        assert proc.returncode == 1
        assert "Traceback" in proc.stderr
        assert "ZeroDivisionError: division by zero" in proc.stderr
        out = json.loads(cli("run", "divide", "d", "--json", site=site).stdout)
        assert out["returns"][0]["error_type"] == "ZeroDivisionError"
        assert out["returns"][0]["error"] == "division by zero"

    @pytest.mark.parametrize(
        ("job_type", "name"), [("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt")]
    )
    def test_run_raising_base_exceptions(self, site: Path, job_type: str, name: str) -> None:
        """run() raising SystemExit or KeyboardInterrupt is a failed job, not a crash."""
        proc = cli("run", job_type, "x", site=site)
        assert proc.returncode == 1
        assert f"its run() raised {name}" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert json.loads(cli("run", job_type, "x", "--json", site=site).stdout)["error_type"] == name

    def test_typed_arg_hint(self, site: Path) -> None:
        """An int arg given as a string suggests KEY:=JSON."""
        proc = cli("run", "chunk", "c", "-a", "chunk_size=4096", site=site)
        assert proc.returncode == 2
        assert "did you mean -a chunk_size:=4096?" in proc.stderr
        assert cli("run", "chunk", "c", "-a", "chunk_size:=4096", site=site).returncode == 0


class TestShowAndDoctor:
    def test_show_dedents(self) -> None:
        """show prints the docstring without its indentation."""
        lines = cli("show", "shell-command").stdout.splitlines()
        assert "``args`` is a list, or a string split on whitespace. The command runs" in lines

    def test_show_did_you_mean(self) -> None:
        """A prefix of a type is suggested."""
        assert "did you mean 'shell-command'?" in cli("show", "shell").stderr

    def test_doctor_counts_in_words(self) -> None:
        """doctor says 1 plugin, 0 problems: plurals that agree."""
        assert cli("doctor").stdout.splitlines()[-1] == "1 plugin, 4 job types, 0 problems"

    def test_doctor_finds_each_problem(self, site: Path) -> None:
        """doctor imports every target, names the missing module's import and the forgotten entry point."""
        proc = cli("doctor", site=site)
        assert proc.returncode == 1
        assert "BROKEN TYPE: 'file-copy' (quirky_jobs.divide:Filecopy)" in proc.stdout
        assert f"(at {site / 'needs_lib' / 'plugin.py'}:1)" in proc.stdout
        assert "NO ENTRY POINT: lonely-jobs 0.1 depends on spincycle-jobs" in proc.stdout
        assert proc.stdout.splitlines()[-1].endswith(", 3 problems")
        out = json.loads(cli("doctor", "--json", site=site).stdout)
        assert [d["distribution"] for d in out["no_entry_point"]] == ["lonely-jobs"]
        assert out["problems"] == 3

    def test_origin_of_causes_that_loop(self) -> None:
        """An error that is its own cause, or its cause's, still has an origin: doctor does not spin."""
        from spincycle_jobs._cli._doctor import origin  # noqa: PLC0415 - the function under test

        def fail(cause: BaseException | None) -> None:
            raise ValueError("x") from cause

        def raised(cause: BaseException | None) -> BaseException:
            try:
                fail(cause)
            except ValueError as err:
                return err
            raise AssertionError

        alone = raised(None)
        alone.__cause__ = alone
        first = raised(None)
        second = raised(first)
        first.__cause__ = second
        found: list[str] = []
        worker = threading.Thread(target=lambda: found.extend([origin(alone), origin(first)]), daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert len(found) == 2
        assert [o.rsplit(":", 1)[0] for o in found] == [__file__, __file__]
