"""The admin dashboard's chart: events per hour over a week, drawn here as SVG.

No script and no style attribute (the CSP allows neither inline): presentation attributes only.
Every text in it is made here from numbers and fixed words (translated from the catalogue,
and escaped all the same), never from client input. The chart reads left to right in every
language (time runs that way on its axis): `direction="ltr"` keeps a right-to-left page from
anchoring its labels at their right end, over the legend's swatches and past the left edge.
"""

from __future__ import annotations

from babel.lists import format_list
from markupsafe import Markup, escape

from signin.accounts.admin import Hourly
from signin.i18n import N_
from signin.i18n.catalogs import Translator

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 36
SERIES = (  # event type, legend, colour (contrast >= 3:1 on white), dash pattern
    ("sign_in", N_("sign-ins"), "#1a7f37", ""),
    ("sign_in_failed", N_("failures"), "#b3261e", ""),
    ("sign_in_locked", N_("refused while locked"), "#8a4b00", "4 3"),
)


def _scale_top(peak: int) -> int:
    """A round number at or above the peak, so the axis labels read well."""
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if peak <= step:
            return step
    return (peak // 10000 + 1) * 10000


def svg(hourly: Hourly, speak: Translator) -> Markup:
    hours = len(next(iter(hourly.counts.values()), []))
    peak = max((max(values, default=0) for values in hourly.counts.values()), default=0)
    top = _scale_top(max(peak, 1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(hours - 1, 1))

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top

    totals = {kind: sum(values) for kind, values in hourly.counts.items()}
    said = {kind: speak.gettext(legend) for kind, legend, _, _ in SERIES}
    legends = {kind: escape(text) for kind, text in said.items()}
    summary = format_list(
        [f"{totals.get(kind, 0)} {said[kind]}" for kind, _, _, _ in SERIES], locale=speak.locale
    )
    title = escape(speak.gettext(N_("Sign-ins and failures per hour, last 7 days")))
    desc = escape(speak.text(N_("Totals over the 7 days: %(summary)s."), {"summary": summary}))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'direction="ltr" role="img" aria-labelledby="chart-title chart-desc" class="chart" '
        "data-chart>",
        f'<title id="chart-title">{title}</title>',
        f'<desc id="chart-desc">{desc}</desc>',
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        level = round(top * fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(level) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#333">{level}</text>'
        )
    for i in range(0, hours, 24):
        day = escape(speak.day((hourly.first_hour + i) * 3600))
        parts.append(
            f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            'stroke="#e6e6e6" stroke-width="1"/>'
            f'<text x="{x(i) + 3:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="start" '
            f'font-size="11" fill="#333">{day}</text>'
        )
    for kind, _legend, colour, dash in SERIES:
        values = hourly.counts.get(kind, [])
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"'
            f'{dashed} data-series="{kind}" data-total="{totals.get(kind, 0)}"/>'
        )
    for n, (kind, _legend, colour, _dash) in enumerate(SERIES):
        lx = LEFT + 8 + n * 190
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 14}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{HEIGHT - 9}" text-anchor="start" font-size="11" '
            f'fill="#333">{legends[kind]}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and fixed words only
