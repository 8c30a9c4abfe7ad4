"""Sphinx configuration for the spincycle-jobs documentation."""

from importlib.metadata import version as _version

project = "spincycle-jobs"
author = "spincycle-jobs developers"
copyright = "2026, spincycle-jobs developers"
release = _version("spincycle-jobs")
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.doctest"]
exclude_patterns = ["_build", "tutorial/acme-jobs/**"]

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True

# Nothing may be left unresolved, except what lives in other projects' docs:
# the machines that build these docs reach no inventory to link them to.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(typing|collections\.abc|contextlib|datetime|threading|pathlib)\..*"),
    (r"py:.*", r"(subprocess|types|enum|abc)\..*"),
    (r"py:.*", r"(attrs?|pluggy|importlib)(\..*)?"),
    (r"py:class", r"spincycle_jobs\._args\.[TD]"),  # the type variables of get_arg and get_data
    (r"py:class", r"(Any|Mapping|Callable|Iterable|Sequence|TypeAlias|Protocol|Path)"),
    (r"py:class", r"(BaseException|Exception)"),
    (r"py:class", r"(dt\.datetime|JobConstructor|FrameType|TextIO)"),
]

html_theme = "alabaster"
html_title = f"spincycle-jobs {release}"
html_theme_options = {"description": "Bring your own jobs, in Python", "fixed_sidebar": True}

# The docstrings' examples run with the public API in scope, as a user types them.
doctest_global_setup = "from spincycle_jobs import *"
