"""Peak memory of ``spincycle-jobs run shell-command`` when the command prints a lot.

Each row is a new ``python -m spincycle_jobs run shell-command`` whose
command prints ``--megabytes`` MB; its peak RSS comes from ``wait4``. The
bare row runs ``true``, so "over bare" is what the output costs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from ._common import table

MB = 1_000_000


def peak_rss(args: list[str]) -> int:
    """Run the command line with ``args``; return its peak RSS in bytes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "spincycle_jobs", "run", "shell-command", "chatty", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        msg = f"run {args} exited {os.waitstatus_to_exitcode(status)}"
        raise RuntimeError(msg)
    return usage.ru_maxrss * 1024  # kilobytes on Linux


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=200)
    opts = parser.parse_args()
    chatty = [
        "-a",
        "cmd=sh",
        "-a",
        f'args:=["-c", "head -c {opts.megabytes * MB} /dev/zero | tr \'\\\\0\' x"]',
    ]
    cases = {
        "bare (true)": ["-a", "cmd=true"],
        "default max_output (1 MiB)": chatty,
        "default max_output, --json": [*chatty, "--json"],
        "max_output 16 MiB": [*chatty, "-a", f"max_output:={16 << 20}"],
        "max_output 16 MiB, --json": [*chatty, "-a", f"max_output:={16 << 20}", "--json"],
    }
    peaks = {name: peak_rss(args) for name, args in cases.items()}
    bare = peaks["bare (true)"]
    rows = [[name, f"{peak / MB:.1f}", f"{(peak - bare) / MB:.1f}"] for name, peak in peaks.items()]
    print(f"{opts.megabytes} MB of output on stdout; peak RSS of the command line, in MB")
    print(table(["case", "peak RSS", "over bare"], rows))


if __name__ == "__main__":
    main()
