r"""HTML made from Python, where every value is text unless this module made it markup.

:class:`Html` is markup this module built; anything else given to
:func:`tag` is text, and is escaped. Text is first made safe to look at by
:func:`shown`: control characters (ANSI escapes among them), direction
overrides and lone surrogates become visible escapes such as ``\x1b``.
Long text is cut by :func:`bounded`, which keeps its head and its tail.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING
from typing import Final
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Html", "bounded", "cut", "join", "link", "shown", "tag", "url"]

#: What :func:`shown` escapes: C0 controls but tab and newline, DEL and C1, bidi controls, surrogates.
_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
#: Elements that have no end tag (in HTML), or no content (in SVG).
_VOID: Final = frozenset({"br", "hr", "img", "input", "link", "meta", "rect", "path", "line"})


class Html(str):
    """Markup built by this module: :func:`tag` puts it in as it is, never escaped again."""

    __slots__ = ()


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"  # noqa: PLR2004 - one byte


def shown(text: str) -> str:
    r"""Return ``text`` fit to show: each control character, bidi control and lone surrogate as an escape.

    ``\r\n`` becomes ``\n``; tabs and newlines stay.

    >>> shown("\x1b[31mred\x1b[0m \udc80")
    '\\x1b[31mred\\x1b[0m \\udc80'
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_escape, text)


def cut(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending with ``…`` when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(text: str, limit: int) -> tuple[str, int]:
    """Return ``text`` as shown (:func:`shown`), with only its first and last ``limit`` characters.

    :returns: the text, with a line that says what was left out, and how
        many characters were left out (0 when none).
    """
    if len(text) <= 2 * limit:
        return shown(text), 0
    left_out = len(text) - 2 * limit
    note = f"\n[… {left_out:,} characters not shown: the first and last {limit:,} are …]\n"
    return shown(text[:limit]) + note + shown(text[-limit:]), left_out


def _attr(name: str) -> str:
    return name.rstrip("_").replace("_", "-")


def tag(element: str, /, *children: object, **attrs: object) -> Html:
    """Return ``element`` with ``children`` (text unless :class:`Html`) and ``attrs``.

    An attribute named ``class_`` or ``data_job`` is ``class`` or
    ``data-job``; ``None`` and ``False`` leave it out, ``True`` writes it
    bare. Values are text, always escaped; lists and tuples of children
    are taken one by one; ``None`` children are left out.
    """
    parts = [f"<{element}"]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {_attr(key)}")
        else:
            parts.append(f' {_attr(key)}="{html.escape(shown(str(value)), quote=True)}"')
    if element in _VOID and not children:  # self-closed: in SVG a bare <rect> would hold what follows
        parts.append(" />")
        return Html("".join(parts))
    parts.append(">")
    parts.extend(_children(children))
    parts.append(f"</{element}>")
    return Html("".join(parts))


def _children(children: Iterable[object]) -> Iterable[str]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, Html):
            yield child
        elif isinstance(child, list | tuple):
            yield from _children(child)
        else:
            yield html.escape(shown(str(child)), quote=False)


def join(*parts: object) -> Html:
    """Return ``parts`` side by side, text escaped as :func:`tag` escapes it."""
    return Html("".join(_children(parts)))


def url(path: str, **query: object) -> str:
    """Return one of this server's URLs: ``path`` (a constant starting with ``/``) and a query.

    Values are percent-encoded, so no value can make a link leave ``path``;
    ``None`` values are left out.
    """
    if not path.startswith("/"):
        msg = f"expected a path of this server, starting with '/', got {path!r}"
        raise ValueError(msg)
    pairs = {k: str(v).encode("utf-8", "backslashreplace") for k, v in query.items() if v is not None}
    return f"{path}?{urlencode(pairs)}" if pairs else path


def link(text: object, path: str, **query: object) -> Html:
    """Return ``<a>`` to :func:`url` ``(path, **query)`` with ``text``."""
    return tag("a", text, href=url(path, **query))
