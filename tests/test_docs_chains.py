"""docs/chains.rst runs as written: each console command, in order, gives the output the page shows.

The page's ``deploy.toml`` is its first TOML block. The Dask commands
start a real scheduler and worker, on 127.0.0.1, with the page's port 8786
replaced by a free one: no test binds a fixed port. The ``pip install``
command is not run: it would replace this environment's own install.
Output is compared as in tests/test_docs_operating.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from .test_docs import code_blocks
from .test_docs import run_step
from .test_docs import shell_env
from .test_docs import steps

if TYPE_CHECKING:
    from pathlib import Path

distributed = pytest.importorskip("distributed")
pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

pytestmark = pytest.mark.slow  # a Dask scheduler and two worker processes of their own

WAIT = 60.0
PAGE_PORT = "8786"


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "deploy.toml").write_text(code_blocks("chains", "toml")[0])
    env = shell_env()
    port = str(free_port())
    background: list[subprocess.Popen[bytes]] = []
    ran = []
    try:
        for written, shown in steps("chains"):
            if written.startswith("pip install"):
                continue
            command = written.replace(PAGE_PORT, port)
            if written.startswith(("DASK_", "dask ")):
                log = (tmp_path / f"dask-{len(background)}.log").open("w")
                background.append(
                    subprocess.Popen(  # noqa: S602 - the page's shell commands, as a reader types them
                        command,
                        shell=True,
                        cwd=tmp_path,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                log.close()
                if written.startswith("dask worker"):
                    wait_for_workers(f"tcp://127.0.0.1:{port}", 2)
                continue
            run_step(command, shown, tmp_path, env)
            ran.append(written)
    finally:
        for started in reversed(background):
            os.killpg(started.pid, signal.SIGTERM)
            try:
                started.wait(WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(started.pid, signal.SIGKILL)
                started.wait()
    assert len(background) == 2
    assert sum("--executor dask" in command for command in ran) == 1
    assert len(ran) >= 5


def wait_for_workers(address: str, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with distributed.Client(address, timeout=5, set_as_default=False) as client:
                client.wait_for_workers(count, timeout=WAIT)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
