"""The grid's cost before submission (`neurokws plan`): every job the workflow runs for a
config, what each asks the cluster for, and what the whole grid costs.

The jobs are the workflow's (workflow/rules/*.smk, for a fresh run: as `snakemake -n
--forceall` plans them) and each request comes from the function its rule calls
(`neurokws.resources`, through the same arguments as workflow/rules/common.smk `estimate`),
with the config resolved as the workflow resolves it (`neurokws.config.resolve_config`).
The jobs and what each reads are mirrored here rule by rule (a dry run cannot give them: it
knows no request before a job's inputs exist, and no segment before `prepare` has run);
tests/test_plan.py checks them against Snakemake's own dry run. What a rule asks for
beyond memory and time is the rule's own: threads (`training.threads` per hidden size for
training, float evaluation and the emulator, `profiling.threads` for profiling, the whole
node for the Figure 3 benchmark, 1 elsewhere) and GPUs (`neurokws.backends.training_gpus`,
`neurokws.profiling.inference.profile.device_gpus`). Rules that declare no request get the SLURM
profile's `default-resources`; the workflow's local rules (downloads, side environments,
`all`) run on the submit host and ask for nothing.

The requests need each split's size. Once `prepare` has run they are the data's own
(`results/<dataset>/prepared/<split>.summary.json` under the working directory, read as the
workflow reads them); before that they are estimated (`estimate_data`): SHD and SSC from
their published split sizes, generated and spoken-digit data from their config. Data of the
`files` and `audio` sources have no size before `prepare` has run: their jobs are left out
of the plan (it says so) until `snakemake --until prepare` has made them.

Training longer than `resources.max_runtime` becomes a chain of segment jobs
(`resources.segments`, as common.smk `cell_segments`); every other request over a limit,
and a training epoch longer than the limit, is reported as the workflow would refuse it
(`resources.check_limits`, `resources.LimitError`) instead of stopping the plan.

The expected wall time is a list schedule (`schedule`): M nodes of K cores; a job holds its
threads on one node for its whole requested time (the estimate with its margin: an upper
estimate of what it takes); it starts once the jobs whose outputs it reads are done
(training segments one after another, each cell's stages after its training), the longest
remaining path first; at most `jobs` jobs in flight (the profile's `jobs`) and one
profiling job at a time (the workflow's `profiling_slot`); local jobs take no time; memory
and GPUs do not constrain it.
"""

from __future__ import annotations

import copy
import heapq
import inspect
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from neurokws import paper, resources
from neurokws.config import (
    COCHLEA_SOURCES,
    DOWNLOAD_SOURCES,
    QUANT_DIRS,
    cell_train_settings,
    dataset_splits,
    deployed_bits,
    fine_tunes_delay_free,
    parse_precision,
    precision_tag,
    precision_tags,
    qat_settings,
    resolve_config,
    training_threads,
)
from neurokws.utils.errors import ConfigError
from neurokws.utils.paths import REPO_ROOT
from neurokws.utils.records import DELAY_SUFFIX

SLURM_PROFILE = REPO_ROOT / "profiles" / "slurm"
CELL = "results/{dataset}/h{hidden}{delays}/seed{seed}"   # as workflow/rules/common.smk
# The workflow's rules in the order of its stages (workflow/rules/*.smk): the table's rows.
RULE_ORDER = ("download", "generate_synthetic", "generate_sequence", "plan_corpus",
              "cochlea_chunk", "cochlea_merge", "prepare", "rasters", "side_env_genn",
              "train_segment", "train", "evaluate_float", "aggregate_float", "train_qat",
              "quantize", "export_netx", "export_nir", "eval_fixed", "side_env_lava",
              "eval_lava_chunk", "merge_lava", "aggregate_fixed", "profile", "table2",
              "side_env_spyx", "training_cost", "figure_training_cost", "figure_accuracy",
              "figure_bits_sweep", "figure_inference_cost", "summary", "all")

# Split sizes before the data exist. SHD/SSC: train and test from neurokws.paper; the SSC
# validation split and the class counts from Cramer et al. 2020 (IEEE TNNLS 33(7), "The
# Heidelberg spiking data sets ...": SSC 75,466 / 9,981 / 20,382 samples, 35 classes; SHD 20).
HEIDELBERG_VALID_SAMPLES = {"SSC": 9981}
HEIDELBERG_CLASSES = {"SHD": 20, "SSC": 35}
# Input events per sample of SHD, SSC and our cochlea's output: neither Cramer et al. nor the
# paper publishes a mean, so this is the figure the costs in neurokws.resources were
# measured at (SHD-like generated data, ~8,000 events per 1 s sample; docs/resources.md).
EVENTS_PER_SAMPLE = 8000
N_CHANNELS = 700            # the Heidelberg layout (and the synthetic generator's)
SAMPLE_BYTES = 20           # a prepared sample's offset (int64), label and speaker (int32)
RAW_BYTES_PER_EVENT = 6     # HDF5 our generators and the cochlea write: float32 + uint16


@dataclass(frozen=True)
class DataSizes:
    """One dataset's splits as `neurokws.resources` takes them, where they came from
    ("prepared": the data's own; "estimated": before `prepare`), and the raw HDF5 bytes
    behind each split (prepare's request) where the raw file does not exist yet."""

    splits: dict[str, resources.SplitStats]
    origin: str
    raw_bytes: dict[str, int]
    note: str


@dataclass
class Job:
    """One job of the plan: its rule, wildcards, request and the jobs it waits for.
    `mem_mb`/`runtime` None: a local job (the submit host). `declared`: the request comes
    from neurokws.resources (else the profile's default-resources)."""

    rule: str
    key: str
    wildcards: dict[str, Any]
    threads: int = 1
    mem_mb: int | None = None
    runtime: int | None = None
    gpus: int = 0
    deps: tuple[str, ...] = ()
    declared: bool = False
    slots: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        return self.runtime is None

    @property
    def where(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.wildcards.items())


@dataclass
class Plan:
    """Every job of a config's grid and what went into it (`build`)."""

    config: dict[str, Any]
    jobs: dict[str, Job]
    data: dict[str, DataSizes]
    segments: list[dict[str, Any]]
    refused: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unplanned: list[str] = field(default_factory=list)
    max_in_flight: int | None = None

    def counts(self) -> dict[str, int]:
        """Jobs per rule (a dry run's job stats)."""
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job.rule] = counts.get(job.rule, 0) + 1
        return counts

    def cluster_jobs(self) -> list[Job]:
        return [job for job in self.jobs.values() if not job.local]


# ---- the config and the data's sizes ---------------------------------------------------------

