"""The leaderboard as one self-contained HTML page (``compare --format html``, ``--write``).

Inline CSS and a few lines of JavaScript (sortable columns), images as data URIs: the page
opens from disk with no network. jinja2 renders it (it comes with torch; listed in the
project's dependencies as its own, since compare does not import torch).
"""
from __future__ import annotations

import base64
import re
from pathlib import Path

from .leaderboard import BOUNDS, LEGEND, _method, name_columns

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>skelbench leaderboard</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
p.meta, p.legend { color: #555; margin: .2em 0; }
code { background: #f3f3f3; padding: 0 .3em; border-radius: 3px; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { padding: .3em .7em; border-bottom: 1px solid #e2e2e2; white-space: nowrap; }
th { background: #f6f6f6; cursor: pointer; user-select: none; text-align: left;
     white-space: normal; max-width: 11em; vertical-align: bottom; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.best { font-weight: 700; color: #0a6b2d; }
tr.bound td { color: #666; font-style: italic; }
tr.paper td { color: #7a4b00; background: #fffaf0; }
.key span { display: inline-block; padding: 0 .5em; margin-right: .6em; }
.key .bound { color: #666; font-style: italic; }
.key .paper { color: #7a4b00; background: #fffaf0; }
figure { display: inline-block; margin: 0 1em 1em 0; }
figure img { max-width: 560px; border: 1px solid #ddd; }
ul.small { color: #555; font-size: .9em; }
</style>
</head>
<body>
<h1>skelbench leaderboard</h1>
<p class="meta">Generated on {{ generated }} by <code>{{ command }}</code>.</p>
<p class="legend">{{ legend }}. Click a column header to sort.</p>
<p class="key"><span class="bound">bounds: untrained encoder, supervised, raw coordinates</span>
<span class="paper">a paper's reported number</span></p>
{% for t in tables %}
<h2>{{ t.title }}</h2>
<table class="board" id="table-{{ loop.index }}">
<thead><tr>{% for h in t.header %}<th scope="col"{% if loop.index0 >= t.n_text %} class="num"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr class="{{ row.kind }}">{% for c in row.cells %}<td{% if c.cls %} class="{{ c.cls }}"{% endif %}{% if c.value is not none %} data-value="{{ c.value }}"{% endif %}>{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% endfor %}
{% if figures %}<h2>Figures</h2>
{% for f in figures %}<figure><img alt="{{ f.name }}" src="data:image/png;base64,{{ f.data }}"><figcaption>{{ f.name }}</figcaption></figure>
{% endfor %}{% endif %}
{% if sources %}<h2>Papers' numbers</h2><ul class="small">{% for s in sources %}<li>{{ s }}</li>{% endfor %}</ul>{% endif %}
{% if notices %}<h2>Left out</h2><ul class="small">{% for n in notices %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
<script>
// Sort a table by the clicked column: numbers by their value (a cell's mean), text
// alphabetically; empty cells last either way. A second click reverses.
document.querySelectorAll("table.board th").forEach(function (th, _, all) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    if (!th.classList.contains("num") && !th.hasAttribute("aria-sort")) dir = "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[col];
      return cell.hasAttribute("data-value") ? parseFloat(cell.getAttribute("data-value")) : cell.textContent;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), xs = typeof x === "string", ys = typeof y === "string";
      if (xs !== ys) return xs ? 1 : -1;          // numbers before text (the dashes)
      var c = xs ? x.localeCompare(y) : x - y;
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
</script>
</body>
</html>
"""

NUMBER = re.compile(r"^\*{0,2}(-?\d+(?:\.\d+)?)")


def _rows(header: list[str], body: list[list[str]], best: set) -> tuple[int, list[dict]]:
    n_text = name_columns(header)
    rows = []
    for i, row in enumerate(body):
        name = row[0]
        kind = ("paper" if name.endswith("(paper)") else
                "bound" if _method(name) in BOUNDS else "method")
        cells = []
        for j, text in enumerate(row):
            match = NUMBER.match(text) if j >= n_text else None
            cls = " ".join(c for c in ("num" if j >= n_text else "",
                                       "best" if (i, j) in best else "") if c)
            cells.append({"text": text, "cls": cls,
                          "value": match.group(1) if match else None})
        rows.append({"kind": kind, "cells": cells})
    return n_text, rows


def figures(results_root: Path) -> list[dict]:
    """The committed plots beside the leaderboard (reliability diagrams, continuity plots)."""
    out = []
    for path in sorted(Path(results_root).glob("*.png")):
        out.append({"name": path.stem, "data": base64.b64encode(path.read_bytes()).decode()})
    return out


def render_html(parts: list, sources: list[str], notices: list[str], command: str,
                results_root: Path) -> str:
    """``parts``: (title, header, body, best) per table, as ``leaderboard.pivot`` makes them."""
    import jinja2

    from .results import now
    tables = []
    for title, header, body, best in parts:
        n_text, rows = _rows(header, body, best)
        tables.append({"title": title[0].upper() + title[1:], "header": header,
                       "n_text": n_text, "rows": rows})
    env = jinja2.Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        generated=now(), command=command, legend=LEGEND, tables=tables,
        figures=figures(results_root), sources=sources, notices=notices)


def write_html(path: Path, parts: list, sources: list[str], notices: list[str], command: str,
               results_root: Path) -> None:
    from .results import atomic_write_text
    atomic_write_text(Path(path), render_html(parts, sources, notices, command, results_root))
