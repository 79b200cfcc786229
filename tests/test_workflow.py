"""The real Snakemake workflow: the README's commands, lint, and a tiny end-to-end run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neurokws.utils.sidecar import side_env
from workflow_helpers import ROOT, plan, snakemake

pytestmark = pytest.mark.workflow


def readme_command(marker: str) -> list[str]:
    """The README's snakemake command line that contains `marker`, as a user types it."""
    readme = (ROOT / "README.md").read_text()
    lines = [line.strip() for line in re.findall(r"```bash\n(.*?)```", readme, re.S)
             for line in line.splitlines()]
    matches = [line for line in lines if "snakemake" in line and marker in line]
    assert matches, f"no README command with {marker!r}"
    return shlex.split(matches[0].split("#")[0])


def tiny_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "config" / "synthetic.yaml").read_text())
    config["datasets"]["synth"]["synthetic"].update(n_train=96, n_test=48, n_classes=4)
    config["datasets"]["synth"]["epochs"] = 2
    config["hidden_sizes"] = [16]
    config["seeds"] = [3]
    config["model"]["n_steps"] = 300
    config["training"]["progress_bar"] = False
    config["training_cost"] = {"enabled": False}
    config["profiling"].update(batch_sizes=[1, 4], idle_s=0.0, min_active_s=0.0, max_samples=8,
                               devices=["cpu", "gpu", "loihi", "mlgenn"])
    # Two chunks of one sample each: the chunks are merged; Lava's agreement with the
    # emulator is checked sample by sample by the Lava tests (test_fixedpoint_lava*.py).
    config["lava"].update(n_samples=2, chunks=2)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_readme_paper_command_plans_exactly_the_papers_cells():
    """The README's command, run from the checkout (where config/config.yaml exists): the
    --configfile is the whole config, so no cell of the embedded default is planned."""
    command = readme_command("config/paper.yaml")
    assert command[0] == ".venv/bin/snakemake"
    proc = subprocess.run([str(ROOT / command[0]), *command[1:], "-n"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = plan(proc)
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cells = len(paper["datasets"]) * len(paper["hidden_sizes"]) * len(paper["seeds"])
    assert cells == 30 and counts["train"] == cells
    assert counts["download"] == 5  # shd train/test, ssc train/valid/test
    assert "results/synth/" not in proc.stdout and "generate_synthetic" not in counts


def _train_inputs(stdout: str) -> dict[str, str]:
    """A dry run's train jobs: output model path -> the job's input line."""
    jobs = {}
    for block in re.split(r"\n(?=\[|rule |localrule )", stdout):
        if block.startswith("rule train:"):
            found = dict(re.findall(r"^\s+(input|output): (.*)$", block, re.M))
            jobs[found["output"].split(",")[0]] = found["input"]
    return jobs


def test_readme_delay_commands_plan_the_delay_cells():
    """The paper grid with its delay overlay: the paper's 30 cells and the same 30 with
    delays; the sequence task: 3 seeds with and without delays; the default with delay cells
    from scratch on both connections (--forceall: the whole plan, whatever results/ of the
    checkout already holds): none of them reads a delay-free model, while the full demo's
    delay cells (config/digits_full.yaml) fine-tune their delay-free twins."""
    for marker, cells in (("config/paper_delays.yaml", 60), ("config/sequence.yaml", 6),
                          ("start: scratch", 4)):   # the default, 2 seeds x 2
        command = readme_command(marker)
        proc = subprocess.run([str(ROOT / command[0]), *command[1:], "-n", "--forceall"],
                              cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert plan(proc)["train"] == cells
        jobs = _train_inputs(proc.stdout)
        delayed = {out: inp for out, inp in jobs.items() if "-delays/seed" in out}
        assert len(delayed) == cells // 2
        assert not any("model.npz" in inp for inp in delayed.values()), delayed
    full = readme_command("config/digits_full.yaml")
    assert full[-1] == "config/digits_full.yaml"
    proc = snakemake(*full[1:], "-n", "--forceall", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    delayed = {out: inp for out, inp in _train_inputs(proc.stdout).items()
               if "-delays/seed" in out}
    assert sorted(delayed) == [f"results/digits_full/h128-delays/seed{s}/model.npz"
                               for s in (1, 2)]
    for out, inp in delayed.items():
        assert out.replace("-delays", "") in inp, (out, inp)
    # QAT of both: a delay cell's fine-tunes its own float model (weights and delays)
    for cell in ("h128-delays", "h128"):
        qat = snakemake(*full[1:], "-n", "--forceall",
                        f"results/digits_full/{cell}/seed1/qat8/model.npz", cwd=ROOT)
        assert qat.returncode == 0, qat.stderr[-3000:]
        assert f"results/digits_full/{cell}/seed1/model.npz" in qat.stdout


def test_default_config_applies_without_a_configfile_and_under_config_overrides():
    proc = snakemake("-n", "--config", "training={batch_size: 1}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cells = (len(default["datasets"]) * len(default["hidden_sizes"]) * len(default["seeds"])
             * len(default.get("delays", [False])))
    assert plan(proc)["train"] == cells
    bad = snakemake("-n", "--config", "training={batch_size: one}", cwd=ROOT)
    assert bad.returncode != 0
    assert "'training.batch_size': 'one' is not of type 'integer'" in bad.stdout + bad.stderr
    assert "--configfile" in bad.stdout + bad.stderr


def test_one_and_two_cores_train_byte_identical_weights(tmp_path):
    """The fast synthetic config (shortened by --config overrides): `--cores 1` runs training
    on one thread, `--cores 2` on two; the weights must be the same bytes."""
    target = "results/synth/h128/seed1/model.npz"
    weights = []
    for cores in ("1", "2"):
        workdir = tmp_path / f"cores{cores}"
        workdir.mkdir()
        proc = snakemake(target, "--cores", cores, "--configfile",
                         str(ROOT / "config" / "synthetic.yaml"), "--config", "seeds=[1]",
                         "datasets={synth: {epochs: 3}}", cwd=workdir, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        log = (workdir / "results/synth/h128/seed1/logs/train.log").read_text()
        assert f"threads {cores}" in log
        with np.load(workdir / target) as archive:
            weights.append({k: archive[k] for k in ("w_in", "w_rec", "w_out")})
    for name in ("w_in", "w_rec", "w_out"):
        assert weights[0][name].tobytes() == weights[1][name].tobytes(), name


@pytest.mark.parametrize("built, gpus", [(["cuda", "single_threaded_cpu"], 1),
                                         (["single_threaded_cpu"], 0)])
def test_mlgenn_training_asks_for_a_gpu_when_genn_has_cuda(tmp_path, monkeypatch, built, gpus):
    """A CUDA build of GeNN (as envs/genn/setup_genn_env.sh records it) makes train jobs
    ask the cluster for a GPU; a CPU-only build does not."""
    venv = tmp_path / "genn-venv"
    venv.mkdir()
    (venv / ".neurokws-genn-stamp").write_text("recipe")
    (venv / "genn-backends.json").write_text(json.dumps({"backends": built}))
    monkeypatch.setenv("NEUROKWS_GENN_VENV", str(venv))
    proc = snakemake("-n", "--config", "training={backend: mlgenn}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = proc.stdout.split("\nrule ")
    train = [job for job in jobs if job.startswith("train:")]
    assert train and all(f"gpu={gpus}" in job for job in train), train[0]
    assert all(str(venv / ".neurokws-genn-stamp") in job for job in train)


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
    assert list(table["hidden"]) == [16] and table["n_test"].iloc[0] == 48
    cell = results / "synth" / "h16" / "seed3"
    log = pd.read_csv(cell / "train_log.csv")
    assert list(log["epoch"]) == [0, 1]
    metrics = json.loads((cell / "eval_float.json").read_text())
    assert metrics["provenance"]["seed"] == 3
    assert metrics["provenance"]["versions"]["numpy"]
    assert metrics["provenance"]["rule"] == "evaluate_float"
    model_prov = json.loads(str(np.load(cell / "model.npz")["provenance"]))
    assert model_prov["params"]["settings"]["epochs"] == 2        # what the job was given
    assert model_prov["params"]["model"]["n_steps"] == 300
    assert set(model_prov["input_sha256"]) == {"train"}
    fixed_json = json.loads((cell / "int8" / "eval_fixed.json").read_text())
    per_sample = pd.read_csv(cell / "int8" / "predictions_fixed.csv")
    assert fixed_json["modes"]["aligned"]["output_spikes"] == \
        per_sample["output_spikes_aligned"].sum()
    assert fixed_json["bits"] == 8
    lava = json.loads((cell / "int8" / "eval_lava_aligned.json").read_text())
    assert lava["n_samples"] == 2 and "output_spikes" in lava
    fixed = pd.read_csv(results / "tables" / "accuracy_fixed.csv")
    assert {"emulator_aligned_accuracy", "emulator_paper_accuracy",
            "lava_aligned_accuracy"} <= set(fixed.columns)
    assert fixed["lava_aligned_n"].iloc[0] == 2
    assert fixed["lava_aligned_agreement"].iloc[0] == 1.0  # bit-exact emulator
    assert (cell / "int8" / "model.net").stat().st_size > 0
    assert (cell / "model.nir").stat().st_size > 0
    table2 = pd.read_csv(results / "tables" / "table2.csv")
    assert {"paper", "measured", "estimate"} <= set(table2["source"])
    # the deployed model's NeuroBench-style metrics on its Loihi 2 rows (deploy/metrics.py)
    loihi = table2[(table2["hardware"] == "Loihi 2") & (table2["source"] == "estimate")]
    assert len(loihi) == 1
    weights = 700 * 16 + 16 * 16 + 16 * 4
    assert loihi["footprint_bytes"].iloc[0] == weights   # 8 bits per weight
    assert 0 < loihi["effective_sop_per_sample"].iloc[0] <= loihi["sop_per_sample"].iloc[0]
    assert 0 < loihi["activation_sparsity"].iloc[0] < 1
    assert 0 <= loihi["connection_sparsity"].iloc[0] < 1
    assert "Effective SOP/sample" in (results / "tables" / "table2.md").read_text()
    cpu = table2[(table2["source"] == "measured") & (table2["backend"] == "numba-cpu")]
    assert sorted(cpu["batch_size"]) == [1, 4] and (cpu["latency_sample_ms"] > 0).all()
    # Devices absent here give rows that say why instead of failing the run: no GPU; GeNN
    # when .venv-genn is missing, and beyond batch size 1 without its CUDA backend.
    gpu = table2[table2["backend"] == "numba-cuda"]
    assert len(gpu) == 2 and (gpu["status"] == "unavailable").all()
    assert gpu["notes"].str.len().min() > 20
    measured = table2[table2["source"] == "measured"]
    genn = measured[measured["backend"].str.startswith("mlGeNN")].sort_values("batch_size")
    assert list(genn["batch_size"]) == [1, 4] and genn["notes"].str.len().min() > 20
    expected = ["ok" if side_env("genn").ready() else "unavailable", "unavailable"]
    assert list(genn["status"]) == expected
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
