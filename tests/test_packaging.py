"""The distribution as users get it: what it imports, what it documents, what it ships."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

import spincycle_jobs

from .conftest import ROOT

ALLOWED = {"spincycle_jobs", "attrs", "attr", "pluggy"}


@pytest.mark.slow
def test_import_needs_only_stdlib_pluggy_attrs(make_venv: Any) -> None:
    """A fresh venv: import spincycle_jobs imports only the stdlib, pluggy and attrs; ui names its extra."""
    env = make_venv()
    env.install("spincycle-jobs")
    code = """
        import json, sys
        before = set(sys.modules)
        import spincycle_jobs
        from spincycle_jobs import Factory, hookimpl
        Factory(autoload=False).types()
        print(json.dumps(sorted({m.split(".")[0] for m in set(sys.modules) - before})))
    """
    imported = set(env.run(code))
    outside = {
        m for m in imported if m not in ALLOWED and m.lstrip("_") not in stdlib() and m not in stdlib()
    }
    assert outside == set()
    assert "spincycle_jobs" in imported
    # Without the extra, the web page's command says what to install, and nothing else breaks.
    proc = subprocess.run(
        [env.script("spincycle-jobs"), "ui"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "pip install 'spincycle-jobs[ui]'" in proc.stderr


def stdlib() -> frozenset[str]:

    return frozenset(sys.stdlib_module_names)


def test_every_public_name_is_in_the_api_reference() -> None:
    """Each name of __all__ has an entry in docs/api.rst, where its docstring is shown."""
    api = (ROOT / "docs" / "api.rst").read_text()
    documented = set(
        re.findall(
            r"^\.\. (?:auto)?(?:class|function|exception|data):: spincycle_jobs\.(\w+)", api, re.MULTILINE
        )
    )
    assert set(spincycle_jobs.__all__) <= documented


def test_py_typed_is_shipped() -> None:
    """The package is marked as typed."""
    assert (ROOT / "spincycle_jobs" / "py.typed").exists()
