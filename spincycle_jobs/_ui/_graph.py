"""A run's chain drawn as SVG, on the server: layered as ``chain show`` lays it out.

Layers run from top to bottom (a job's layer is one more than that of the
latest job it runs after); the jobs of a layer sit side by side, a row of
at most :data:`PER_ROW`, wrapping to more rows. Each job is a box coloured
by its state (the CSS class ``st-STATE``) that links to its tries; lines
join each job to those it runs after. The page's script finds the boxes by
their ``data-job`` attribute to recolour them as the run goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Final

from spincycle_jobs._cli._common import plural

from ._html import Html
from ._html import cut
from ._html import join
from ._html import tag
from ._html import url

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from spincycle_jobs._store import JobInfo

__all__ = ["MAX_EDGES", "PER_ROW", "graph"]

#: Jobs side by side in one row of a layer.
PER_ROW: Final = 8
#: Above this many lines between jobs, the lines are left out (the boxes and their layers say enough).
MAX_EDGES: Final = 3000
_W: Final = 150  # a box
_H: Final = 26
_GAP_X: Final = 12
_GAP_ROW: Final = 10  # between the rows of one layer
_GAP_LAYER: Final = 34
_LEFT: Final = 36  # the layer numbers
_TOP: Final = 8
_LABEL: Final = 19  # characters of a job id in its box


def graph(jobs: Sequence[JobInfo], layers: Mapping[str, int]) -> Html:
    """Return the figure ``#graph``: the SVG of a run's jobs, each in its layer.

    :param jobs: the run's jobs, in the chain's order.
    :param layers: each job's layer, by job id (1 for a job after nothing).
    """
    by_layer: dict[int, list[JobInfo]] = {}
    for job in jobs:
        by_layer.setdefault(layers.get(job.job_id, 1), []).append(job)
    where: dict[str, tuple[int, int]] = {}
    parts: list[Html] = []
    y = _TOP
    widest = 1
    for number, members in sorted(by_layer.items()):
        parts.append(tag("text", str(number), x=4, y=y + 18, class_="layer"))
        for i, job in enumerate(members):
            row, col = divmod(i, PER_ROW)
            x, top = _LEFT + col * (_W + _GAP_X), y + row * (_H + _GAP_ROW)
            where[job.job_id] = (x, top)
            widest = max(widest, col + 1)
        rows = (len(members) + PER_ROW - 1) // PER_ROW
        y += rows * (_H + _GAP_ROW) - _GAP_ROW + _GAP_LAYER
    height = y - _GAP_LAYER + _TOP
    width = _LEFT + widest * (_W + _GAP_X)
    edges = [(a, job.job_id) for job in jobs for a in job.after if a in where]
    lines = []
    if len(edges) <= MAX_EDGES:
        for a, b in edges:
            (x1, y1), (x2, y2) = where[a], where[b]
            x1, y1, x2 = x1 + _W // 2, y1 + _H, x2 + _W // 2
            bend = max((y2 - y1) // 2, 8)
            path = f"M{x1} {y1} C{x1} {y1 + bend} {x2} {y2 - bend} {x2} {y2}"
            lines.append(tag("path", d=path, class_="edge"))
    boxes = [_box(job, *where[job.job_id]) for job in jobs]
    label = f"the chain's {plural(len(jobs), 'job')} in {plural(len(by_layer), 'layer')}"
    svg = tag(
        "svg",
        tag("g", lines, class_="edges"),
        join(*parts),
        join(*boxes),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=label,
        class_="graph",
        data_edges_left_out=len(edges) if len(edges) > MAX_EDGES else None,
    )
    return tag("figure", svg, id="graph")


def _box(job: JobInfo, x: int, y: int) -> Html:
    tip = f"{job.job_id}: {job.type} {job.name!r}, {job.state.name}"
    return tag(
        "a",
        tag(
            "g",
            tag("title", tip),
            tag("rect", x=x, y=y, width=_W, height=_H, rx=4),
            tag("text", cut(job.job_id, _LABEL), x=x + 8, y=y + 17),
            class_=f"node st-{job.state.name}",
            data_job=job.job_id,
        ),
        href=url("/job", run=job.request_id, id=job.job_id),
    )
