"""The reporting stage in the real workflow: plans, a tiny run and `snakemake --report`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_helpers import ROOT, plan, snakemake

pytestmark = pytest.mark.workflow


def tiny_config(tmp_path: Path, **sections) -> Path:
    """The default config shrunk to one small model; fast profiling and training cost."""
    config = yaml.safe_load((ROOT / "config" / "synthetic.yaml").read_text())
    config["datasets"]["synth"]["synthetic"].update(n_train=96, n_test=48, n_classes=4)
    config["datasets"]["synth"]["epochs"] = 1
    config["hidden_sizes"] = [16]
    config["seeds"] = [3]
    config["model"]["n_steps"] = 200
    config["training"]["progress_bar"] = False
    config["training"]["qat"] = {"epochs": 1}
    # Lava's agreement with the emulator is checked sample by sample by the Lava tests
    # (test_fixedpoint_lava*.py); here two samples per model show the stage runs.
    config["lava"].update(chunks=1, n_samples=2)
    config["profiling"] = {"devices": ["cpu"], "batch_sizes": [1], "idle_s": 0.0,
                           "min_active_s": 0.0, "max_samples": 8}
    config["training_cost"] = {"methods": ["eventprop"], "n_steps": [20, 40], "hidden": 8,
                               "batches": 1, "events_per_sample": 200}
    config.update(sections)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_paper_grid_plans_the_report(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "paper.yaml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = plan(proc)
    for rule in ("figure_accuracy", "training_cost", "figure_training_cost", "summary",
                 "figure_inference_cost"):
        assert counts.get(rule) == 1, (rule, counts)


def test_training_cost_can_be_switched_off(tmp_path):
    config = tiny_config(tmp_path, training_cost={"enabled": False})
    counts = plan(snakemake("-n", "--configfile", str(config), cwd=tmp_path))
    assert "summary" in counts and "figure_accuracy" in counts
    assert "training_cost" not in counts
    assert not [rule for rule in counts if rule.startswith("side_env")]


def test_tiny_run_and_html_report(tmp_path):
    """The tiny grid with and without delays (recurrent delays fine-tuned from the
    delay-free model, as the default) and the bit-width sweep, then the HTML report."""
    config = tiny_config(tmp_path, deploy={"bits": [8, 4], "methods": ["ptq", "qat"]},
                         delays=[False, True])
    raw = yaml.safe_load(config.read_text())
    raw["model"]["delays"] = {"max_in": 0, "max_rec": 30}
    raw["training"]["delays"] = {"start": "delay_free", "epochs": 1, "lr": 2.0}
    config.write_text(yaml.safe_dump(raw))
    proc = snakemake("--configfile", str(config), "--cores", "2", cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-5000:]
    results = tmp_path / "results"
    for figure in ("accuracy", "training_cost", "inference_cost", "bits_sweep"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000
        assert (results / "figures" / f"{figure}.pdf").read_bytes()[:5] == b"%PDF-"
    summary = pd.read_csv(results / "tables" / "accuracy_summary.csv")
    assert set(summary["stage"]) >= {"train", "float_test", "emulator_aligned",
                                     "lava_aligned"}
    assert (summary["source"] == "ours").all()  # synthetic data: no paper rows
    assert {"accuracy_mean_pct", "accuracy_sd_pct", "n_seeds"} <= set(summary.columns)
    cost = pd.read_csv(results / "training_cost" / "training_cost.csv")
    assert cost["n_steps"].tolist() == [20, 40] and (cost["method"] == "eventprop").all()
    text = (results / "summary.md").read_text()
    for section in ("## What ran", "## Hardware", "## Accuracy", "## Training cost",
                    "## Inference cost", "## Provenance"):
        assert section in text
    assert "<table>" in (results / "summary.html").read_text()
    # The bit-width sweep: ptq (int<b>/) and qat (qat<b>/) at 8 and 4 bits.
    sweep = pd.read_csv(results / "tables" / "bits_sweep.csv")
    assert sorted(zip(sweep["method"], sweep["bits"], sweep["delays"], strict=True)) == [
        ("ptq", 4, False), ("ptq", 4, True), ("ptq", 8, False), ("ptq", 8, True),
        ("qat", 4, False), ("qat", 4, True), ("qat", 8, False), ("qat", 8, True)]
    assert (sweep["footprint_bytes"][sweep["bits"] == 4].to_numpy()
            < sweep["footprint_bytes"][sweep["bits"] == 8].to_numpy()).all()
    assert sweep[["emulator_mean", "float_quantized_mean", "float_mean"]].notna().all().all()
    # ... and seed by seed (one seed here): one row per model, the mean its only value.
    per_seed = pd.read_csv(results / "tables" / "bits_sweep_seeds.csv")
    key = ["delays", "method", "bits"]
    assert len(per_seed) == len(sweep) and (per_seed["seed"] == 3).all()
    merged = per_seed.merge(sweep, on=key, validate="one_to_one")
    assert np.allclose(merged["emulator"], merged["emulator_mean"])
    cell = results / "synth" / "h16" / "seed3"
    qat_model = np.load(cell / "qat4" / "model.npz")
    prov = json.loads(str(qat_model["provenance"]))
    assert {k: prov["qat"][k] for k in ("bits", "percentile", "lr_quanta")} == \
        {"bits": 4, "percentile": 99.0, "lr_quanta": True}
    assert len(prov["qat"]["exponents"]) == 2   # the scales it was trained at
    delayed = np.load(results / "synth" / "h16-delays" / "seed3" / "qat4" / "model.npz")
    assert "d_rec" in delayed.files   # QAT of a model with delays keeps (and learns) them
    assert prov["init_model"].endswith("seed3/model.npz")
    assert pd.read_csv(cell / "qat4" / "train_log.csv")["epoch"].tolist() == [0]
    quantized = json.loads((cell / "qat4" / "quantization.json").read_text())
    assert quantized["provenance"]["source_model"].endswith("qat4/model.npz")
    fixed = pd.read_csv(results / "tables" / "accuracy_fixed.csv")
    lava = fixed[fixed["lava_aligned_n"].notna() & ~fixed["delays"]]
    assert sorted(zip(lava["method"], lava["bits"], strict=True)) == [("ptq", 8), ("qat", 8)]
    assert (lava["lava_aligned_agreement"] == 1.0).all()
    assert "## Weight bits" in text
    # The cell with delays: fine-tuned from its delay-free twin, deployed with its delays
    # (PTQ and QAT), checked by Lava, paired with the twin in the summary.
    delayed = results / "synth" / "h16-delays" / "seed3"
    prov = json.loads(str(np.load(delayed / "model.npz")["provenance"]))
    assert prov["init_model"] == "results/synth/h16/seed3/model.npz"
    assert prov["params"]["settings"]["epochs"] == 1
    floats = pd.read_csv(results / "tables" / "accuracy_float.csv").set_index("delays")
    assert floats.loc[True, "d_rec_max"] > 0 and "d_in_mean" not in floats
    assert floats.loc[True, "fine_tuned_from"] == prov["init_model"]
    rows = fixed[fixed["delays"]]
    assert sorted(zip(rows["method"], rows["bits"], strict=True)) == [
        ("ptq", 4), ("ptq", 8), ("qat", 4), ("qat", 8)]
    assert (rows["lava_aligned_agreement"].dropna() == 1.0).all() and \
        rows["lava_aligned_n"].notna().sum() == 2   # 8 bits, PTQ and QAT
    learned = text.split("## Learned delays")[1].split("\n## ")[0]
    assert "recurrent 0..30 steps" in learned and "| synth | 16 | Test, float32 | 1 |" in learned

    proc = snakemake("--configfile", str(config), "--report", "results/report.html",
                     cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    page = (results / "report.html").read_text()
    assert len(page) > 100_000
    for needle in ("results/figures/accuracy.png", "results/figures/training_cost.png",
                   "results/figures/inference_cost.png", "results/synth/figures/rasters.png",
                   "results/figures/bits_sweep.png",
                   "results/summary.html", "results/tables/accuracy_summary.csv",
                   "the paper's Figure 4", "the paper's Figure 3", "Table II"):
        assert needle in page, needle
    again = snakemake("--configfile", str(config), "--cores", "2", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr
