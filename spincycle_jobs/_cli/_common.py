"""What every command group shares: usage errors, the parser, options, ``KEY=VALUE`` and printing.

A command group (a module such as :mod:`._jobs`) has one function,
``register(commands: Commands) -> None``. It adds its subcommands with
:meth:`Commands.add`, or a nested group (``chain create|run|show``) with
:meth:`Commands.group`, each with a handler ``(opts) -> int`` that returns
the exit code. The common options (``--json``/``-o``, ``--debug``,
``--allow``, ``--deny``) come with every subcommand; read them with
:func:`wants_json` and :func:`factory`. Print with :func:`out`, :func:`err`
and :func:`emit`, never with ``print``: they survive text a terminal or a
codec cannot take. Bad input raises :class:`UsageError` (or a ``JobError``);
``main`` turns either into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import NoReturn
from typing import TextIO
from typing import TypeAlias

from spincycle_jobs._jsondata import MAX_DEPTH
from spincycle_jobs._jsondata import loads

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Sequence

    from spincycle_jobs._catalog import TypeInfo
    from spincycle_jobs._factory import Factory

__all__ = [
    "EXIT_FAIL",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_JSON_DEPTH",
    "PROG",
    "Commands",
    "Handler",
    "Parser",
    "UsageError",
    "add_kv",
    "add_output_file",
    "clean",
    "document_hint",
    "emit",
    "err",
    "factory",
    "kv_dict",
    "out",
    "parse_json",
    "plural",
    "read_text",
    "scheduler_address",
    "seconds",
    "table",
    "type_dict",
    "typed_hint",
    "wants_json",
    "warn",
    "write_text",
]

PROG: Final = "spincycle-jobs"
#: Success: the job completed, or the command found nothing wrong.
EXIT_OK: Final = 0
#: The job did not complete (and gave no exit code of its own), or ``doctor`` found problems.
EXIT_FAIL: Final = 1
#: Bad input: a usage error, an unknown type, a bad value or document.
EXIT_USAGE: Final = 2
#: A bug in this command line (sysexits' ``EX_SOFTWARE``); ``--debug`` shows the traceback.
EXIT_INTERNAL: Final = 70
#: How deep ``KEY:=JSON`` values may nest.
MAX_JSON_DEPTH: Final = MAX_DEPTH
#: The output formats of ``-o``/``--output-format``.
FORMATS: Final = ("table", "json")

#: A subcommand's handler: takes the parsed options, returns the exit code.
Handler: TypeAlias = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError`, not an exit."""

    def error(self, message: str) -> NoReturn:
        """Raise a :class:`UsageError` that names the help to read."""
        msg = f"{message} (see '{self.prog} --help')"
        raise UsageError(msg)


def _add_common(parser: argparse.ArgumentParser, prefix: str, *, short_o: bool) -> None:
    """Add the options every command takes; ``prefix`` keeps the top level's apart."""
    sup = argparse.SUPPRESS
    parser.add_argument(
        "--json", dest=f"{prefix}json", action="store_true", default=sup, help="the same as -o json"
    )
    names = ["-o", "--output-format"] if short_o else ["--output-format"]
    parser.add_argument(
        *names,
        dest=f"{prefix}format",
        choices=FORMATS,
        default=sup,
        help="table (for people, the default) or json",
    )
    parser.add_argument(
        "--debug", dest=f"{prefix}debug", action="store_true", default=sup, help="show tracebacks"
    )
    for which, what in (("allow", "load only these plugins"), ("deny", "skip these plugins")):
        parser.add_argument(
            f"--{which}",
            dest=f"{prefix}{which}",
            action="append",
            default=sup,
            metavar="NAME",
            help=f"{what} (entry-point or distribution names); repeatable",
        )


def add_top_options(parser: argparse.ArgumentParser) -> None:
    """Add the common options before the subcommand, where ``-o`` is always the format."""
    _add_common(parser, "top_", short_o=True)


def merge_options(opts: argparse.Namespace) -> None:
    """Fold the options given before the subcommand into those given after it."""
    for key in ("json", "format", "debug", "allow", "deny"):
        top, sub = getattr(opts, f"top_{key}", None), getattr(opts, key, None)
        if isinstance(top, list) or isinstance(sub, list):
            setattr(opts, key, [*(top or []), *(sub or [])])
        else:
            setattr(opts, key, sub if sub is not None else top)
    opts.json = bool(opts.json) or opts.format == "json"
    opts.debug = bool(opts.debug)


