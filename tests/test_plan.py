"""`neurokws plan` (docs/resources.md): the grid's jobs and what they ask for before submission are
the workflow's own: the dry run's jobs per rule, `neurokws.resources`' requests, training in
segments under the partition's limit, the refusals the workflow would make; the wall-time
schedule keeps the chains' order; the paper's own GPU-hours beside it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neurokws import paper, plan, resources
from neurokws.config import training_threads
from workflow_helpers import ROOT, snakemake

PAPER = ROOT / "config" / "paper.yaml"
COMMAND = Path(sys.executable).parent / "neurokws"   # the console script pip installed


def dry_run_counts(stdout: str) -> dict[str, int]:
    """Jobs per rule from the `Job stats` table of a snakemake dry run."""
    table = stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in table.splitlines()[3:]:
        rule, count = line.split()
        if rule != "total":
            counts[rule] = int(count)
    return counts


@pytest.fixture(scope="module")
def paper_plan() -> plan.Plan:
    return plan.build(plan.load_config(PAPER))


@pytest.fixture(scope="module")
def day_limit() -> plan.Plan:
    """The paper's grid on a partition with a 24 h limit."""
    return plan.build(plan.load_config(PAPER, max_runtime=1440))


@pytest.mark.workflow
@pytest.mark.parametrize("name, delay_bits", [("config.yaml", None),
                                              ("digits_full.yaml", None),
                                              ("digits_full.yaml", [4, 2])])
def test_the_jobs_per_rule_are_the_dry_runs(tmp_path, name, delay_bits):
    """Every rule of a fresh run (`snakemake -n --forceall` from the checkout), as many
    jobs: the default (spoken digits through the cochlea, QAT, the bit-width sweep), the full
    demo (with delays), and that with delay bits swept (deploy.delay_bits: more models in the
    cells with delays); the paper's grid is compared under a limit below (only
    train_segment jobs are added)."""
    paths = [ROOT / "config" / name]
    if delay_bits is not None:
        paths.append(tmp_path / "delay_bits.yaml")
        paths[-1].write_text(f"deploy: {{delay_bits: {delay_bits}}}\n")
    proc = snakemake("--configfile", *map(str, paths), "-n", "--forceall")
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = plan.build(plan.load_config(paths))
    counts = built.counts()
    assert counts == dry_run_counts(proc.stdout)
    # The plan's local jobs (no request, no core-hours) are the rules the workflow runs on
    # the submit host (resources.LOCAL_RULES; tests/cluster checks that a SLURM run submits
    # none of them), the side venvs' and `all`.
    local = {j.rule for j in built.jobs.values() if j.local}
    assert local == (set(resources.LOCAL_RULES) & set(counts)) | {
        r for r in counts if r.startswith("side_env_")} | {"all"}
    assert {"aggregate_fixed", "summary", "figure_accuracy"} <= local
    if delay_bits is not None:   # per delay cell, method and weight bits: 2 more models
        config = plan.load_config(paths)
        cells = len(config["seeds"]) * len(config["hidden_sizes"])
        plain = plan.build(plan.load_config(paths[0])).counts()
        assert counts["eval_fixed"] - plain["eval_fixed"] == cells * 2 * 5 * 2
        assert counts["train_qat"] - plain["train_qat"] == cells * 5 * 2


def test_under_a_limit_only_the_segments_are_added(paper_plan, day_limit):
    """Under resources.max_runtime every rule has the jobs of the unlimited grid (the dry
    run's, above), and the cells longer than the limit add their segments."""
    counts = day_limit.counts()
    segments = counts.pop("train_segment")
    assert counts == paper_plan.counts()
    assert segments == 5 * sum(len(s["segments"]) - 1 for s in day_limit.segments) > 0


@pytest.mark.workflow
def test_under_a_limit_the_jobs_before_the_checkpoint_are_the_dry_runs(day_limit):
    """Under resources.max_runtime the segments are planned from the data's size, after the
    `prepare` checkpoint: the dry run knows every other rule's jobs, the plan adds the
    segments."""
    proc = snakemake("--configfile", str(PAPER), "--config", "resources={max_runtime: 1440}",
                     "-n", "--forceall")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    counts = day_limit.counts()
    counts.pop("train_segment")
    assert counts == dry_run_counts(proc.stdout)