def _merge(config: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    """Snakemake's merge of a later --configfile over an earlier one (mappings key by key)."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _merge(config[key], value)
        else:
            config[key] = copy.deepcopy(value)


def load_config(configfiles: str | os.PathLike | Sequence[str | os.PathLike],
                max_runtime: int | None = None, max_mem_mb: int | None = None
                ) -> dict[str, Any]:
    """The resolved config of one or more --configfile files (later ones merged over earlier
    ones), as the workflow resolves it; `max_runtime` / `max_mem_mb` replace the config's
    resources.max_runtime / max_mem_mb."""
    if isinstance(configfiles, (str, os.PathLike)):
        configfiles = [configfiles]
    config: dict[str, Any] = {}
    for configfile in configfiles:
        path = Path(configfile)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file (give --configfile, e.g. "
                              "config/paper.yaml)")
        given = yaml.safe_load(path.read_text()) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: not a YAML mapping of config keys")
        _merge(config, given)
    for key, value in (("max_runtime", max_runtime), ("max_mem_mb", max_mem_mb)):
        if value is not None:
            section = config.setdefault("resources", {})
            if not isinstance(section, dict):
                raise ConfigError("config 'resources' must be a mapping")
            section[key] = int(value)
    return resolve_config(config)


def prepared_path(dataset: str, split: str) -> str:
    return f"results/{dataset}/prepared/{split}.npz"


def raw_split_path(config: Mapping[str, Any], dataset: str, split: str) -> str:
    """Where a raw split lives (as common.smk raw_split_path)."""
    ds = config["datasets"][dataset]
    source = ds["source"]
    if source in DOWNLOAD_SOURCES:
        corpus = DOWNLOAD_SOURCES[source]
        return f"resources/{corpus}/{corpus.lower()}_{split}.h5"
    if source == "files":
        return ds["files"][split]
    return f"results/{dataset}/data/{split}.h5"


def _estimated(n_samples: int, events_per_sample: float, n_classes: int,
               n_channels: int) -> resources.SplitStats:
    n_events = round(n_samples * events_per_sample)
    return resources.SplitStats(n_samples=n_samples, n_events=n_events,
                                nbytes=n_events * resources.EVENT_BYTES
                                + n_samples * SAMPLE_BYTES,
                                n_classes=n_classes, n_channels=n_channels)


def estimate_data(config: Mapping[str, Any], dataset: str) -> DataSizes | str:
    """A dataset's split sizes before `prepare` has run; a str says why they are unknown."""
    ds = config["datasets"][dataset]
    source = ds["source"]
    splits = dataset_splits(config, dataset)
    if source in DOWNLOAD_SOURCES:
        corpus = DOWNLOAD_SOURCES[source]
        counts = {"train": paper.TRAIN_SAMPLES[corpus], "test": paper.TEST_SAMPLES[corpus],
                  "valid": HEIDELBERG_VALID_SAMPLES.get(corpus)}
        stats = {s: _estimated(counts[s], EVENTS_PER_SAMPLE, HEIDELBERG_CLASSES[corpus],
                               N_CHANNELS) for s in splits}
        return DataSizes(stats, "estimated", {
            s: st.n_events * resources.HDF5_BYTES_PER_EVENT for s, st in stats.items()},
            f"{corpus}'s published split sizes (Cramer et al. 2020), {EVENTS_PER_SAMPLE} "
            "events per sample (neurokws.resources' reference)")
    if source == "synthetic":
        from neurokws.data.sources.synthetic import generate_split

        per = float(inspect.signature(generate_split).parameters["events_per_sample"].default)
        st = ds["synthetic"]
        counts = {"train": st["n_train"], "test": st["n_test"]}
        stats = {s: _estimated(counts[s], per, st["n_classes"], N_CHANNELS) for s in splits}
        note = f"the config's sizes, {per:.0f} events per sample (the generator's)"
    elif source == "sequence":
        st = ds["sequence"]
        per = (2 * st["pattern_channels"] * st["spikes_per_channel"]
               + st["noise_hz"] * st["duration_ms"] / 1000.0 * st["n_channels"])
        classes = st["n_patterns"] * (st["n_patterns"] - 1) * len(st["gaps_ms"])
        counts = {"train": st["n_train"], "test": st["n_test"]}
        stats = {s: _estimated(counts[s], per, classes, st["n_channels"]) for s in splits}
        note = f"the config's sizes, {per:.0f} events per sample (two patterns and noise)"
    elif source == "spoken_digits":
        from neurokws.data.sources.convert import cochlea_from_settings
        from neurokws.data.sources.speech import KEYS

        st = ds["spoken_digits"]
        per_speaker = len(KEYS) * st["per_class_per_speaker"]
        counts = {"train": st["n_speakers_train"] * per_speaker,
                  "test": st["n_speakers_test"] * per_speaker}
        channels = cochlea_from_settings(ds["cochlea"]).channels
        stats = {s: _estimated(counts[s], EVENTS_PER_SAMPLE, len(KEYS), channels)
                 for s in splits}
        note = (f"the config's sizes, {EVENTS_PER_SAMPLE} events per sample (SHD's cochlea; "
                "spoken digits are shorter, so this is on the high side)")
    else:
        return (f"dataset {dataset} (source {source}): its sizes are unknown before `prepare` "
                "has run; run `snakemake --configfile ... --until prepare` and plan again from "
                "that directory (--workdir): its jobs are left out of this plan")
    return DataSizes(stats, "estimated",
                     {s: st_.n_events * RAW_BYTES_PER_EVENT for s, st_ in stats.items()}, note)


def data_sizes(config: Mapping[str, Any], dataset: str,
               workdir: str | os.PathLike = ".") -> DataSizes | str:
    """The data's own sizes where `prepare` has run in `workdir`, else `estimate_data`."""
    splits = dataset_splits(config, dataset)
    paths = {s: Path(workdir) / prepared_path(dataset, s) for s in splits}
    if all(p.is_file() and p.with_suffix(".summary.json").is_file() for p in paths.values()):
        stats = {s: resources.SplitStats.of(p) for s, p in paths.items()}
        per_event = (resources.HDF5_BYTES_PER_EVENT
                     if config["datasets"][dataset]["source"] in DOWNLOAD_SOURCES
                     else RAW_BYTES_PER_EVENT)   # prepare's request where the raw file is gone
        return DataSizes(stats, "prepared",
                         {s: st.n_events * per_event for s, st in stats.items()},
                         f"prepared in {Path(workdir) / 'results'}")
    return estimate_data(config, dataset)


def profile_settings(profile: str | os.PathLike = SLURM_PROFILE) -> dict[str, Any]:
    """The SLURM profile's default-resources (rules that declare none) and jobs in flight."""
    path = Path(profile) / "config.yaml"
    try:
        settings = yaml.safe_load(path.read_text()) or {}
        defaults = settings["default-resources"]
        return {"mem_mb": int(defaults["mem_mb"]), "runtime": int(defaults["runtime"]),
                "jobs": int(settings["jobs"]) if "jobs" in settings else None}
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: no default-resources mem_mb and runtime ({exc}); give the "
                          "SLURM profile the workflow runs with (--profile)") from exc


