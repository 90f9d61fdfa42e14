"""A self-contained HTML report: inline CSS, inline SVG charts drawn here, no scripts, opens offline.

Charts (each an ``<svg>`` with an id and the class ``chart``):

* ``chart-daily-spend`` — daily spend per entity type, stacked bars;
* ``chart-top-entities`` — the entities with the highest spend, horizontal bars;
* ``chart-model-mix`` — share of spend per model, horizontal bars with percentages.

Then one table per query. Amounts are exact in the data; the report rounds them for display only.
The markup is well-formed XML (every element closed, text escaped).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from pathlib import Path

from infra.analytics.results import QueryResult, display

PALETTE = {
    "tenant": "#3b6fb6",
    "user": "#e08a2c",
    "ci": "#4a9a5b",
    "demo": "#8e5ea2",
    "unattributed": "#c8413b",
    "invalid": "#7f7f7f",
}
_EXTRA = ("#1b9e9e", "#b5a22c", "#d46a9f", "#5c5c8a")
MODEL_COLOURS = ("#3b6fb6", "#e08a2c", "#4a9a5b", "#8e5ea2", *_EXTRA)
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;margin:.5rem 0;font-size:11px}
.legend span{display:inline-block;margin-right:1rem;font-size:.8rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.note{color:#666;font-size:.8rem}
"""


def _color(key: str, index: int) -> str:
    return PALETTE.get(key, _EXTRA[index % len(_EXTRA)])


def _usd(value: Decimal) -> str:
    return display("cost_usd", value)


def _num(value: float) -> str:
    return f"{value:.1f}"


def daily_spend_chart(by_day: Mapping[str, Mapping[str, Decimal]], types: Sequence[str]) -> str:
    """Stacked bars: one bar per day, one segment per entity type."""
    days = sorted(by_day)
    width, height, left, bottom, top = 960, 280, 70, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((sum(by_day[d].values(), Decimal(0)) for d in days), default=Decimal(0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart-daily-spend" class="chart stacked-bars" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        "<title>Daily spend per entity type</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    if not days or peak <= 0:
        parts.append(f'<text x="{left + 10}" y="{top + 20}">No spend in this period.</text></svg>')
        return "".join(parts)
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<text x="{left - 5}" y="{_num(y + 4)}" text-anchor="end">{escape(_usd(value))}</text>')
    slot = plot_w / len(days)
    bar = max(2.0, slot * 0.7)
    label_every = max(1, len(days) // 15)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_h)
        for j, etype in enumerate(types):
            amount = by_day[day].get(etype, Decimal(0))
            if amount <= 0:
                continue
            h = float(amount / peak) * plot_h
            y -= h
            parts.append(
                f'<rect class="segment type-{escape(etype)}" x="{_num(x)}" y="{_num(y)}" width="{_num(bar)}" '
                f'height="{_num(h)}" fill="{_color(etype, j)}"><title>{escape(day)} {escape(etype)}: '
                f"{escape(_usd(amount))}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{_num(x + bar / 2)}" y="{top + plot_h + 15}" text-anchor="middle">'
                f"{escape(day[5:])}</text>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span><span class="swatch" style="background:{_color(t, j)}"></span>{escape(t)}</span>'
        for j, t in enumerate(types)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def hbar_chart(chart_id: str, title: str, items: Sequence[tuple[str, Decimal, str]], total: Decimal) -> str:
    """Horizontal bars: ``(label, amount, colour)`` per bar, with the amount and its share of ``total``."""
    row_h, left, width = 24, 330, 960
    height = max(40, row_h * len(items) + 10)
    peak = max((a for _, a, _ in items), default=Decimal(0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="chart hbars" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>'
    ]
    if not items or peak <= 0:
        parts.append('<text x="10" y="20">No spend in this period.</text></svg>')
        return "".join(parts)
    for i, (label, amount, colour) in enumerate(items):
        y = 5 + i * row_h
        w = float(amount / peak) * (width - left - 200)
        share = f"{amount * 100 / total:.1f} %" if total > 0 else ""
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label[:60])}</text>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{_num(w)}" height="{row_h - 8}" '
            f'fill="{colour}">'
            f"<title>{escape(label)}: {escape(_usd(amount))}</title></rect>"
            f'<text x="{_num(left + w + 6)}" y="{y + 15}">{escape(_usd(amount))}  {escape(share)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(result: QueryResult) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for column, value in zip(result.columns, row, strict=True):
            numeric = isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{escape(display(column, value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(result.columns)}" class="note">no rows</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def build_html(
    results: Mapping[str, QueryResult], titles: Mapping[str, str], period_label: str, top_n: int = 10
) -> str:
    """The whole report page."""
    by_day: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    by_entity: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    types: list[str] = []
    daily = results.get("spend_by_entity_day")
    if daily is not None:
        for row in daily.dicts():
            etype, amount = str(row["entity_type"]), Decimal(str(row["cost_usd"] or 0))
            by_day[str(row["dt"])][etype] += amount
            by_entity[(etype, str(row["entity_name"] or row["entity_id"]))] += amount
            if etype not in types:
                types.append(etype)
    types.sort(key=lambda t: (list(PALETTE).index(t) if t in PALETTE else len(PALETTE), t))
    total = sum(by_entity.values(), Decimal(0))
    top = sorted(by_entity.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    top_items = [
        (f"{name} ({etype})", amount, _color(etype, 0)) for (etype, name), amount in top if amount > 0
    ]
    models = results.get("spend_by_model")
    model_items: list[tuple[str, Decimal, str]] = []
    if models is not None:
        for i, row in enumerate(models.dicts()):
            amount = Decimal(str(row["cost_usd"] or 0))
            if amount > 0:
                model_items.append((str(row["model"]), amount, MODEL_COLOURS[i % len(MODEL_COLOURS)]))
    model_total = sum((a for _, a, _ in model_items), Decimal(0))
    sections = [
        "<h2>Daily spend per entity type</h2>",
        daily_spend_chart(by_day, types),
        f"<h2>Top {top_n} entities</h2>",
        hbar_chart("chart-top-entities", "Top entities by spend", top_items, total),
        "<h2>Model mix</h2>",
        hbar_chart("chart-model-mix", "Share of spend per model", model_items[:15], model_total),
    ]
    for name, result in results.items():
        sections.append(f'<h2 id="q-{escape(name)}">{escape(titles.get(name, name))}</h2>')
        sections.append(_table(result))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>Bedrock spend — {escape(period_label)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Bedrock spend — {escape(period_label)}</h1>"
        f'<p class="note">Total priced spend: <strong>{escape(_usd(total))}</strong>. Records are '
        "de-duplicated by request_id; amounts are exact in the data and rounded here for display; "
        "unpriced requests are counted, never shown as $0 spend.</p>" + "".join(sections) + "</body></html>\n"
    )


def write_html(path: Path, html: str) -> Path:
    """Write the report (UTF-8) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