def test_the_data_are_the_published_split_sizes(paper_plan):
    for name in ("SHD", "SSC"):
        splits = paper_plan.data[name].splits
        assert splits["train"].n_samples == paper.TRAIN_SAMPLES[name]
        assert splits["test"].n_samples == paper.TEST_SAMPLES[name]
        assert splits["train"].n_channels == 700
        assert splits["train"].events_per_sample == plan.EVENTS_PER_SAMPLE
    assert set(paper_plan.data["SHD"].splits) == {"train", "test"}
    assert paper_plan.data["SSC"].splits["valid"].n_samples == 9981
    assert paper_plan.data["SSC"].splits["test"].n_classes == 35


def test_a_cells_requests_are_the_resources_functions(paper_plan):
    config = paper_plan.config
    scale = config["resources"]
    ssc = paper_plan.data["SSC"].splits
    job = paper_plan.jobs["results/SSC/h1024/seed1234/model.npz"]
    expected = resources.train(
        ssc["train"], ssc["valid"], n_hidden=1024, n_out=35, n_in=700, n_steps=1000,
        epochs=100, batch_size=32, block_batches=16, blend_n_new=None, blend=False,
        threads=training_threads(config, 1024), scale=scale)
    assert (job.rule, job.mem_mb, job.runtime) == ("train", expected.mem_mb, expected.runtime)
    assert job.threads == 2 and job.gpus == 0 and job.declared
    assert job.runtime > 1440      # without a limit: one job of about four days
    shd = paper_plan.data["SHD"].splits
    job = paper_plan.jobs["results/SHD/h256/seed2345/model.npz"]
    expected = resources.train(
        shd["train"], None, n_hidden=256, n_out=20, n_in=700, n_steps=1000, epochs=50,
        batch_size=32, block_batches=16, blend_n_new=7644, blend=True, threads=2, scale=scale)
    assert (job.mem_mb, job.runtime) == (expected.mem_mb, expected.runtime)
    lava = paper_plan.jobs["results/SSC/h512/seed1234/int8/lava/aligned_chunk39.npz"]
    expected = resources.eval_lava_chunk(ssc["test"], n_samples=math.ceil(20382 / 40),
                                         n_hidden=512, n_steps=1000, scale=scale)
    assert (lava.mem_mb, lava.runtime, lava.threads) == (expected.mem_mb, expected.runtime, 1)
    gpu = paper_plan.jobs["results/SHD/h1024/seed1234/profile/gpu_b128.csv"]
    expected = resources.profile(shd["test"], device="gpu", n_hidden=1024, n_steps=1000,
                                 max_samples=None, idle_s=10.0, min_active_s=10.0, scale=scale)
    assert (gpu.mem_mb, gpu.runtime, gpu.gpus) == (expected.mem_mb, expected.runtime, 1)
    quantize = paper_plan.jobs["results/SSC/h1024/seed1234/int8/quantized.npz"]
    assert (quantize.mem_mb, quantize.runtime, quantize.declared) == (2000, 30, False)
    assert paper_plan.jobs["resources/SSC/ssc_valid.h5"].local


def test_training_runs_in_segments_that_fit_a_24_h_limit(day_limit):
    config = day_limit.config
    ssc = day_limit.data["SSC"].splits
    epoch_s = resources.train_epoch_s(ssc["train"], ssc["valid"], n_hidden=1024,
                                      n_steps=1000, batch_size=32, blend_n_new=None,
                                      blend=False, threads=2)
    expected = resources.segments(100, epoch_s, 1440, config["resources"])
    cell = next(s for s in day_limit.segments if (s["dataset"], s["hidden"]) == ("SSC", 1024))
    assert len(expected) > 1 and cell["segments"] == [list(s) for s in expected]
    # the chain: each segment job waits for the one before, rule train for the last
    jobs = day_limit.jobs
    key = "results/SSC/h1024/seed4567/model.npz"
    chain = [key]
    while True:
        before = [d for d in jobs[chain[-1]].deps if jobs[d].rule == "train_segment"]
        if not before:
            break
        chain += before
    chain.reverse()
    assert [jobs[k].rule for k in chain] == ["train_segment"] * (len(expected) - 1) + ["train"]
    assert [(jobs[k].wildcards.get("first"), jobs[k].wildcards.get("stop"))
            for k in chain[:-1]] == expected[:-1]
    first, stop = expected[0]
    request = resources.train(ssc["train"], ssc["valid"], n_hidden=1024, n_out=35, n_in=700,
                              n_steps=1000, epochs=stop - first, batch_size=32,
                              block_batches=16, blend_n_new=None, blend=False, threads=2,
                              scale=config["resources"])
    assert (jobs[chain[0]].mem_mb, jobs[chain[0]].runtime) == (request.mem_mb, request.runtime)
    # every job fits the partition, and nothing is refused
    assert all(job.runtime <= 1440 for job in day_limit.cluster_jobs())
    assert not day_limit.refused
    summary = plan.summarize(day_limit)
    assert summary["totals"]["longest_job"]["minutes"] <= 1440
    assert summary["totals"]["longest_training_chain"]["jobs"] == len(expected)


