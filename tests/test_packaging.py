"""The distribution as users get it: what it imports, what it documents, what it ships."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

import spincycle_jobs

from .conftest import ROOT

ALLOWED = {"spincycle_jobs", "attrs", "attr", "pluggy"}


@pytest.mark.slow
def test_import_needs_only_stdlib_pluggy_attrs(make_venv: Any) -> None:
    """In a fresh venv, import spincycle_jobs imports nothing but the stdlib, pluggy and attrs."""
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
