"""Table II: measured, estimated and the paper's reference rows in one CSV / Markdown / LaTeX table.

Paper rows come from `neurokws.paper` (Table II) with source "paper"; their EDP is the
published one (computed by the authors from unrounded values). A non-paper row gets the
paper's figures beside it (paper_* columns) only where the paper measured the same thing:
the same hardware, hidden size and batch size, on the same data set (the row's paper
dataset, SHD) and trial length (T = 1000); elsewhere the paper_* columns are NaN. Rows are
sorted by hardware family (GPU/Jetson, CPU, Loihi 2, as in the paper), hardware, N, B, then
source (paper, measured, estimate). The Markdown and LaTeX tables leave out the columns
that are empty in every row they show.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurokws import paper
from neurokws.profiling.inference.records import (
    COLUMNS,
    ProfileRow,
    energy_per_sop_nJ,
    rows_to_frame,
)
from neurokws.utils.atomic import write_csv, write_text

SOURCE_ORDER = {"paper": 0, "measured": 1, "estimate": 2}
PAPER_JOIN = {"energy_total_mJ": "paper_energy_total_mJ",
              "energy_dynamic_mJ": "paper_energy_dynamic_mJ",
              "latency_batch_ms": "paper_latency_ms", "edp_uJs": "paper_edp_uJs"}
TEXT_COLUMNS = ("source", "hardware", "backend", "dataset", "precision")
DISPLAY = (("source", "Source"), ("hardware", "Hardware"), ("backend", "Backend"),
           ("dataset", "Data"), ("n_steps", "T"), ("hidden_size", "N"),
           ("precision", "Precision"), ("batch_size", "B"),
           ("energy_total_mJ", "Total energy (mJ/sample)"),
           ("energy_dynamic_mJ", "Dynamic energy (mJ/sample)"),
           ("latency_batch_ms", "Latency (ms/batch)"), ("edp_uJs", "EDP (uJ s)"),
           ("sop_per_sample", "SOP/sample"), ("energy_per_sop_nJ", "Dyn. energy/SOP (nJ)"),
           ("effective_sop_per_sample", "Effective SOP/sample"),
           ("activation_sparsity", "Activation sparsity"),
           ("footprint_bytes", "Footprint (bytes)"),
           ("connection_sparsity", "Zero weights"),
           ("paper_energy_total_mJ", "Paper total (mJ)"),
           ("paper_latency_ms", "Paper latency (ms)"))


JOIN_KEYS = ["_key", "paper_dataset", "n_steps", "hidden_size", "batch_size"]


def paper_rows() -> list[ProfileRow]:
    """The paper's Table II rows as ProfileRows (source 'paper'; EDP as published)."""
    rows = []
    for rec in paper.table_ii().itertuples(index=False):
        n, loihi = int(rec.hidden_size), "loihi" in str(rec.hardware).lower()
        row = ProfileRow(
            source="paper", hardware=str(rec.hardware),
            backend="NxKernel (Intel)" if loihi else "mlGeNN (GeNN CUDA)",
            batch_size=int(rec.batch_size), device=str(rec.hardware),
            model=f"paper {paper.TABLE_II_DATASET} N={n}", dataset=paper.TABLE_II_DATASET,
            paper_dataset=paper.TABLE_II_DATASET, hidden_size=n, n_classes=20,
            precision=str(rec.weight_precision), n_steps=paper.TABLE_II_N_STEPS,
            samples_measured=paper.TABLE_II_TEST_SAMPLES,
            latency_batch_ms=float(rec.latency_ms), energy_total_mJ=float(rec.energy_total_mJ),
            energy_dynamic_mJ=float(rec.energy_dynamic_mJ),
            method="paper Table II (published figures)")
        row.derive()
        row.edp_uJs = float(rec.edp_uJs)  # published value (from unrounded inputs)
        if n in paper.SOP_PER_TEST_SET:
            row.sop_per_sample = paper.SOP_PER_TEST_SET[n] / paper.TABLE_II_TEST_SAMPLES
            row.energy_per_sop_nJ = energy_per_sop_nJ(row.energy_dynamic_mJ, row.sop_per_sample)
        rows.append(row)
    return rows


def hardware_key(hardware: str) -> str:
    """Join key: the paper's label for Loihi 2 / Jetson Orin Nano, else the lowercase label."""
    text = str(hardware).lower()
    if "loihi" in text:
        return "loihi 2"
    if "orin nano" in text:
        return "jetson orin nano gpu"
    return text


def hardware_family(hardware: str) -> int:
    """Sort rank: GPU/Jetson 0, CPU 1, Loihi 2 2, other 3."""
    text = str(hardware).lower()
    if "loihi" in text:
        return 2
    if "cpu" in text:
        return 1
    if "gpu" in text or "jetson" in text:
        return 0
    return 3


def build_table2(rows: Sequence[ProfileRow] | pd.DataFrame,
                 include_paper: bool = True) -> pd.DataFrame:
    """All rows (+ the paper's), joined with the paper's figures, sorted; NaN = not available."""
    frame = rows_to_frame(list(rows) if not isinstance(rows, pd.DataFrame) else rows)
    published = rows_to_frame(paper_rows())
    if include_paper:
        frame = pd.concat([published, frame[frame["source"] != "paper"]], ignore_index=True) \
            if len(frame) else published.copy()
    frame["_key"] = frame["hardware"].map(hardware_key)
    frame["paper_dataset"] = frame["paper_dataset"].astype(object).fillna("")
    ref = published.assign(_key=published["hardware"].map(hardware_key))
    ref = ref[[*JOIN_KEYS, *PAPER_JOIN]].rename(columns=PAPER_JOIN)
    ref = ref.drop_duplicates(JOIN_KEYS)
    frame = frame.merge(ref, on=JOIN_KEYS, how="left")
    is_paper = frame["source"] == "paper"
    frame.loc[is_paper, list(PAPER_JOIN.values())] = np.nan
    frame["_family"] = frame["hardware"].map(hardware_family)
    frame["_source"] = frame["source"].map(SOURCE_ORDER).fillna(9)
    frame = frame.sort_values(["_family", "_key", "hidden_size", "batch_size", "_source",
                               "backend"], kind="stable")
    columns = [*COLUMNS, *PAPER_JOIN.values()]
    return frame[columns].reset_index(drop=True)


def _fmt(value: object) -> str:
    """A cell: 3 significant digits for floats, '–' for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}" if abs(v) >= 1 else f"{v:.3g}"
    return str(value)


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry numbers (status ok)."""
    return table[table["status"] == "ok"]


def display_columns(shown: pd.DataFrame) -> list[tuple[str, str]]:
    """DISPLAY without the columns that are empty (NaN or '') in every shown row."""
    def filled(col: str) -> bool:
        values = shown[col]
        return bool(values.notna().any() and (values.astype(str) != "").any())
    return [(col, title) for col, title in DISPLAY if filled(col)]


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown table of the ok rows, then notes: estimate methods and unavailable devices."""
    shown = _shown(table)
    columns = display_columns(shown)
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for _, rec in shown.iterrows():
        lines.append("| " + " | ".join(_fmt(rec[col]) for col, _ in columns) + " |")
    notes = ["", "Latency is per batch (at B = 1 per sample); energies are per sample; "
             "EDP = total energy x latency. Rows with source 'estimate' are model "
             "predictions, not measurements; 'paper' rows are the published Table II."]
    for method in sorted(set(shown.loc[shown["estimate"].astype(bool), "method"])):
        notes.append(f"- Estimate method: {method}.")
    for text in sorted(set(shown.loc[shown["estimate"].astype(bool), "notes"])):
        notes.append(f"- Estimate details: {text}.")
    for _, rec in table[table["status"] != "ok"].iterrows():
        notes.append(f"- Not measured: {rec['hardware']} (N={rec['hidden_size']}, "
                     f"B={rec['batch_size']}): {rec['notes']}.")
    for _, rec in shown[(shown["source"] == "measured") & shown["energy_total_mJ"].isna()
                        ].drop_duplicates(["hardware", "notes"]).iterrows():
        notes.append(f"- No energy for {rec['hardware']}: {rec['notes']}.")
    return "\n".join(lines + notes) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular of the ok rows (same columns as the Markdown table)."""
    def esc(text: str) -> str:
        return (text.replace("\\", r"\textbackslash{}").replace("&", r"\&")
                .replace("%", r"\%").replace("_", r"\_").replace("#", r"\#")
                .replace("–", "--"))
    shown = _shown(table)
    columns = display_columns(shown)
    head = " & ".join(esc(title) for _, title in columns) + r" \\"
    body = [" & ".join(esc(_fmt(rec[col])) for col, _ in columns) + r" \\"
            for _, rec in shown.iterrows()]
    align = "".join("l" if col in TEXT_COLUMNS else "r" for col, _ in columns)
    return "\n".join([r"\begin{tabular}{" + align + "}",
                      r"\toprule", head, r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}"]) + "\n"


def write_table2(rows: Sequence[ProfileRow] | pd.DataFrame, csv_path: str | os.PathLike,
                 md_path: str | os.PathLike | None = None,
                 tex_path: str | os.PathLike | None = None,
                 include_paper: bool = True) -> pd.DataFrame:
    """Build Table II and write it atomically as CSV (+ Markdown, + LaTeX)."""
    table = build_table2(rows, include_paper)
    write_csv(Path(csv_path), table)
    if md_path is not None:
        write_text(Path(md_path), to_markdown(table))
    if tex_path is not None:
        write_text(Path(tex_path), to_latex(table))
    return table


def read_rows(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate profile CSVs (written with rows_to_frame) into one frame."""
    frames = [pd.read_csv(p, keep_default_na=True) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return rows_to_frame([])
    frame = pd.concat(frames, ignore_index=True)
    for col in ("notes", "method", "power_source", "device", "model", "dataset",
                "paper_dataset", "provenance"):
        frame[col] = frame[col].astype(object).fillna("") if col in frame else ""
    return rows_to_frame(frame)