def test_a_limit_below_one_epoch_is_the_workflows_refusal():
    """max_runtime 5 min: an SSC epoch at N = 1024 takes longer; the plan still comes, with
    each refused job named as the workflow names it (and the command exits 1)."""
    limited = plan.build(plan.load_config(PAPER, max_runtime=5))
    refused = {r["where"]: r["message"] for r in limited.refused if r["rule"] == "train"}
    message = refused["results/SSC/h1024/seed1234"]
    ssc = limited.data["SSC"].splits
    epoch_s = resources.train_epoch_s(ssc["train"], ssc["valid"], n_hidden=1024,
                                      n_steps=1000, batch_size=32, blend_n_new=None,
                                      blend=False, threads=2)
    with pytest.raises(resources.LimitError) as error:
        resources.segments(100, epoch_s, 5, limited.config["resources"])
    assert message == f"training of results/SSC/h1024/seed1234: {error.value}"
    assert "one training epoch is estimated to need" in message
    assert "resources.max_runtime = 5 min" in message
    assert {r["rule"] for r in limited.refused} >= {"train", "eval_lava_chunk"}
    proc = subprocess.run([str(COMMAND), "plan", "--configfile", str(PAPER), "--max-runtime",
                           "5"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert "REFUSED, the workflow stops on it: training of results/" in proc.stdout


def test_the_papers_gpu_hours():
    cost = plan.paper_training_cost()
    rows = {(r["dataset"], r["hidden"]): r for r in cost["rows"]}
    assert set(rows) == {(d, h) for d in paper.DATASETS for h in paper.HIDDEN_SIZES}
    assert rows[("SHD", 256)]["gpu_hours"] == pytest.approx(21.5 * 50 * 5 / 3600)
    assert rows[("SSC", 1024)]["gpu_hours"] == pytest.approx(441.0 * 100 * 5 / 3600)
    published = sum(s * paper.EPOCHS[d] * paper.SEEDS for (d, _), s
                    in paper.EPOCH_TIME_S.items()) / 3600
    assert cost["gpu_hours_published"] == pytest.approx(published)
    for dataset in paper.DATASETS:   # N = 512 is not published: interpolated and marked
        row = rows[(dataset, 512)]
        assert not row["published"]
        assert row["epoch_s"] == pytest.approx(math.sqrt(
            paper.EPOCH_TIME_S[(dataset, 256)] * paper.EPOCH_TIME_S[(dataset, 1024)]))
    assert "SHD N = 512" in cost["note"] and "SSC N = 512" in cost["note"]
    assert cost["gpu_hours_with_interpolated"] > cost["gpu_hours_published"]


def _job(key: str, minutes: int, deps=(), threads: int = 1, slots=()) -> plan.Job:
    return plan.Job(rule="r", key=key, wildcards={}, threads=threads, mem_mb=100,
                    runtime=minutes, deps=tuple(deps), slots=tuple(slots))


def test_the_schedule_keeps_each_chain_in_order_and_fills_the_nodes():
    jobs = {j.key: j for j in [_job("a", 10), _job("b", 10, ["a"]), _job("c", 10, ["b"]),
                               *(_job(f"x{i}", 5) for i in range(4)),
                               plan.Job(rule="local", key="end", wildcards={},
                                        deps=("c", "x3"))]}
    assert plan.critical_path(jobs) == (30, ["a", "b", "c", "end"])
    serial = plan.schedule(jobs, nodes=1, cores_per_node=1)
    assert serial["minutes"] == 50      # one core: every minute one after another
    start = serial["start"]
    assert start["a"] == 0 and start["b"] >= 10 and start["c"] >= start["b"] + 10
    assert plan.schedule(jobs, nodes=2, cores_per_node=1)["minutes"] == 30
    assert plan.schedule(jobs, nodes=1, cores_per_node=8)["minutes"] == 30
    assert plan.schedule(jobs, nodes=1, cores_per_node=8, max_in_flight=1)["minutes"] == 50
    wide = {"w": _job("w", 10, threads=4), "v": _job("v", 10, threads=4)}
    assert plan.schedule(wide, nodes=1, cores_per_node=6)["minutes"] == 20
    assert plan.schedule(wide, nodes=2, cores_per_node=4)["minutes"] == 10
    profiling = {k: _job(k, 10, slots=["profiling_slot"]) for k in ("p", "q", "r")}
    assert plan.schedule(profiling, nodes=4, cores_per_node=8)["minutes"] == 30


def test_data_without_a_size_are_left_out_until_prepared(tmp_path):
    """A `files` dataset has no size before `prepare`: it is named and left out; once its
    splits are prepared in the working directory, their own sizes give the requests."""
    config = {"datasets": {"mine": {"source": "files",
                                    "files": {"train": "a.h5", "test": "b.h5"}}},
              "hidden_sizes": [64], "seeds": [1]}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    empty = plan.build(plan.load_config(path), workdir=tmp_path)
    assert not empty.data and not any("mine" in key for key in empty.jobs)
    assert "mine (source files)" in empty.unplanned[0]
    assert "--until prepare" in empty.unplanned[0]
    prepared = tmp_path / "results" / "mine" / "prepared"
    prepared.mkdir(parents=True)
    for split, n in (("train", 300), ("test", 100)):
        (prepared / f"{split}.npz").write_bytes(b"\0" * (n * 5000 * 6))
        (prepared / f"{split}.summary.json").write_text(json.dumps(
            {"n_samples": n, "n_events": n * 5000, "n_classes": 12, "n_channels": 700}))
    known = plan.build(plan.load_config(path), workdir=tmp_path)
    assert not known.unplanned and known.data["mine"].origin == "prepared"
    assert known.data["mine"].splits["train"] == resources.SplitStats.of(prepared / "train.npz")
    job = known.jobs["results/mine/h64/seed1/model.npz"]
    expected = resources.train(known.data["mine"].splits["train"], None, n_hidden=64,
                               n_out=12, n_in=700, n_steps=1000, epochs=50, batch_size=32,
                               block_batches=16, blend_n_new=None, blend=False, threads=2,
                               scale=known.config["resources"])
    assert (job.mem_mb, job.runtime) == (expected.mem_mb, expected.runtime)


def test_the_command_prints_the_plan():
    proc = subprocess.run([str(COMMAND), "plan", "--configfile", str(PAPER), "--nodes", "4",
                           "--cores-per-node", "64"], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "eval_lava_chunk" in out and "core-hours" in out
    assert "expected wall time on 4 node(s) x 64 cores" in out
    assert "paper GPU-hours: 85.5 over the published cells" in out
    assert "interpolated" in out and "SHD N = 512" in out
    proc = subprocess.run([str(COMMAND), "plan", "--configfile", str(PAPER), "--nodes", "4",
                           "--cores-per-node", "64", "--max-runtime", "1440", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rules = {r["rule"]: r for r in summary["rules"]}
    assert rules["train"]["jobs"] == 30 and rules["train_segment"]["jobs"] > 0
    assert rules["eval_lava_chunk"]["jobs"] == 1200 and rules["download"]["local"]
    assert summary["limits"]["max_runtime"] == 1440
    totals = summary["totals"]
    assert totals["core_hours"] == pytest.approx(sum(r["core_hours"] for r in rules.values()))
    assert summary["wall"]["nodes"] == 4 and summary["wall"]["cores_per_node"] == 64
    assert totals["critical_path"]["minutes"] <= summary["wall"]["minutes"]
