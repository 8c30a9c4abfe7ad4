"""The docs' Python snippets run as written: scripts run, and the test functions they show pass under pytest.

A page's ``>>>`` examples are the sphinx doctest build's (CI runs it); a
snippet that uses what they define (evolving.rst's ``Copy``) gets them first.
The commands of docs/operating.rst run in tests/test_docs_operating.py, the
tutorial's plugin in tests/test_tutorial.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT
from .conftest import clean_env

DOCS = ROOT / "docs"


def code_blocks(page: str, kind: str = "python") -> list[str]:
    """The ``.. code-block:: KIND`` blocks of ``docs/PAGE.rst``, dedented."""
    lines, found = (DOCS / f"{page}.rst").read_text().splitlines(), []
    for i, line in enumerate(lines):
        if line.strip() == f".. code-block:: {kind}":
            body = []
            for text in lines[i + 2 :]:
                if text and not text.startswith("   "):
                    break
                body.append(text)
            found.append(textwrap.dedent("\n".join(body)).strip() + "\n")
    return found


_MASKS = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "TIME"),
    (re.compile(r"\b\d+\.\ds\b"), "S"),
    (re.compile(r"\b[\w.-]+:\d+\b"), "HOST:PID"),
    (re.compile(r"\s+"), " "),
)


def steps(page: str) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the page's console blocks, with the output lines shown after it."""
    out: list[tuple[str, list[str]]] = []
    for block in code_blocks(page, "console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


def normal(lines: list[str]) -> list[str]:
    """Output lines with what differs from run to run masked: times, durations, hosts and pids, spacing."""
    result = []
    for line in lines:
        masked = line
        for pattern, mask in _MASKS:
            masked = pattern.sub(mask, masked)
        result.append(masked.strip())
    while result and not result[-1]:
        result.pop()
    return result


def shell_env() -> dict[str, str]:
    """The environment a reader's shell has: this environment's commands first on the PATH, 100 columns."""
    scripts = os.path.dirname(sys.executable)  # noqa: PTH120 - where this environment's commands are
    return clean_env(PATH=f"{scripts}:{os.environ['PATH']}", COLUMNS="100")


def run_step(command: str, shown: list[str], cwd: Path, env: dict[str, str], code: int = 0) -> None:
    """Run a ``$ command`` of a page as a reader types it: it exits ``code``, printing what the page shows."""
    proc = subprocess.run(  # noqa: S602 - the page's shell commands, as a reader types them
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == code, f"$ {command}\n{proc.stdout}\n{proc.stderr}"
    assert normal((proc.stdout + proc.stderr).splitlines()) == normal(shown), f"$ {command}"


def doctest_code(page: str) -> str:
    """What the page's ``>>>`` examples define (imports, classes, functions), in order."""
    code, taking = [], False
    for line in (DOCS / f"{page}.rst").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith(">>> "):
            taking = stripped[4:].startswith(("import ", "from ", "class ", "def ", "@"))
        elif not stripped.startswith("...") or stripped.startswith("...:"):
            taking = False
            continue
        if taking:
            code.append(stripped[4:])
    return "\n".join(code) + "\n"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("page", ["factory", "chains", "operating"])
def test_script_snippets_run(page: str, tmp_path: Path) -> None:
    """The snippets that are scripts (no test function) run, each after those before it, as in one session."""
    scripts = [block for block in code_blocks(page) if "def test_" not in block]
    assert scripts, f"docs/{page}.rst has no script snippet"
    for n in range(len(scripts)):
        if "LocalCluster" in scripts[n]:
            continue  # a cluster of its own: test_the_local_cluster_snippet_runs
        session = "\n".join(block for block in scripts[: n + 1] if "LocalCluster" not in block)
        proc = run([sys.executable, "-c", session], tmp_path)
        assert proc.returncode == 0, f"docs/{page}.rst, snippet {n + 1}:\n{scripts[n]}\n{proc.stderr}"


@pytest.mark.parametrize("page", ["kit", "evolving", "chains"])
def test_test_snippets_pass(page: str, tmp_path: Path) -> None:
    """The test functions a page shows pass under pytest, with the project's fixtures."""
    tests = [block for block in code_blocks(page) if "def test_" in block]
    assert tests, f"docs/{page}.rst shows no test"
    module = tmp_path / f"test_{page}_snippets.py"
    module.write_text("from spincycle_jobs import *  # noqa\n" + doctest_code(page) + "\n\n".join(tests))
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{sum(block.count('def test_') for block in tests)} passed" in proc.stdout


def test_the_local_cluster_snippet_runs(tmp_path: Path) -> None:
    """chains.rst's LocalCluster script, saved as a file, runs the page's deploy.toml on worker processes."""
    spec = code_blocks("chains", "toml")[0]  # deploy.toml
    (tmp_path / "deploy.toml").write_text(spec)
    command = str(Path(sys.executable).parent / "spincycle-jobs")
    created = run([command, "chain", "create", "deploy.toml", "-o", "deploy.json"], tmp_path)
    assert created.returncode == 0, created.stderr
    (script,) = [block for block in code_blocks("chains") if "LocalCluster" in block]
    (tmp_path / "deploy.py").write_text(script)
    proc = run([sys.executable, "deploy.py"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "COMPLETE"


def test_the_cli_page_s_commands_give_what_it_shows(tmp_path: Path) -> None:
    """docs/cli.rst's console commands, as written: each prints what the page shows; an error exits 2."""
    assert steps("cli")
    for command, shown in steps("cli"):
        refused = bool(shown) and shown[0].startswith("spincycle-jobs: error:")
        run_step(command, shown, tmp_path, shell_env(), 2 if refused else 0)
