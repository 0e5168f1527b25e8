"""Escaped HTML fragments for the self-contained report: tables, images, sections.

Every string that comes from a run (model text above all) goes through :func:`esc`; images
are embedded as base64 data URIs, so the report is one file with no external resources.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Section:
    """One report section: an anchor for the table of contents, a title, an intro paragraph
    and an HTML body (already escaped)."""

    title: str
    anchor: str
    intro: str
    body: str

    def html(self) -> str:
        intro = f"<p>{esc(self.intro)}</p>" if self.intro else ""
        return f'<h2 id="{esc(self.anchor)}">{esc(self.title)}</h2>{intro}{self.body}'


def html_table(table: pd.DataFrame | None) -> str:
    """A formatted table (every cell a string already) as HTML."""
    if table is None or len(table) == 0:
        return '<p class="muted">No data.</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = []
    for _, row in table.iterrows():
        cells = "".join(f'<td class="num">{esc(v)}</td>' for v in row)
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


#: Tables with more rows than this are folded into a <details> element.
FOLD_ROWS = 12


def folded(summary: str, body: str, *, rows: int = FOLD_ROWS + 1) -> str:
    """``body`` inside a closed <details> element when it holds more than FOLD_ROWS rows."""
    if rows <= FOLD_ROWS:
        return body
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


def table_block(table: pd.DataFrame | None, summary: str) -> str:
    """A formatted table, folded under ``summary`` when it is long."""
    n = 0 if table is None else len(table)
    return folded(f"{summary} ({n} rows)", html_table(table), rows=n)


def img(path: Path | None, alt: str) -> str:
    if path is None or not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def json_block(value: Any) -> str:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return f"<pre>{esc(text)}</pre>"


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def heading(text: str) -> str:
    return f"<h3>{esc(text)}</h3>"
