"""The small Markdown subset of summary.md: tables from DataFrames, and a standalone HTML page."""

from __future__ import annotations

import html
import math
import re
from typing import Any

import pandas as pd


def _cell(value: Any) -> str:
    """A Markdown table cell ('–' for missing, | escaped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of `frame` (no index)."""
    if frame.empty:
        return "_(no rows)_\n"
    lines = ["| " + " | ".join(map(_cell, frame.columns)) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Escape HTML and render **bold**, *italic* and `code` spans."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*([^*]+)\*(?![*\w])", r"<em>\1</em>", text)


def _table_html(rows: list[str]) -> str:
    """A Markdown table (header, separator, body lines) as an HTML table."""
    cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
             for row in rows]
    head = "".join(f"<th>{_inline(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                   for row in cells[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_to_html(text: str, title: str = "neurokws results summary") -> str:
    """A standalone HTML page from the Markdown subset summary.md uses."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")),
                       len(lines))
            out.append("<pre>" + html.escape("\n".join(lines[i + 1:end])) + "</pre>")
            i = end + 1
            continue
        if line.startswith("|"):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("|")),
                       len(lines))
            out.append(_table_html(lines[i:end]))
            i = end
            continue
        if line.startswith("- "):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("- ")),
                       len(lines))
            out.append("<ul>" + "".join(f"<li>{_inline(x[2:])}</li>" for x in lines[i:end])
                       + "</ul>")
            i = end
            continue
        heading = re.match(r"(#{1,4}) (.*)", line)
        if heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    style = ("body{font-family:sans-serif;font-size:14px;max-width:1100px;margin:1em auto}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}th{background:#f2f2f2}"
             "pre{background:#f6f6f6;padding:.5em;overflow:auto}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(out)
            + "\n</body></html>\n")
