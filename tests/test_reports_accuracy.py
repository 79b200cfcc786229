"""Figure 4 aggregation: per-seed stages, mean/sd over seeds, paper join, skipped stages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neurokws.paper import accuracy as paper_accuracy
from neurokws.paper import paper_dataset
from neurokws.reports.accuracy import (
    comparison_table,
    format_mean_sd,
    from_csv_frame,
    per_seed,
    summarise,
    to_csv_frame,
    with_paper,
)
from neurokws.reports.figures import _series, plot_accuracy


def float_table(dataset: str = "SHD", hidden=(256,), seeds=(1, 2, 3)) -> pd.DataFrame:
    """Hand-made accuracy_float.csv rows: test = 0.80 + 0.01 * seed index."""
    rows = []
    for h in hidden:
        for i, seed in enumerate(seeds):
            rows.append({"dataset": dataset, "hidden": h, "seed": seed,
                         "train_accuracy": 0.90 + 0.01 * i, "valid_accuracy": np.nan,
                         "test_accuracy": 0.80 + 0.01 * i, "n_test": 100})
    return pd.DataFrame(rows)


def fixed_table(floats: pd.DataFrame, lava: bool = True, bits=(8,)) -> pd.DataFrame:
    """Hand-made accuracy_fixed.csv rows; Lava columns only when `lava`."""
    rows = []
    for rec in floats.itertuples(index=False):
        for b in bits:
            row = {"dataset": rec.dataset, "hidden": rec.hidden, "seed": rec.seed,
                   "float_test_accuracy": rec.test_accuracy, "bits": b,
                   "emulator_aligned_accuracy": rec.test_accuracy - 0.01 * (8 - b + 1),
                   "emulator_paper_accuracy": rec.test_accuracy - 0.02}
            if lava:
                row.update(lava_aligned_accuracy=0.5, lava_aligned_n=8,
                           lava_aligned_agreement=1.0)
            rows.append(row)
    return pd.DataFrame(rows)


def test_mean_sd_over_seeds_in_percent():
    floats = float_table()
    summary = summarise(per_seed(floats, fixed_table(floats), bits=8))
    test = summary[summary["stage"] == "float_test"].iloc[0]
    assert test["mean"] == pytest.approx(81.0)
    assert test["sd"] == pytest.approx(1.0)  # sample sd of 80, 81, 82
    assert test["n"] == 3 and test["samples"] == 100
    emulator = summary[summary["stage"] == "emulator_aligned"].iloc[0]
    assert emulator["mean"] == pytest.approx(80.0)
    lava = summary[summary["stage"] == "lava_aligned"].iloc[0]
    assert lava["mean"] == pytest.approx(50.0) and lava["sd"] == pytest.approx(0.0)
    assert lava["samples"] == 8
    assert list(summary["stage"]) == ["train", "float_test", "emulator_aligned",
                                      "emulator_paper", "lava_aligned"]


def test_one_seed_has_nan_sd():
    summary = summarise(per_seed(float_table(seeds=(7,)), None, bits=8))
    assert summary["n"].tolist() == [1, 1]
    assert summary["sd"].isna().all()


def test_skipped_stages_are_absent_not_zero():
    floats = float_table()
    no_fixed = per_seed(floats, None, bits=8)
    assert set(no_fixed["stage"]) == {"train", "float_test"}
    no_lava = per_seed(floats, fixed_table(floats, lava=False), bits=8)
    assert "lava_aligned" not in set(no_lava["stage"])
    assert set(no_lava["stage"]) >= {"emulator_aligned", "emulator_paper"}
    assert per_seed(None, None, bits=8).empty and summarise(per_seed(None, None, bits=8)).empty


def test_lava_missing_for_one_seed_counts_only_the_others():
    floats = float_table()
    fixed = fixed_table(floats)
    fixed.loc[fixed["seed"] == 3, "lava_aligned_accuracy"] = np.nan
    summary = summarise(per_seed(floats, fixed, bits=8))
    lava = summary[summary["stage"] == "lava_aligned"].iloc[0]
    assert lava["n"] == 2


def test_bit_width_selection():
    floats = float_table(seeds=(1,))
    fixed = fixed_table(floats, bits=(4, 6, 8))
    long = per_seed(floats, fixed, bits=6)
    emulator = long[long["stage"] == "emulator_aligned"]
    assert len(emulator) == 1
    assert emulator["accuracy"].iloc[0] == pytest.approx(100 * (0.80 - 0.03))


def test_paper_rows_join_by_source_and_hidden_size():
    floats = pd.concat([float_table("mySHD", hidden=(256, 128)),
                        float_table("synth", hidden=(256,))])
    summary = summarise(per_seed(floats, None, bits=8))
    full = with_paper(summary, {"mySHD": paper_dataset("mySHD", "shd"),
                                "synth": paper_dataset("synth", "synthetic")})
    paper = full[full["source"] == "paper"]
    assert set(paper["dataset"]) == {"mySHD"}           # the paper has no synthetic data
    assert set(paper["hidden"]) == {256}                # and no N = 128
    assert set(paper["stage"]) == {"float_test", "lava", "loihi2"}
    row = paper[paper["stage"] == "float_test"].iloc[0]
    assert (row["mean"], row["sd"], row["n"]) == (84.65, 1.38, 5)
    assert math.isnan(paper[paper["stage"] == "loihi2"]["sd"].iloc[0])
    ours_then_paper = full[(full["dataset"] == "mySHD") & (full["hidden"] == 256)]
    assert list(zip(ours_then_paper["source"], ours_then_paper["stage"], strict=True)) == [
        ("ours", "train"), ("ours", "float_test"), ("paper", "float_test"),
        ("paper", "lava"), ("paper", "loihi2")]
    assert list(full["hidden"][full["dataset"] == "mySHD"].drop_duplicates()) == [128, 256]


def test_paper_dataset_mapping():
    assert paper_dataset("anything", "shd") == "SHD"
    assert paper_dataset("x", "SSC") == "SSC"
    assert paper_dataset("SHD", "synthetic") is None
    assert paper_dataset("ssc", "files") == "SSC"
    assert paper_dataset("mine", "files") is None
    assert paper_dataset("shd") == "SHD"
    assert len(paper_accuracy()) == 18


def test_comparison_table_and_formatting():
    floats = float_table()
    full = with_paper(summarise(per_seed(floats, fixed_table(floats), bits=8)), {"SHD": "SHD"})
    table = comparison_table(full)
    assert table.loc[0, "Test, float32"] == "81.00 ± 1.00 (n=3)"
    assert table.loc[0, "Paper: test, Lava"] == "82.12 ± 1.40 (n=5)"
    assert table.loc[0, "Paper: test, Loihi 2 (1 model)"] == "83.75 (n=1)"
    assert format_mean_sd(float("nan"), 1.0, 3) == "–"


def test_figure_series_put_paper_bars_after_their_counterparts():
    floats = float_table()
    full = with_paper(summarise(per_seed(floats, fixed_table(floats), bits=8)), {"SHD": "SHD"})
    assert _series(full) == [
        ("ours", "train"), ("ours", "float_test"), ("paper", "float_test"),
        ("ours", "emulator_aligned"), ("ours", "emulator_paper"), ("ours", "lava_aligned"),
        ("paper", "lava"), ("paper", "loihi2")]
    only_float = with_paper(summarise(per_seed(floats, None, bits=8)), {"SHD": "SHD"})
    assert _series(only_float)[-2:] == [("paper", "lava"), ("paper", "loihi2")]


def test_accuracy_figure_png_and_pdf(tmp_path):
    floats = pd.concat([float_table("SHD", hidden=(256, 512)), float_table("synth")])
    full = with_paper(summarise(per_seed(floats, fixed_table(floats), bits=8)),
                      {"SHD": "SHD", "synth": None})
    png, pdf = tmp_path / "fig" / "accuracy.png", tmp_path / "fig" / "accuracy.pdf"
    plot_accuracy(full, png, pdf)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in png.parent.iterdir()) == ["accuracy.pdf", "accuracy.png"]
    with pytest.raises(ValueError):
        plot_accuracy(full.iloc[0:0], png)


def test_loihi2_column_becomes_a_stage_next_to_the_papers():
    floats = float_table(seeds=(1,))
    fixed = fixed_table(floats).assign(loihi2_accuracy=0.83)
    full = with_paper(summarise(per_seed(floats, fixed, bits=8)), {"SHD": "SHD"})
    ours = full[(full["source"] == "ours") & (full["stage"] == "loihi2")]
    assert ours["mean"].tolist() == [pytest.approx(83.0)]
    assert _series(full)[-2:] == [("ours", "loihi2"), ("paper", "loihi2")]


def test_csv_columns_carry_units_and_round_trip(tmp_path):
    floats = float_table()
    full = with_paper(summarise(per_seed(floats, None, bits=8)), {"SHD": "SHD"})
    path = tmp_path / "accuracy_summary.csv"
    to_csv_frame(full).to_csv(path, index=False)
    written = pd.read_csv(path)
    assert {"accuracy_mean_pct", "accuracy_sd_pct", "n_seeds", "n_test_samples"} <= set(
        written.columns)
    back = from_csv_frame(written)
    pd.testing.assert_frame_equal(back[["mean", "sd", "n"]], full[["mean", "sd", "n"]],
                                  check_dtype=False)