# ---- the jobs ----------------------------------------------------------------------------------

class _Builder:
    """Adds the workflow's jobs for a resolved config (one per output, as Snakemake does)."""

    def __init__(self, config: dict[str, Any], data: dict[str, DataSizes],
                 defaults: Mapping[str, Any], node_cores: int, raw_dir: Path,
                 workdir: Path) -> None:
        self.config, self.data, self.defaults = config, data, defaults
        self.node_cores, self.raw_dir, self.workdir = node_cores, raw_dir, workdir
        self.limits = config["resources"]
        self.jobs: dict[str, Job] = {}
        self.outputs: dict[str, str] = {}    # every output path -> its job's key
        self.refused: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self.segments: list[dict[str, Any]] = []
        self._segment_cache: dict[tuple[str, int, bool], list[tuple[int, int]]] = {}

    # -- helpers
    def add(self, rule: str, outputs: Sequence[str], wildcards: Mapping[str, Any], *,
            deps: Iterable[str] = (), request: resources.Request | None = None,
            threads: int = 1, gpus: int = 0, local: bool = False,
            slots: tuple[str, ...] = (), check: bool = True) -> str:
        key = outputs[0]
        if key in self.outputs:
            return self.outputs[key]
        job = Job(rule=rule, key=key, wildcards=dict(wildcards), threads=int(threads),
                  gpus=int(gpus), deps=tuple(deps), slots=slots)
        local = local or rule in resources.LOCAL_RULES
        if not local:
            if request is None:
                job.mem_mb, job.runtime = self.defaults["mem_mb"], self.defaults["runtime"]
            else:
                job.mem_mb, job.runtime, job.declared = request.mem_mb, request.runtime, True
                try:   # as common.smk job_request (threads are checked with the config)
                    if check:
                        resources.check_limits(rule, job.where, request, 1, self.limits)
                except resources.LimitError as exc:
                    self.refuse(rule, job.where, str(exc))
        self.jobs[key] = job
        for path in outputs:
            self.outputs[path] = key
        return key

    def refuse(self, rule: str, where: str, message: str) -> None:
        self.refused.append({"rule": rule, "where": where, "message": message})

    def _request_kwargs(self) -> dict[str, Any]:
        return {"attempt": 1, "scale": self.limits}

    def raw_for_prepare(self, dataset: str, split: str) -> Path:
        """The raw split prepare reads: the file where it exists, else a sparse file of the
        estimated size (resources.prepare reads only the size and the first bytes)."""
        real = self.workdir / raw_split_path(self.config, dataset, split)
        if real.is_file():
            return real
        fake = self.raw_dir / f"{dataset}_{split}.h5"
        with open(fake, "wb") as handle:
            handle.truncate(self.data[dataset].raw_bytes[split])
        return fake

    # -- data
    def data_jobs(self, dataset: str) -> None:
        ds = self.config["datasets"][dataset]
        source = ds["source"]
        splits = dataset_splits(self.config, dataset)
        raws = {s: raw_split_path(self.config, dataset, s) for s in splits}
        if source in DOWNLOAD_SOURCES:
            corpus = DOWNLOAD_SOURCES[source]
            for split in splits:
                self.add("download", [raws[split]], {"corpus": corpus, "stem": corpus.lower(),
                                                     "split": split})
        elif source in ("synthetic", "sequence"):
            self.add(f"generate_{source}", list(raws.values()), {"dataset": dataset})
        elif source in COCHLEA_SOURCES:
            self.cochlea_jobs(dataset, raws)
        for split in splits:
            events = prepared_path(dataset, split)
            request = resources.prepare(self.raw_for_prepare(dataset, split),
                                        **self._request_kwargs())
            self.add("prepare", [events, events.replace(".npz", ".summary.json")],
                     {"dataset": dataset, "split": split}, deps=[raws[split]], request=request)
        self.add("rasters", [f"results/{dataset}/figures/rasters.png"], {"dataset": dataset},
                 deps=[prepared_path(dataset, "train"), prepared_path(dataset, "test")])

    def cochlea_jobs(self, dataset: str, raws: Mapping[str, str]) -> None:
        from neurokws.data.sources.convert import cochlea_from_settings
        from neurokws.data.sources.corpus import SPOKEN_MAX_S, SPOKEN_MEAN_S

        ds = self.config["datasets"][dataset]
        cochlea = ds["cochlea"]
        chunks = int(cochlea["chunks"])
        plan_json = f"results/{dataset}/cochlea/plan.json"
        self.add("plan_corpus", [plan_json], {"dataset": dataset})
        n_clips = sum(st.n_samples for st in self.data[dataset].splits.values())
        settings = ds[ds["source"]]
        fake = self.raw_dir / f"{dataset}_plan.json"    # the plan's size, as plan_corpus writes
        fake.write_text(json.dumps({"clips": [{}] * n_clips, "info": {
            "sample_rate": settings["sample_rate"], "max_duration_s": SPOKEN_MAX_S,
            "mean_duration_s": SPOKEN_MEAN_S}}))
        request = resources.cochlea_chunk(fake, chunks=chunks,
                                          channels=cochlea_from_settings(cochlea).channels,
                                          **self._request_kwargs())
        paths = [f"results/{dataset}/cochlea/chunk{i}.npz" for i in range(chunks)]
        for i, path in enumerate(paths):
            self.add("cochlea_chunk", [path], {"dataset": dataset, "chunk": i},
                     deps=[plan_json], request=request)
        for split, raw in raws.items():
            self.add("cochlea_merge", [raw], {"dataset": dataset, "split": split},
                     deps=[plan_json, *paths])

    # -- training
    def cell_segments(self, dataset: str, hidden: int, delays: bool
                      ) -> list[tuple[int, int]]:
        """The segments of a (dataset, hidden, delays) cell's training, every seed alike (as
        common.smk cell_segments); one segment, with the error, where an epoch is too long."""
        key = (dataset, hidden, delays)
        if key in self._segment_cache:
            return self._segment_cache[key]
        epochs = cell_train_settings(self.config, dataset, hidden, delays).epochs
        epoch_s = self.epoch_s(dataset, hidden, delays)
        limits = self.limits
        try:
            chain = resources.segments(epochs, epoch_s, limits["max_runtime"], limits,
                                       limits["segment_epochs"])
            error = None
        except resources.LimitError as exc:   # the workflow stops planning each such cell
            chain, error = [(0, epochs)], str(exc)
        backend = self.config["training"]["backend"]
        if backend != "numba" and len(chain) > 1:
            self.warnings.append(
                f"rule train ({dataset} h{hidden}{DELAY_SUFFIX if delays else ''}, every "
                f"seed): the {backend} backend trains a cell in one job and "
                f"refuses a segment (neurokws.backends.train_cell): its {len(chain)} segments "
                "will fail; raise resources.max_runtime or train with the numba backend")
        self._segment_cache[key] = chain
        stats = self.data[dataset].splits
        self.segments.append({
            "dataset": dataset, "hidden": hidden, "delays": delays, "epochs": epochs,
            "epoch_min": epoch_s / 60.0, "segments": [list(s) for s in chain],
            "requests": [self.train_request(dataset, hidden, delays, stop - first)
                         .__dict__ for first, stop in chain],
            "threads": training_threads(self.config, hidden), "error": error,
            "train_samples": stats["train"].n_samples})
        return chain

    def epoch_s(self, dataset: str, hidden: int, delays: bool) -> float:
        ds, tr = self.config["datasets"][dataset], self.config["training"]
        stats = self.data[dataset].splits
        return resources.train_epoch_s(
            stats["train"], stats.get("valid"), n_hidden=hidden,
            n_steps=self.config["model"]["n_steps"], batch_size=tr["batch_size"],
            blend_n_new=ds["blend_n_new"], blend="blend" in ds["augmentations"],
            threads=training_threads(self.config, hidden), delays=delays)

    def train_request(self, dataset: str, hidden: int, delays: bool,
                      epochs: int) -> resources.Request:
        """As common.smk estimate for train, train_segment and train_qat."""
        ds, tr = self.config["datasets"][dataset], self.config["training"]
        stats = self.data[dataset].splits
        train = stats["train"]
        return resources.train(
            train, stats.get("valid"), n_hidden=hidden, n_out=train.n_classes,
            n_in=train.n_channels, n_steps=self.config["model"]["n_steps"], epochs=epochs,
            batch_size=tr["batch_size"],
            block_batches=None if tr["backend"] == "mlgenn" else tr["block_batches"],
            blend_n_new=ds["blend_n_new"], blend="blend" in ds["augmentations"],
            threads=training_threads(self.config, hidden), delays=delays,
            **self._request_kwargs())

    def cell_jobs(self, dataset: str, hidden: int, delays: bool, seed: int,
                  profiled: bool) -> None:
        """Every job of one cell: training (in segments), evaluation, deployment, Lava and
        (`profiled`: the first seed) profiling."""
        from neurokws.backends import training_gpus
        from neurokws.profiling.inference.profile import device_batch_sizes, device_gpus

        config = self.config
        suffix = DELAY_SUFFIX if delays else ""
        wc = {"dataset": dataset, "hidden": hidden, "delays": suffix, "seed": seed}
        cell = CELL.format(**wc)
        threads = training_threads(config, hidden)
        splits = dataset_splits(config, dataset)
        prepared = [prepared_path(dataset, s) for s in splits if s != "test"]
        test = prepared_path(dataset, "test")
        backend = config["training"]["backend"]
        gpus = training_gpus(backend)
        deps = list(prepared)
        if backend == "mlgenn":
            deps.append(self.side_env("genn"))
        if delays and fine_tunes_delay_free(config):
            deps.append(f"{CELL.format(**{**wc, 'delays': ''})}/model.npz")
        chain = self.cell_segments(dataset, hidden, delays)
        previous: list[str] = []
        for first, stop in chain[:-1]:
            previous = [self.add(
                "train_segment", [f"{cell}/segments/epochs{first}-{stop}.json"],
                {**wc, "first": first, "stop": stop}, deps=deps + previous,
                request=self.train_request(dataset, hidden, delays, stop - first),
                threads=threads, gpus=gpus)]
        first, stop = chain[-1]
        error = next(s["error"] for s in self.segments
                     if (s["dataset"], s["hidden"], s["delays"]) == (dataset, hidden, delays))
        if error:   # as common.smk cell_segments: the cell's training cannot be planned
            self.refuse("train", CELL.format(**wc), f"training of {cell}: {error}")
        model = self.add("train", [f"{cell}/model.npz", f"{cell}/train_log.csv"], wc,
                         deps=deps + previous,
                         request=self.train_request(dataset, hidden, delays, stop - first),
                         threads=threads, gpus=gpus, check=not error)
        stats = self.data[dataset].splits
        common = dict(n_hidden=hidden, n_steps=config["model"]["n_steps"], delays=delays,
                      **self._request_kwargs())
        self.add("evaluate_float", [f"{cell}/eval_float.json"], wc, deps=[model, test],
                 request=resources.evaluate_float(stats["test"], **common), threads=threads)
        self.add("export_nir", [f"{cell}/model.nir"], wc, deps=[model])
        dep_bits = deployed_bits(config)
        for method in config["deploy"]["methods"]:
            for tag in precision_tags(config, delays):
                self.deploy_jobs(wc, method, tag, tag == precision_tag(dep_bits))
        if not profiled:
            return
        # profile's int<b>/model.net
        net = self.deploy_jobs(wc, "ptq", precision_tag(dep_bits), False)
        profiling = config["profiling"]
        for device in profiling["devices"]:
            for batch in device_batch_sizes(device, profiling["batch_sizes"]):
                self.add("profile", [f"{cell}/profile/{device}_b{batch}.csv"],
                         {**wc, "device": device, "batch": batch}, deps=[model, net, test],
                         request=resources.profile(
                             stats["test"], device=device,
                             max_samples=profiling["max_samples"],
                             idle_s=profiling["idle_s"],
                             min_active_s=profiling["min_active_s"], **common),
                         threads=profiling["threads"], gpus=device_gpus(device),
                         slots=("profiling_slot",))

    def deploy_jobs(self, wc: Mapping[str, Any], method: str, tag: str, lava: bool) -> str:
        """quantize, export_netx, eval_fixed (and Lava at the deployed bit width) of one
        model of a cell at one precision (config.precision_tag); returns its model.net."""
        config = self.config
        dataset, hidden = wc["dataset"], int(wc["hidden"])
        delays = wc["delays"] == DELAY_SUFFIX
        cell = CELL.format(**wc)
        quant = QUANT_DIRS[method]
        folder = f"{cell}/{quant}{tag}"
        qwc = {**wc, "quant": quant, "bits": tag}
        bits = parse_precision(tag)[0]
        test = prepared_path(dataset, "test")
        stats = self.data[dataset].splits
        common = dict(n_hidden=hidden, n_steps=config["model"]["n_steps"], delays=delays,
                      **self._request_kwargs())
        threads = training_threads(config, hidden)
        if method == "qat":
            deps = [prepared_path(dataset, s) for s in dataset_splits(config, dataset)
                    if s != "test"]
            if config["training"]["qat"]["init"] == "float":
                deps.append(f"{cell}/model.npz")
            source = self.add("train_qat", [f"{folder}/model.npz", f"{folder}/train_log.csv"],
                              {**wc, "bits": tag}, deps=deps, threads=threads,
                              request=self.train_request(
                                  dataset, hidden, delays,
                                  qat_settings(config, dataset, hidden, bits).epochs))
        else:
            source = f"{cell}/model.npz"
        quantized = self.add("quantize", [f"{folder}/quantized.npz"], qwc, deps=[source])
        net = self.add("export_netx", [f"{folder}/model.net"], qwc, deps=[quantized])
        fixed = self.add("eval_fixed", [f"{folder}/eval_fixed.json",
                                        f"{folder}/predictions_fixed.csv"], qwc,
                         deps=[net, test], threads=threads,
                         request=resources.eval_fixed(
                             stats["test"], n_out=stats["test"].n_classes,
                             n_modes=len(config["fixed_point"]["input_modes"]), **common))
        if lava:
            lava_cfg = config["lava"]
            chunks = int(lava_cfg["chunks"])
            n_test = stats["test"].n_samples
            subset = min(lava_cfg["n_samples"] or n_test, n_test)
            request = resources.eval_lava_chunk(stats["test"], n_samples=-(-subset // chunks),
                                                **common)
            env = self.side_env("lava")
            for mode in lava_cfg["input_modes"]:
                paths = [self.add("eval_lava_chunk", [f"{folder}/lava/{mode}_chunk{i}.npz"],
                                  {**qwc, "mode": mode, "chunk": i}, deps=[env, net, test],
                                  request=request) for i in range(chunks)]
                self.add("merge_lava", [f"{folder}/eval_lava_{mode}.json"],
                         {**qwc, "mode": mode}, deps=[*paths, fixed])
        return net

    def side_env(self, name: str) -> str:
        return self.add(f"side_env_{name}", [f".venv-{name}"], {}, local=True)

    # -- the grid's tables and reports
    def report_jobs(self, eval_floats: list[str], fixed: list[str], lava: list[str],
                    profiles: list[str]) -> None:
        config = self.config
        agg_float = self.add("aggregate_float", ["results/tables/accuracy_float.csv"], {},
                             deps=eval_floats)
        agg_fixed = self.add("aggregate_fixed", ["results/tables/accuracy_fixed.csv"], {},
                             deps=[*eval_floats, *fixed, *lava])
        targets = [*[f"results/{d}/figures/rasters.png" for d in self.data],
                   *[p for d in self.data for p in
                     (prepared_path(d, s) for s in dataset_splits(config, d))],
                   agg_float, *[j.key for j in self.jobs.values() if j.rule == "export_nir"],
                   agg_fixed]
        table2 = None
        if config["profiling"]["devices"]:
            table2 = self.add("table2", ["results/tables/table2.csv"], {}, deps=profiles)
            targets.append(table2)
        summary_deps = [agg_float, agg_fixed]
        accuracy = self.add("figure_accuracy", ["results/figures/accuracy.png"], {},
                            deps=[agg_float, agg_fixed])
        sweep = self.add("figure_bits_sweep", ["results/figures/bits_sweep.png"], {},
                         deps=[agg_fixed])
        figures = [accuracy, sweep]
        cost = config["training_cost"]
        if cost["enabled"]:
            env = [self.side_env("spyx")] if "bptt_spyx" in cost["methods"] else []
            measured = self.add("training_cost", ["results/training_cost/training_cost.csv"],
                                {}, deps=env, threads=self.node_cores)
            summary_deps.append(measured)
            figures.append(self.add("figure_training_cost",
                                    ["results/figures/training_cost.png"], {},
                                    deps=[measured]))
        if table2 is not None:
            summary_deps.append(table2)
            figures.append(self.add("figure_inference_cost",
                                    ["results/figures/inference_cost.png"], {}, deps=[table2]))
        summary = self.add("summary", ["results/summary.md"], {},
                           deps=[*summary_deps, *figures])
        self.add("all", ["all"], {}, deps=[*targets, *figures, summary], local=True)


def build(config: dict[str, Any], workdir: str | os.PathLike = ".",
          profile: str | os.PathLike = SLURM_PROFILE, node_cores: int | None = None) -> Plan:
    """Every job of a resolved config's grid with its request (a fresh run); `workdir`:
    where the workflow runs (prepared data there are used); `node_cores`: a node's cores
    (the Figure 3 benchmark holds a whole node, `threads: workflow.cores`; default this
    machine's)."""
    defaults = profile_settings(profile)
    workdir = Path(workdir)
    data: dict[str, DataSizes] = {}
    unplanned = []
    for dataset in config["datasets"]:
        sizes = data_sizes(config, dataset, workdir)
        if isinstance(sizes, str):
            unplanned.append(sizes)
        else:
            data[dataset] = sizes
    with tempfile.TemporaryDirectory(prefix="neurokws-plan-") as raw_dir:
        builder = _Builder(config, data, defaults, node_cores or os.cpu_count() or 1,
                           Path(raw_dir), workdir)
        for dataset in data:
            builder.data_jobs(dataset)
        delay_axis = [bool(d) for d in config["delays"]]
        seeds = [int(s) for s in config["seeds"]]
        for dataset in data:
            for hidden in (int(h) for h in config["hidden_sizes"]):
                for delays in delay_axis:
                    for seed in seeds:
                        builder.cell_jobs(dataset, hidden, delays, seed,
                                          profiled=seed == seeds[0])
        jobs = builder.jobs.values()
        builder.report_jobs(
            [j.key for j in jobs if j.rule == "evaluate_float"],
            [j.key for j in jobs if j.rule == "eval_fixed"],
            [j.key for j in jobs if j.rule == "merge_lava"],
            [j.key for j in jobs if j.rule == "profile"])
    for job in builder.jobs.values():   # a path some job writes -> that job
        job.deps = tuple(dict.fromkeys(builder.outputs.get(d, d) for d in job.deps))
    limit = config["resources"]["max_runtime"]
    if limit is not None and defaults["runtime"] > limit:
        rules = sorted({j.rule for j in builder.jobs.values() if not j.local and not j.declared})
        builder.warnings.append(
            f"rules without a request of their own ({', '.join(rules)}) ask for the profile's "
            f"default runtime, {defaults['runtime']} min, more than resources.max_runtime = "
            f"{limit} min: lower default-resources runtime in the SLURM profile")
    return Plan(config=config, jobs=builder.jobs, data=data, segments=builder.segments,
                refused=builder.refused, warnings=builder.warnings, unplanned=unplanned,
                max_in_flight=defaults["jobs"])


# ---- what it costs ------------------------------------------------------------------------------

def rule_table(plan: Plan) -> list[dict[str, Any]]:
    """Per rule (in the workflow's order): jobs, cores and GPUs per job, the largest memory,
    the largest and total requested time, core-hours and GPU-hours."""
    rows: dict[str, dict[str, Any]] = {}
    for job in plan.jobs.values():
        row = rows.setdefault(job.rule, {
            "rule": job.rule, "jobs": 0, "local": job.local, "declared": job.declared,
            "threads": 0, "gpus": 0, "max_mem_mb": 0, "max_runtime_min": 0,
            "total_runtime_min": 0, "core_hours": 0.0, "gpu_hours": 0.0})
        row["jobs"] += 1
        if job.local:
            continue
        row["threads"] = max(row["threads"], job.threads)
        row["gpus"] = max(row["gpus"], job.gpus)
        row["max_mem_mb"] = max(row["max_mem_mb"], job.mem_mb)
        row["max_runtime_min"] = max(row["max_runtime_min"], job.runtime)
        row["total_runtime_min"] += job.runtime
        row["core_hours"] += job.runtime * job.threads / 60.0
        row["gpu_hours"] += job.runtime * job.gpus / 60.0
    known = {rule: i for i, rule in enumerate(RULE_ORDER)}
    return sorted(rows.values(), key=lambda r: known.get(r["rule"], len(known)))


def _order(jobs: Mapping[str, Job]) -> list[str]:
    """The jobs in an order where every job comes after those it waits for."""
    indegree = {key: 0 for key in jobs}
    users: dict[str, list[str]] = {key: [] for key in jobs}
    for key, job in jobs.items():
        for dep in job.deps:
            if dep in jobs:
                indegree[key] += 1
                users[dep].append(key)
    ready = [key for key, n in indegree.items() if n == 0]
    order = []
    while ready:
        key = ready.pop()
        order.append(key)
        for user in users[key]:
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    if len(order) != len(jobs):
        raise ValueError("the plan's jobs wait for each other in a cycle")
    return order


def _duration(job: Job) -> int:
    return 0 if job.local else int(job.runtime)


def critical_path(jobs: Mapping[str, Job]) -> tuple[int, list[str]]:
    """The longest path in requested minutes through the jobs (the wall time on unlimited
    nodes) and its jobs, first to last."""
    best: dict[str, tuple[int, str | None]] = {}
    order = _order(jobs)
    for key in order:
        before = max(((best[d][0], d) for d in jobs[key].deps if d in jobs),
                     default=(0, None))
        best[key] = (before[0] + _duration(jobs[key]), before[1])
    if not best:
        return 0, []
    position = {key: i for i, key in enumerate(order)}
    end = max(best, key=lambda k: (best[k][0], position[k]))   # ties: the path's last job
    path, key = [], end
    while key is not None:
        path.append(key)
        key = best[key][1]
    return best[end][0], path[::-1]


def schedule(jobs: Mapping[str, Job], nodes: int, cores_per_node: int,
             max_in_flight: int | None = None,
             slots: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The list schedule of the module's docstring: the makespan in minutes on `nodes`
    nodes of `cores_per_node` cores, and every job's start (minutes from submission)."""
    if nodes < 1 or cores_per_node < 1:
        raise ValueError("nodes and cores per node must be at least 1")
    slots = {"profiling_slot": 1} if slots is None else dict(slots)
    order = _order(jobs)
    rest: dict[str, int] = {}              # longest path from a job's start to the end
    users: dict[str, list[str]] = {key: [] for key in jobs}
    for key in order:
        for dep in jobs[key].deps:
            if dep in jobs:
                users[dep].append(key)
    for key in reversed(order):
        rest[key] = _duration(jobs[key]) + max((rest[u] for u in users[key]), default=0)
    rank = {key: i for i, key in enumerate(order)}
    waiting = {key: sum(d in jobs for d in jobs[key].deps) for key in jobs}
    ready = [(-rest[key], rank[key], key) for key, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    free = [cores_per_node] * nodes
    free_slots = dict(slots)
    running: list[tuple[int, int, str, int]] = []   # (end, rank, key, node)
    start: dict[str, int] = {}
    now, in_flight, makespan = 0, 0, 0

    def finish(key: str) -> None:
        for user in users[key]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (-rest[user], rank[user], user))

    while ready or running:
        held = []
        while ready:
            item = heapq.heappop(ready)
            job = jobs[item[2]]
            if job.local:                  # the submit host: no cores, no time
                start[job.key] = now
                finish(job.key)
                continue
            need = min(job.threads, cores_per_node)
            node = next((n for n in range(nodes) if free[n] >= need), None)
            if (node is None or (max_in_flight is not None and in_flight >= max_in_flight)
                    or any(free_slots.get(s, 1) < 1 for s in job.slots)):
                held.append(item)
                if max(free) == 0 or (max_in_flight is not None
                                      and in_flight >= max_in_flight):
                    break
                continue
            free[node] -= need
            for s in job.slots:
                free_slots[s] = free_slots.get(s, 1) - 1
            in_flight += 1
            start[job.key] = now
            heapq.heappush(running, (now + _duration(job), rank[job.key], job.key, node))
        for item in held:
            heapq.heappush(ready, item)
        if not running:
            if ready:   # nothing running and nothing fits: cannot happen (threads capped)
                raise ValueError("the schedule is stuck")
            break
        now = running[0][0]
        while running and running[0][0] == now:
            _, _, key, node = heapq.heappop(running)
            job = jobs[key]
            free[node] += min(job.threads, cores_per_node)
            for s in job.slots:
                free_slots[s] += 1
            in_flight -= 1
            makespan = max(makespan, now)
            finish(key)
    return {"minutes": makespan, "start": start, "nodes": nodes,
            "cores_per_node": cores_per_node, "max_in_flight": max_in_flight}


def paper_training_cost() -> dict[str, Any]:
    """The paper's own training cost: seconds per epoch on a datacentre GPU with mlGeNN
    (neurokws.paper.EPOCH_TIME_S) x EPOCHS x SEEDS for each of its cells. Sizes without a
    published time (N = 512) are interpolated on a power law between the published sizes
    around them (log-log), and marked."""
    rows = []
    for dataset in paper.DATASETS:
        known = sorted(h for d, h in paper.EPOCH_TIME_S if d == dataset)
        for hidden in paper.HIDDEN_SIZES:
            seconds = paper.EPOCH_TIME_S.get((dataset, hidden))
            published = seconds is not None
            if not published:
                below = [h for h in known if h < hidden]
                above = [h for h in known if h > hidden]
                if below and above:
                    lo, hi = below[-1], above[0]
                    t_lo, t_hi = paper.EPOCH_TIME_S[(dataset, lo)], paper.EPOCH_TIME_S[
                        (dataset, hi)]
                    frac = math.log(hidden / lo) / math.log(hi / lo)
                    seconds = math.exp(math.log(t_lo) + frac * math.log(t_hi / t_lo))
            epochs = paper.EPOCHS[dataset]
            rows.append({"dataset": dataset, "hidden": hidden, "epochs": epochs,
                         "seeds": paper.SEEDS, "epoch_s": seconds, "published": published,
                         "gpu_hours": None if seconds is None else
                         seconds * epochs * paper.SEEDS / 3600.0})
    published = sum(r["gpu_hours"] for r in rows if r["published"])
    everything = sum(r["gpu_hours"] for r in rows if r["gpu_hours"] is not None)
    return {"rows": rows, "gpu_hours_published": published,
            "gpu_hours_with_interpolated": everything,
            "source": "neurokws.paper.EPOCH_TIME_S (section III-A: mlGeNN, datacentre GPU) x "
                      "EPOCHS x SEEDS",
            "note": "no time per epoch is published for "
                    + ", ".join(f"{r['dataset']} N = {r['hidden']}" for r in rows
                                if not r["published"])
                    + ": interpolated on a power law in N between the published sizes"}


def _named(job: Job) -> str:
    return f"{job.rule} ({job.where})" if job.wildcards else job.rule


def _grouped(refused: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Refusals per rule: how many jobs, every job's wildcards, the first job's message."""
    rules: dict[str, dict[str, Any]] = {}
    for item in refused:
        row = rules.setdefault(item["rule"], {"rule": item["rule"], "jobs": 0, "where": [],
                                              "message": item["message"]})
        row["jobs"] += 1
        row["where"].append(item["where"])
    return list(rules.values())


def summarize(plan: Plan, nodes: int | None = None, cores_per_node: int | None = None,
              max_in_flight: int | None = None) -> dict[str, Any]:
    """The plan's numbers (what `neurokws plan --json` prints)."""
    cluster = plan.cluster_jobs()
    rules = rule_table(plan)
    longest = max(cluster, key=lambda j: j.runtime, default=None)
    chains: dict[str, list[Job]] = {}
    for job in plan.jobs.values():
        if job.rule in ("train", "train_segment"):
            cell = CELL.format(**{k: job.wildcards[k]
                                  for k in ("dataset", "hidden", "delays", "seed")})
            chains.setdefault(cell, []).append(job)
    chain_cell = max(chains, key=lambda c: sum(j.runtime for j in chains[c]), default=None)
    path_min, path = critical_path(plan.jobs)
    result: dict[str, Any] = {
        "limits": {k: plan.config["resources"][k] for k in
                   ("max_runtime", "segment_epochs", "max_mem_mb", "max_threads",
                    "mem_scale", "runtime_scale")},
        "data": {d: {"origin": s.origin, "note": s.note,
                     "splits": {n: st.__dict__ for n, st in s.splits.items()}}
                 for d, s in plan.data.items()},
        "rules": rules,
        "segments": plan.segments,
        "totals": {
            "jobs": len(plan.jobs), "cluster_jobs": len(cluster),
            "core_hours": sum(r["core_hours"] for r in rules),
            "gpu_hours": sum(r["gpu_hours"] for r in rules),
            "longest_job": None if longest is None else {
                "rule": longest.rule, "where": longest.where, "minutes": longest.runtime},
            "longest_training_chain": None if chain_cell is None else {
                "cell": chain_cell, "jobs": len(chains[chain_cell]),
                "minutes": sum(j.runtime for j in chains[chain_cell])},
            "critical_path": {"minutes": path_min,
                              "jobs": [_named(plan.jobs[k]) for k in path
                                       if not plan.jobs[k].local]},
        },
        "refused": _grouped(plan.refused), "warnings": plan.warnings,
        "unplanned": plan.unplanned,
        "paper": paper_training_cost(),
    }
    ours = {}
    for job in plan.jobs.values():
        if job.rule in ("train", "train_segment") and not job.wildcards["delays"]:
            name = paper.paper_dataset(job.wildcards["dataset"],
                                       plan.config["datasets"][job.wildcards["dataset"]]
                                       ["source"])
            if name is not None:
                key = f"{name} {job.wildcards['hidden']}"
                ours[key] = ours.get(key, 0.0) + job.runtime * job.threads / 60.0
    for row in result["paper"]["rows"]:
        row["ours_core_hours"] = ours.get(f"{row['dataset']} {row['hidden']}")
    if nodes is not None or cores_per_node is not None:
        nodes = nodes or 1
        cores_per_node = cores_per_node or os.cpu_count() or 1
        in_flight = plan.max_in_flight if max_in_flight is None else max_in_flight
        sched = schedule(plan.jobs, nodes, cores_per_node, in_flight)
        wide = [f"{j.rule} ({j.where}): {j.threads} cores" for j in cluster
                if j.threads > cores_per_node]
        result["wall"] = {"nodes": nodes, "cores_per_node": cores_per_node,
                          "max_in_flight": in_flight, "minutes": sched["minutes"],
                          "over_a_node": wide}
    return result


# ---- printing -----------------------------------------------------------------------------------

def _hours(minutes: float) -> str:
    return f"{minutes / 60.0:,.1f} h"


def _duration_text(minutes: float) -> str:
    days, rest = divmod(round(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days} d {hours:02d}:{mins:02d}" if days else f"{hours:02d}:{mins:02d}") \
        + f" ({minutes / 60.0:,.1f} h)"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: set[int]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def render(summary: Mapping[str, Any], configfile: str | Sequence[str] = "") -> str:
    """The plan as text tables."""
    out = []
    limits = summary["limits"]
    given = ", ".join(f"{k} {v}" for k, v in limits.items() if v is not None) or "none"
    files = configfile if isinstance(configfile, str) else " ".join(map(str, configfile))
    out.append(f"neurokws plan {files}".rstrip())
    out.append(f"limits (config resources): {given}")
    out.append("")
    out.append("data (sizes behind the requests):")
    for name, info in summary["data"].items():
        sizes = ", ".join(f"{s} {st['n_samples']:,} samples / {st['n_events']:,} events"
                          for s, st in info["splits"].items())
        out.append(f"  {name}: {sizes} ({info['origin']}: {info['note']})")
    for line in summary["unplanned"]:
        out.append(f"  not planned: {line}")
    out.append("")
    rows = []
    for r in summary["rules"]:
        if r["local"]:
            rows.append([r["rule"], r["jobs"], "local", "", "", "", "", "", ""])
            continue
        mark = "" if r["declared"] else "*"
        rows.append([r["rule"] + mark, r["jobs"], r["threads"], r["gpus"],
                     f"{r['max_mem_mb']:,}", f"{r['max_runtime_min']:,}",
                     _hours(r["total_runtime_min"]), f"{r['core_hours']:,.1f}",
                     f"{r['gpu_hours']:,.1f}"])
    out.append(_table(["rule", "jobs", "cores", "GPUs", "max MB", "max min", "total time",
                       "core-h", "GPU-h"], rows, {1, 2, 3, 4, 5, 6, 7, 8}))
    out.append("(* the SLURM profile's default-resources: the rule declares no request; "
               "local: runs on the submit host)")
    out.append("")
    out.append("training per cell (every seed alike):")
    seg_rows = []
    refused = any(s["error"] for s in summary["segments"])
    for s in summary["segments"]:
        runtimes = sorted({r["runtime"] for r in s["requests"]})
        mems = max(r["mem_mb"] for r in s["requests"])
        sizes = sorted({stop - first for first, stop in s["segments"]})
        seg_rows.append([s["dataset"], s["hidden"], "yes" if s["delays"] else "no",
                         s["epochs"], f"{s['epoch_min']:,.1f}", s["threads"],
                         len(s["segments"]), "/".join(map(str, sizes)),
                         "/".join(f"{r:,}" for r in runtimes), f"{mems:,}",
                         *(["REFUSED" if s["error"] else ""] if refused else [])])
    out.append(_table(["dataset", "N", "delays", "epochs", "min/epoch", "cores", "jobs/cell",
                       "epochs/job", "min/job", "MB/job", *([""] if refused else [])],
                      seg_rows, {1, 3, 4, 5, 6, 7, 8, 9}))
    out.append("(min/epoch: the estimate before the margin; min/job: the request)")
    out.append("")
    t = summary["totals"]
    out.append(f"grid: {t['jobs']:,} jobs ({t['cluster_jobs']:,} on the cluster), "
               f"{t['core_hours']:,.1f} core-hours, {t['gpu_hours']:,.1f} GPU-hours requested")
    if t["longest_job"]:
        lj = t["longest_job"]
        out.append(f"longest job: {lj['rule']} ({lj['where']}), "
                   f"{_duration_text(lj['minutes'])}")
    if t["longest_training_chain"]:
        lc = t["longest_training_chain"]
        out.append(f"longest training chain: {lc['cell']}, {lc['jobs']} job(s), "
                   f"{_duration_text(lc['minutes'])}")
    out.append(f"critical path (unlimited nodes): {_duration_text(t['critical_path']['minutes'])}"
               f": {' -> '.join(t['critical_path']['jobs'])}")
    wall = summary.get("wall")
    if wall:
        cap = "" if wall["max_in_flight"] is None else \
            f", at most {wall['max_in_flight']} jobs in flight"
        out.append(f"expected wall time on {wall['nodes']} node(s) x "
                   f"{wall['cores_per_node']} cores{cap}, every job taking its whole request: "
                   f"{_duration_text(wall['minutes'])}")
        out.append("  (list schedule: every job holds its cores for its whole requested "
                   "time, after the jobs it reads; one profiling job at a time; local jobs "
                   "take no time; memory and GPUs not constrained)")
        for line in wall["over_a_node"]:
            out.append(f"  more cores than a node has (run on a whole node): {line}")
    else:
        out.append("expected wall time: give --nodes and --cores-per-node")
    out.append("")
    p = summary["paper"]
    out.append(f"the paper's own training ({p['source']}):")
    prow = []
    for r in p["rows"]:
        prow.append([r["dataset"], r["hidden"], r["epochs"], r["seeds"],
                     "missing" if r["epoch_s"] is None else f"{r['epoch_s']:,.1f}",
                     "published" if r["published"] else "interpolated",
                     "" if r["gpu_hours"] is None else f"{r['gpu_hours']:,.1f}",
                     "" if r["ours_core_hours"] is None else f"{r['ours_core_hours']:,.1f}"])
    out.append(_table(["dataset", "N", "epochs", "seeds", "s/epoch", "", "GPU-h",
                       "ours: training core-h"], prow, {1, 2, 3, 4, 6, 7}))
    out.append(f"paper GPU-hours: {p['gpu_hours_published']:,.1f} over the published cells, "
               f"{p['gpu_hours_with_interpolated']:,.1f} with the interpolated ones ({p['note']})")
    if summary["refused"] or summary["warnings"]:
        out.append("")
    for item in summary["refused"]:
        more = f" (and {item['jobs'] - 1} more job(s) of this rule)" if item["jobs"] > 1 else ""
        out.append(f"REFUSED, the workflow stops on it: {item['message']}{more}")
    for line in summary["warnings"]:
        out.append(f"warning: {line}")
    return "\n".join(out)


def run(configfile: str | os.PathLike | Sequence[str | os.PathLike], *,
        max_runtime: int | None = None, max_mem_mb: int | None = None, nodes: int | None = None,
        cores_per_node: int | None = None, max_in_flight: int | None = None,
        workdir: str | os.PathLike = ".", profile: str | os.PathLike = SLURM_PROFILE
        ) -> dict[str, Any]:
    """Load, plan and summarise a config file (the `neurokws plan` command)."""
    config = load_config(configfile, max_runtime, max_mem_mb)
    plan = build(config, workdir, profile, node_cores=cores_per_node)
    return summarize(plan, nodes, cores_per_node, max_in_flight)


__all__ = ["DataSizes", "Job", "Plan", "build", "critical_path", "data_sizes",
           "estimate_data", "load_config", "paper_training_cost", "render", "rule_table",
           "run", "schedule", "summarize"]