class Commands:
    """Where a command group adds its subcommands (see the module's docstring)."""

    def __init__(self, sub: argparse._SubParsersAction[Parser]) -> None:
        self._sub = sub

    def add(
        self,
        name: str,
        handler: Handler,
        summary: str,
        *,
        description: str | None = None,
        writes_file: bool = False,
    ) -> Parser:
        """Add subcommand ``name`` and return its parser, to add its own arguments to.

        :param summary: one line for the list of commands, and the help page's first line.
        :param description: more for the help page, after the summary.
        :param writes_file: the command takes ``-o FILE`` (see :func:`add_output_file`),
            so its output format is ``--output-format`` alone.
        """
        text = summary if description is None else f"{summary}\n\n{description}"
        parser: Parser = self._sub.add_parser(
            name, help=summary, description=text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        _add_common(parser, "", short_o=not writes_file)
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, summary: str, *, description: str | None = None) -> Commands:
        """Add a nested group, such as ``chain``, and return where its subcommands go."""
        text = summary if description is None else f"{summary}\n\n{description}"
        parser: Parser = self._sub.add_parser(name, help=summary, description=text)
        return Commands(parser.add_subparsers(dest=f"{name}_command", required=True, parser_class=Parser))


def add_output_file(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``-o FILE`` / ``--output FILE``: write ``what`` to FILE, not stdout.

    ``-o json`` and ``-o table`` are refused there as ambiguous: elsewhere
    ``-o`` is the output format. Write ``-o ./json`` for a file of that name.
    """

    def path(text: str) -> str:
        if text in FORMATS:
            msg = f"-o names the file to write {what} to; for the output format use --output-format {text}"
            raise argparse.ArgumentTypeError(msg + f", for a file named {text!r} write -o ./{text}")
        return text

    parser.add_argument("-o", "--output", type=path, metavar="FILE", help=f"write {what} here, not to stdout")


def wants_json(opts: argparse.Namespace) -> bool:
    """Whether the output is JSON (``--json`` or ``-o json``)."""
    return bool(getattr(opts, "json", False))


def factory(opts: argparse.Namespace, **kwargs: Any) -> Factory:
    """Return a :class:`~spincycle_jobs.Factory` that honours ``--allow`` and ``--deny``."""
    from spincycle_jobs._factory import Factory  # noqa: PLC0415 - --version and --help need no factory

    allow, deny = getattr(opts, "allow", None), getattr(opts, "deny", None)
    if allow:
        kwargs["allow"] = allow
    if deny:
        kwargs["deny"] = deny
    return Factory(**kwargs)


def seconds(text: str) -> float:
    """Parse a number of seconds: finite, >= 0, and no more than a thread can wait."""
    try:
        value = float(text)
    except ValueError:
        msg = f"invalid number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 <= value <= threading.TIMEOUT_MAX:
        msg = f"seconds must be a number from 0 to {threading.TIMEOUT_MAX:g}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


_SCHEMES: Final = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_address(text: str) -> str:
    """Parse ``--scheduler``: ``[SCHEME://]HOST:PORT``, a scheme Dask speaks and a port number.

    Refusing a malformed address here spares waiting for Dask to give up on it.
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    host, colon, port = rest.rpartition(":")
    if scheme not in _SCHEMES or (scheme != "inproc" and (not colon or not host or not port.isdigit())):
        msg = (
            f"invalid Dask scheduler address {text!r}: expected [SCHEME://]HOST:PORT, such as "
            f"tcp://127.0.0.1:8786 (schemes: {', '.join(_SCHEMES)})"
        )
        raise argparse.ArgumentTypeError(msg)
    if scheme != "inproc" and not 0 < int(port) < 65536:  # noqa: PLR2004 - the last port
        msg = f"invalid Dask scheduler address {text!r}: port {port} is not from 1 to 65535"
        raise argparse.ArgumentTypeError(msg)
    return text


def parse_json(text: str) -> Any:
    """Parse strict JSON, at most ``MAX_JSON_DEPTH`` deep (see :mod:`spincycle_jobs._jsondata`).

    :raises ValueError: saying what is wrong.
    """
    return loads(text, max_depth=MAX_JSON_DEPTH)


_SHOWN: Final = 60  # characters of a bad value an error message repeats


def _kv(option: str) -> Callable[[str], tuple[str, Any, bool]]:
    """Parse ``KEY=VALUE`` (a string) or ``KEY:=JSON`` (a typed value) for ``option``."""

    def parse(text: str) -> tuple[str, Any, bool]:
        key, sep, value = text.partition("=")
        if not sep or not key or key == ":":
            shown = text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."
            msg = f"malformed {option} {clean(shown)!r}: expected KEY=VALUE or KEY:=JSON"
            raise argparse.ArgumentTypeError(msg)
        if not key.endswith(":"):
            return key, value, False
        try:
            return key[:-1], parse_json(value), True
        except ValueError as error:
            why = clean(str(error))
            msg = f"malformed {option} {clean(key[:-1])!r}: the value after := is not JSON ({why})"
            raise argparse.ArgumentTypeError(msg) from None

    return parse


def add_kv(parser: argparse.ArgumentParser, short: str, long: str, dest: str, what: str) -> None:
    """Add a repeatable ``KEY=VALUE`` / ``KEY:=JSON`` option; read it with :func:`kv_dict`."""
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


def document_hint(text: str, path: str, error: Exception) -> str:
    """Return how to use ``text`` when ``error`` says it is not a document of the kind asked for, or ``""``.

    A TOML request spec wants ``chain create``; a chain document ``chain
    run``; a job document ``run --from``.
    """
    if "is not JSON" not in str(error) and ": not a " not in str(error):
        return ""  # a document of the right kind, refused for what it holds
    name = "FILE" if path == "-" else path
    head = text.lstrip()[:4096]
    if '"spincycle-jobs/chain/' in head:
        return f"; it is a chain document: run it with 'spincycle-jobs chain run --from {name}'"
    if '"spincycle-jobs/job/' in head:
        return f"; it is a job document: run it with 'spincycle-jobs run --from {name}'"
    if "request_id" in head and "[[jobs]]" in text:
        return (
            f"; it looks like a TOML request spec: make a chain document with "
            f"'spincycle-jobs chain create {name} -o chain.json', then run it with "
            "'spincycle-jobs chain run --from chain.json'"
        )
    return ""


def typed_hint(error: BaseException | None, given: Iterable[tuple[str, Any, bool]]) -> str:
    """Return a hint to type a job arg (``"; did you mean -a KEY:=JSON?"``), or ``""``.

    The hint is for an ``error`` about a job arg given with ``-a KEY=VALUE``,
    a string, that the job wants typed, where VALUE is JSON.
    """
    from spincycle_jobs._errors import WrongArgTypeError  # noqa: PLC0415 - only on an error

    if not isinstance(error, WrongArgTypeError) or error.got_type is not str:
        return ""
    for key, value, typed in reversed(list(given)):
        if key == error.key and not typed:
            try:
                parse_json(value)
            except ValueError:
                return ""
            return f"; did you mean -a {key}:={value}?"
    return ""


def kv_dict(pairs: Iterable[tuple[str, Any, bool]]) -> dict[str, Any]:
    """Return the values of an :func:`add_kv` option as a dict (the last of a repeated key wins)."""
    return {key: value for key, value, _ in pairs}


def read_text(path: str, what: str) -> str:
    """Return the text of file ``path``, or of stdin for ``-``.

    :param what: names the file in the error, such as ``"job document"``.
    :raises UsageError: naming the file, when it cannot be read.
    """
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:  # noqa: PTH123 - a plain file the user named
            return file.read()
    except (OSError, ValueError) as error:
        msg = f"cannot read {what} {path!r}: {error}"
        raise UsageError(msg) from None


def write_text(path: str | None, text: str) -> None:
    """Write ``text`` to stdout, or to file ``path`` with :func:`~spincycle_jobs._files.atomic_write`.

    :raises OSError: when the file cannot be written; the old one stays as it was.
    :raises UsageError: when ``path`` is something other than a regular file.
    """
    if path is None:
        out(text, end="")
        return
    from spincycle_jobs._files import NotAFileError  # noqa: PLC0415 - only commands that write files
    from spincycle_jobs._files import atomic_write  # noqa: PLC0415

    try:
        atomic_write(path, text.encode("utf-8"))
    except NotAFileError as error:
        raise UsageError(str(error)) from None


def clean(text: str) -> str:
    """``text`` safe for one line of a terminal: control characters and lone surrogates escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a lone surrogate, or a character the stream's encoding lacks
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))


def out(text: str, end: str = "\n") -> None:
    """Write ``text`` to stdout, as is, but never failing on what the encoding cannot take."""
    _write(sys.stdout, text + end)


def err(text: str, end: str = "\n") -> None:
    """Write ``text`` to stderr, as :func:`out` does."""
    _write(sys.stderr, text + end)


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    err(f"{PROG}: warning: {clean(message)}")


def emit(opts: argparse.Namespace, value: Any, text: str) -> None:
    """Print ``value`` as JSON with ``--json``/``-o json``, else ``text``."""
    out(json.dumps(value, indent=2, default=str) if wants_json(opts) else text)


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as a table of left-aligned columns; cells are :func:`clean`-ed."""
    cells = [[clean(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def plural(count: int, word: str) -> str:
    """``1 problem``, ``2 problems``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def type_dict(info: TypeInfo) -> dict[str, Any]:
    """Return a job type's record as ``--json`` prints it."""
    return {k: getattr(info, k) for k in ("type", "plugin", "distribution", "version", "target")}
