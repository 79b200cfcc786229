"""The real Snakemake workflow: dry runs of both configs, lint, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import ROOT, plan, snakemake

pytestmark = pytest.mark.workflow


def tiny_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["datasets"]["synth"]["synthetic"].update(n_train=96, n_test=48, n_classes=4)
    config["datasets"]["synth"]["epochs"] = 2
    config["hidden_sizes"] = [16]
    config["seeds"] = [3]
    config["model"]["n_steps"] = 300
    config["training"]["progress_bar"] = False
    config["training_cost"] = {"enabled": False}
    config["profiling"].update(batch_sizes=[1, 4], idle_s=0.0, min_active_s=0.0, max_samples=8,
                               devices=["cpu", "gpu", "loihi", "mlgenn"])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_paper_grid_dry_run_plans_downloads_and_all_cells(tmp_path):
    proc = snakemake("-n", "--configfile", str(ROOT / "config" / "paper.yaml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = plan(proc)
    assert counts["train"] == 2 * 3 * 5
    assert counts["download"] == 5  # shd train/test, ssc train/valid/test


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Lints for" not in proc.stdout + proc.stderr


def test_tiny_workflow_end_to_end(tmp_path):
    config = tiny_config(tmp_path)
    proc = snakemake("--configfile", str(config), "--cores", "2", cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-5000:]
    results = tmp_path / "results"
    assert (results / "synth" / "figures" / "rasters.png").stat().st_size > 1000
    table = pd.read_csv(results / "tables" / "accuracy_float.csv")
    assert list(table["hidden"]) == [16]
    assert 0.0 <= table["test_accuracy"].iloc[0] <= 1.0
    cell = results / "synth" / "h16" / "seed3"
    log = pd.read_csv(cell / "train_log.csv")
    assert list(log["epoch"]) == [0, 1]
    metrics = json.loads((cell / "eval_float.json").read_text())
    assert metrics["provenance"]["seed"] == 3
    assert metrics["provenance"]["versions"]["numpy"]
    fixed = pd.read_csv(results / "tables" / "accuracy_fixed.csv")
    assert {"emulator_aligned_accuracy", "emulator_paper_accuracy",
            "lava_aligned_accuracy"} <= set(fixed.columns)
    assert fixed["lava_aligned_n"].iloc[0] == 8
    assert fixed["lava_aligned_agreement"].iloc[0] == 1.0  # bit-exact emulator
    assert (cell / "int8" / "model.net").stat().st_size > 0
    assert (cell / "model.nir").stat().st_size > 0
    table2 = pd.read_csv(results / "tables" / "table2.csv")
    assert {"paper", "measured", "estimate"} <= set(table2["source"])
    cpu = table2[(table2["source"] == "measured") & (table2["backend"] == "numba-cpu")]
    assert sorted(cpu["batch_size"]) == [1, 4] and (cpu["latency_sample_ms"] > 0).all()
    # Devices absent here (GPU, GeNN) give rows that say why instead of failing the run.
    for backend in ("numba-cuda", "mlGeNN"):
        rows = table2[table2["backend"] == backend]
        assert len(rows) == 2 and (rows["status"] == "unavailable").all()
        assert rows["notes"].str.len().min() > 20
    # A second invocation has nothing to do.
    again = snakemake("--configfile", str(config), "--cores", "2", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_corrupt_input_fails_alone_and_independent_jobs_finish(tmp_path):
    config = yaml.safe_load(tiny_config(tmp_path).read_text())
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)  # HDF5 signature, then garbage
    config["datasets"]["bad"] = {"source": "files", "epochs": 1,
                                 "files": {"train": str(corrupt), "test": str(corrupt)}}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = ["results/synth/h16/seed3/eval_float.json", "results/bad/h16/seed3/eval_float.json"]
    proc = snakemake("--configfile", str(path), "--cores", "2", "--keep-going", *targets,
                     cwd=tmp_path, timeout=900)
    assert proc.returncode != 0
    assert (tmp_path / targets[0]).exists()          # the independent cell finished
    assert not (tmp_path / "results" / "bad" / "prepared" / "train.npz").exists()
    log = (tmp_path / "results" / "bad" / "logs" / "prepare_train.log").read_text()
    assert "corrupt.h5" in log and "DataFormatError" in log
