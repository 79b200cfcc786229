"""Table II aggregation: paper rows, joins, marking, sorting, missing values, files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neurokws import paper as paper_module
from neurokws.config import default_network
from neurokws.profiling.inference.loihi_estimate import estimate_loihi
from neurokws.profiling.inference.profile import write_rows
from neurokws.profiling.inference.records import COLUMNS, ProfileRow, unavailable_rows
from neurokws.reports.table2 import (
    build_table2,
    hardware_key,
    paper_rows,
    read_rows,
    to_latex,
    to_markdown,
    write_table2,
)


def _cpu_row(n: int, b: int, energy: float = math.nan) -> ProfileRow:
    return ProfileRow(source="measured", hardware="CPU (Test CPU, 2 threads)",
                      backend="numba-cpu", batch_size=b, hidden_size=n, n_classes=20,
                      precision="fp32", n_steps=1000, latency_batch_ms=10.0 * b,
                      energy_total_mJ=energy, energy_dynamic_mJ=energy / 2,
                      sop_per_sample=1e6, notes="" if energy == energy else "RAPL missing"
                      ).derive()


@pytest.fixture(scope="module")
def rows():
    est = estimate_loihi(np.full(2, 8500.0), np.full(2, 3550.0), 256, 20, 1000)
    est.dataset = est.paper_dataset = "SHD"
    jetson = ProfileRow(source="measured", hardware="Jetson (Orin Nano 8GB)",
                        backend="numba-cuda", batch_size=1, hidden_size=512, n_classes=20,
                        precision="fp32", n_steps=1000, latency_batch_ms=4.0,
                        energy_total_mJ=20.0, energy_dynamic_mJ=5.0, dataset="SHD",
                        paper_dataset="SHD").derive()
    gone = unavailable_rows("GPU", "numba-cuda", "GPU unavailable: no CUDA driver",
                            default_network(n_hidden=256, n_out=20), [1])
    return [_cpu_row(512, 32, 3.0), _cpu_row(256, 1), est, jetson, *gone]


def test_paper_rows_are_marked_and_complete():
    paper = paper_rows()
    assert len(paper) == len(paper_module.table_ii()) == 9
    assert all(r.source == "paper" and not r.estimate for r in paper)
    loihi = [r for r in paper if r.hardware == "Loihi 2"]
    assert [r.edp_uJs for r in loihi] == [0.44, 0.63, 1.29]  # published, not recomputed
    assert loihi[0].sop_per_sample == pytest.approx(7.15e9 / 2264)
    jetson_b1 = [r for r in paper if r.hardware.startswith("Jetson") and r.batch_size == 1]
    # docs/profiling.md#synaptic-operations: 7.5 / 3.0 / 1.2 nJ per SOP on the Jetson at B = 1
    assert [round(r.energy_per_sop_nJ, 1) for r in jetson_b1] == [7.5, 3.0, 1.2]
    assert paper[3].latency_sample_ms == pytest.approx(103.3 / 128)


def test_build_table2_joins_marks_and_sorts(rows):
    table = build_table2(rows)
    assert list(table.columns[:len(COLUMNS)]) == list(COLUMNS)
    assert (table["source"] == "paper").sum() == 9
    est = table[table["source"] == "estimate"].iloc[0]
    assert bool(est["estimate"]) and est["method"].startswith("estimate:")
    assert est["paper_energy_total_mJ"] == 0.19 and est["paper_latency_ms"] == 2.33
    jet = table[table["hardware"] == "Jetson (Orin Nano 8GB)"].iloc[0]
    assert jet["paper_energy_total_mJ"] == 85.0 and jet["paper_edp_uJs"] == 2214.8
    cpu = table[table["backend"] == "numba-cpu"]
    assert cpu["paper_energy_total_mJ"].isna().all()  # the paper has no CPU rows
    assert table.loc[table["source"] == "paper", "paper_latency_ms"].isna().all()
    # Order: GPU/Jetson family, then CPU, then Loihi 2; within hardware by N, B, source.
    families = [hardware_key(h) for h in table["hardware"]]
    first_cpu = families.index("cpu (test cpu, 2 threads)")
    first_loihi = families.index("loihi 2")
    assert all("cpu" not in f and "loihi" not in f for f in families[:first_cpu])
    assert all(f == "loihi 2" for f in families[first_loihi:])
    loihi = table.iloc[first_loihi:]
    assert list(zip(loihi["hidden_size"], loihi["source"], strict=True)) == [
        (256, "paper"), (256, "estimate"), (512, "paper"), (1024, "paper")]
    paper_jetson = table[(table["source"] == "paper") & table["hardware"].str.startswith("Jet")]
    assert list(zip(paper_jetson["hidden_size"], paper_jetson["batch_size"], strict=True)) == [
        (256, 1), (256, 128), (512, 1), (512, 128), (1024, 1), (1024, 64)]


def test_paper_values_only_beside_rows_of_the_same_data_and_trial_length():
    # An estimate for another data set, or for SHD at another T, is not the paper's cell.
    rows = []
    for dataset, paper_dataset, n_steps in (("synth", "", 1000), ("SHD", "SHD", 250),
                                            ("SHD", "SHD", 1000)):
        row = estimate_loihi(np.full(2, 8500.0), np.full(2, 3550.0), 256, 20, n_steps)
        row.dataset, row.paper_dataset = dataset, paper_dataset
        rows.append(row)
    table = build_table2(rows)
    est = table[table["source"] == "estimate"].set_index(["dataset", "n_steps"])
    assert est.loc[("synth", 1000), "paper_latency_ms"] != est.loc[("synth", 1000),
                                                                    "paper_latency_ms"]
    assert math.isnan(est.loc[("SHD", 250), "paper_energy_total_mJ"])
    assert est.loc[("SHD", 1000), "paper_latency_ms"] == 2.33
    assert (table.loc[table["source"] == "paper", "dataset"] == "SHD").all()


def test_columns_empty_in_every_shown_row_are_left_out():
    text = to_markdown(build_table2([_cpu_row(256, 1), _cpu_row(256, 4)], include_paper=False))
    header = text.splitlines()[0]
    assert "Latency (ms/batch)" in header and "| N |" in header
    for empty in ("Total energy", "Dynamic energy", "EDP", "Paper total", "Data"):
        assert empty not in header, empty
    assert "Total energy (mJ/sample)" in to_markdown(build_table2([_cpu_row(256, 1, 3.0)]))


def test_build_table2_without_paper_and_with_paper_rows_given(rows):
    only = build_table2(rows, include_paper=False)
    assert (only["source"] != "paper").all() and len(only) == len(rows)
    twice = build_table2([*rows, *paper_rows()])
    assert (twice["source"] == "paper").sum() == 9  # not duplicated
    empty = build_table2([])
    assert len(empty) == 9


def test_markdown_marks_estimates_and_missing_values(rows):
    text = to_markdown(build_table2(rows))
    lines = text.splitlines()
    header = lines[0]
    assert "Total energy (mJ/sample)" in header and "Latency (ms/batch)" in header
    assert "EDP (uJ s)" in header
    body = [x for x in lines if x.startswith("| ") and x != header]
    assert len(body) == 9 + 4  # unavailable row is not in the table
    cpu_b1 = next(x for x in body if "numba-cpu" in x and "| 1 |" in x)
    assert "| – |" in cpu_b1  # missing energy shown as a dash
    assert any(x.startswith("| estimate | Loihi 2 |") for x in body)
    assert "not measurements" in text and "Estimate method: estimate:" in text
    assert "LOO" in text
    assert "Not measured: GPU (N=256, B=1): GPU unavailable: no CUDA driver." in text
    assert "No energy for CPU (Test CPU, 2 threads): RAPL missing." in text


def test_latex_is_a_booktabs_tabular(rows):
    tex = to_latex(build_table2(rows))
    # Source, Hardware, Backend, Data, T, N, Precision, B, ...
    assert tex.startswith(r"\begin{tabular}{llllrrlr") and r"\bottomrule" in tex
    assert "estimate & Loihi 2" in tex and "--" in tex


def test_files_round_trip(rows, tmp_path):
    write_rows(tmp_path / "rows.csv", rows)
    back = read_rows([tmp_path / "rows.csv", tmp_path / "rows.csv"])
    assert len(back) == 2 * len(rows) and tuple(back.columns) == COLUMNS
    assert back["notes"].map(type).eq(str).all()
    table = write_table2(back.iloc[:len(rows)], tmp_path / "t2.csv", tmp_path / "t2.md",
                         tmp_path / "t2.tex")
    again = pd.read_csv(tmp_path / "t2.csv")
    assert len(again) == len(table) == 9 + len(rows)
    assert (tmp_path / "t2.md").read_text().startswith("| Source |")
    assert (tmp_path / "t2.tex").exists()
    est = again[again["source"] == "estimate"].iloc[0]
    assert bool(est["estimate"]) and est["loo_max_err_latency_pct"] > 0
