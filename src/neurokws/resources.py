"""What a job asks the cluster for: memory and time from the data's own size and measured costs.

Each rule's `mem_mb` and `runtime` come from here (workflow/rules/*.smk call these functions
with the job's input files, which Snakemake does once they exist, just before it submits the
job). The sizes are the data's own: `prepare` reads the raw file's size, every later stage
the sample and event counts that `prepare` recorded (`prepared/<split>.summary.json`) and
the prepared arrays' size on disk. The per-event, per-sample and per-neuron costs below were
measured with `benchmarks/bench_resources.py` (2-core x86-64 VM, December 2026); they are the
one place these numbers live. `MARGIN` is added on top, and a retry after a job was killed
for time or memory asks for `attempt` times as much. To recalibrate for other nodes, run
the benchmark there: it prints each stage's measured peak memory and time next to what these
formulas declare, and the config's `resources.mem_scale` / `resources.runtime_scale` (see
config/schema.yaml) scale all requests (docs/resources.md).

Memory is the peak proportional set size of the job's processes (pages forked Lava workers
share counted once, as a cgroup counts them); time is wall time.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 2**20
TASKS_PER_THREAD = 2      # as model/engine.py cuts a batch (tests/test_resources.py checks)
MARGIN = 1.25             # declared = MARGIN x estimate (x attempt, x the config's scale)
BASE_MB = 250             # an interpreter with numpy, numba, h5py and pandas loaded
LAVA_BASE_MB = 750        # Lava's runtime and its worker processes (PSS), 1 sample per stream
HDF5_BYTES_PER_EVENT = 4  # float16 times + uint16 units (SHD/SSC); float32 files have 6
EVENT_BYTES = 6           # prepared events: int32 microseconds + int16 channel
READ_BLOCK_BYTES = 6      # per event of one read block (vlen objects, float32, units)
BLOCK_EVENT_BYTES = 16    # per event of a training block: subset, shift, bins, temporaries
EVAL_EVENT_BYTES = 14     # per event of an evaluation block: subset and bins
FIXED_EVENT_BYTES = 110   # per event of an emulator input block (int64 temporaries)
EVAL_BLOCK = 4096         # samples per float evaluation block (train.evaluate)
FIXED_BLOCK = 512         # samples per emulator input block (fixedpoint.evaluation)
READ_BLOCK = 2048         # samples per HDF5 read block (data.formats.heidelberg)

# Seconds per sample at T = 1000 steps and ~8,000 input events (SHD-like generated data with
# the paper's initial weights, whose hidden layer spikes more than a trained one), 2 threads:
# training (forward + Eventprop backward + Adam + building the block) a power law in the
# hidden size N (measured 2.8-3.5 ms at N = 256, 23-31 ms at N = 1024), float inference a
# share of it (measured 0.37 on the SSC-sized test split: evaluate_float, 20,382 samples);
# the fixed-point emulator per input mode (inputs included) and Lava linear in N.
TRAIN_S = (4.0e-7, 1.65)           # seconds = TRAIN_S[0] * N ** TRAIN_S[1]
INFER_SHARE = 0.45
EMULATOR_S = (2.0e-3, 1.1e-5)      # seconds = a + b N
LAVA_S = (7.5, 1.35e-2)
PREPARE_S_PER_EVENT = 5.0e-8
# Cells with synaptic delays (model.delays), measured at Loihi 2's largest delay, 62 steps,
# N = 256 (fewer steps cost less, so these bound them): training and float inference
# 1 / 0.17 = 5.9x the delay-free time (benchmarks/bench_delays.py), the emulator 1 / 0.25
# (benchmarks/bench_fixedpoint.py --max-delay 62), and Lava's DelayDense graph per sample
# at T = 1000 (same script, --lava-samples 1: 55.4 s at N = 128, 97.6 s at N = 256).
DELAY_TRAIN_FACTOR = 6.0
DELAY_EMULATOR_FACTOR = 4.0
LAVA_DELAY_S = (13.2, 0.33)
STARTUP_S = 10.0           # start-up, imports, numba cache load, checkpoints, outputs
# The cochlea (neurokws.data.cochlea) per second of audio at 700 channels (render, padding,
# membrane, hair cell, fibres, LIF: measured 0.92-1.1 s on spoken digits, pad_s 0.25), and per
# (channel x frequency) point of a basilar-membrane transfer; a chunk keeps up to
# TRANSFERS_KEPT transfers (complex128) of its longest padded clip and all its audio.
COCHLEA_S_PER_AUDIO_S = 1.0
TRANSFER_S_PER_POINT = 1.0e-6
TRANSFERS_KEPT = 4
COCHLEA_BLOCK = 64         # channels whose membrane velocity is alive at once

# Rules that ask a cluster for nothing: under a cluster executor they run on the submit
# host (Snakemake's local rules; common.smk declares them from here, neurokws.plan counts
# them as local). `download` needs the internet; the others read and write a few small
# tables, JSON records and figures, for which a cluster job's queueing and start-up (~10 s,
# tests/cluster) cost more than the work (Snakemake's docs name aggregation as the case).
LOCAL_RULES = ("download", "aggregate_float", "aggregate_fixed", "merge_lava", "table2",
               "figure_accuracy", "figure_bits_sweep", "figure_training_cost",
               "figure_inference_cost", "summary")


@dataclass(frozen=True)
class Request:
    """A job's request: memory in MB (sbatch --mem) and run time in minutes (sbatch -t)."""

    mem_mb: int
    runtime: int


@dataclass(frozen=True)
class SplitStats:
    """A prepared split's size: samples, events, the bytes its arrays take, its classes and
    input channels."""

    n_samples: int
    n_events: int
    nbytes: int
    n_classes: int
    n_channels: int

    @property
    def events_per_sample(self) -> float:
        return self.n_events / max(self.n_samples, 1)

    @classmethod
    def of(cls, prepared_npz: str | os.PathLike) -> SplitStats:
        """From `prepare`'s outputs: <split>.npz and its <split>.summary.json."""
        npz = Path(prepared_npz)
        summary = json.loads(npz.with_suffix(".summary.json").read_text())
        return cls(int(summary["n_samples"]), int(summary["n_events"]), npz.stat().st_size,
                   int(summary["n_classes"]), int(summary["n_channels"]))


def _train_s(n_hidden: int) -> float:
    return TRAIN_S[0] * n_hidden ** TRAIN_S[1]


def _delay_factor(delays: bool, factor: float) -> float:
    return factor if delays else 1.0


def _linear(coef: tuple[float, float], n: int) -> float:
    return coef[0] + coef[1] * n


def _request(mem_bytes: float, seconds: float, attempt: int,
             scale: Mapping[str, float] | None) -> Request:
    """The request for an estimate: MARGIN x attempt x the config's scales; a retry never
    asks for more time than the config's resources.max_runtime (the partition's limit)."""
    # scale: the config's `resources` section; None = unscaled (the reference machine)
    mem_scale, time_scale = (1.0, 1.0) if scale is None else \
        (scale["mem_scale"], scale["runtime_scale"])
    mem = MARGIN * attempt * mem_scale * mem_bytes / MIB
    minutes = MARGIN * attempt * time_scale * seconds / 60.0
    if attempt > 1 and scale is not None and scale.get("max_runtime") is not None:
        minutes = min(minutes, max(MARGIN * time_scale * seconds / 60.0,
                                   scale["max_runtime"]))
    return Request(mem_mb=math.ceil(mem), runtime=max(1, math.ceil(minutes)))


def uncompressed_bytes(path: str | os.PathLike) -> int:
    """The HDF5 bytes behind a raw split: the file, a .gz's or a .zip member's content."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic.startswith(b"\x1f\x8b"):   # gzip: ISIZE trailer = content size mod 2^32
        with open(path, "rb") as handle:
            handle.seek(-4, os.SEEK_END)
            isize = int.from_bytes(handle.read(4), "little")
        while isize < size:             # the content is at least as large as the archive
            isize += 1 << 32
        return isize
    if magic.startswith(b"PK"):
        with zipfile.ZipFile(path) as archive:
            return sum(m.file_size for m in archive.infolist() if m.filename.endswith(".h5"))
    return size


def prepare(raw: str | os.PathLike, attempt: int = 1,
            scale: Mapping[str, float] | None = None) -> Request:
    """Reading a Heidelberg file (block by block) and writing its prepared arrays."""
    events = uncompressed_bytes(raw) / HDF5_BYTES_PER_EVENT   # an upper bound
    block = min(events, READ_BLOCK * 10_000) * READ_BLOCK_BYTES   # SHD/SSC: ~8,000 / sample
    return _request(BASE_MB * MIB + events * EVENT_BYTES + block,
                    STARTUP_S + events * PREPARE_S_PER_EVENT, attempt, scale)


def _model_bytes(n_in: int, n_hidden: int, n_out: int, batch_size: int, threads: int,
                 delays: bool = False) -> float:
    """Weights, Adam's moments and checkpoints (8 copies, float32), and the gradient tree's
    buffers (model/engine.py): per thread a stack of partial sums as deep as its tasks'
    sample count has bits, and each task's sum until the tree joins them (twice the size
    with delays: dL/dd beside dL/dw)."""
    weights = 4 * (n_in * n_hidden + n_hidden * n_hidden + n_hidden * n_out)
    tasks = 1 if threads <= 1 else min(batch_size, TASKS_PER_THREAD * threads)
    depth = math.ceil(batch_size / tasks).bit_length()
    return weights * (8 + (2 if delays else 1) * (min(threads, tasks) * depth + tasks))


def train_epoch_s(train: SplitStats, valid: SplitStats | None, *, n_hidden: int,
                  n_steps: int, batch_size: int, blend_n_new: int | None, blend: bool,
                  threads: int, delays: bool = False) -> float:
    """Seconds one training epoch is estimated to take (its validation pass included),
    before MARGIN and the config's scale."""
    epoch_samples = train.n_samples + ((blend_n_new or train.n_samples) if blend else 0)
    # TRAIN_S is at 2 threads; a job uses up to batch_size threads (one sample a task)
    speed = (n_steps / 1000) * (2 / max(1, min(threads, batch_size))) ** 0.8
    seconds = speed * _train_s(n_hidden) * (
        epoch_samples + INFER_SHARE * (valid.n_samples if valid else 0))
    return seconds * _delay_factor(delays, DELAY_TRAIN_FACTOR)


def train(train: SplitStats, valid: SplitStats | None, *, n_hidden: int, n_out: int,
          n_in: int, n_steps: int, epochs: int, batch_size: int, block_batches: int | None,
          blend_n_new: int | None, blend: bool, threads: int, attempt: int = 1,
          scale: Mapping[str, float] | None = None, delays: bool = False) -> Request:
    """Training `epochs` epochs of one cell (a whole run or one segment of it): the split
    (and valid) held, one block of batches built at a time (`delays`: a cell with synaptic
    delays)."""
    epoch_samples = train.n_samples + ((blend_n_new or train.n_samples) if blend else 0)
    block = epoch_samples if block_batches is None else \
        min(epoch_samples, batch_size * block_batches)
    valid_bytes = 0 if valid is None else valid.nbytes + \
        min(valid.n_samples, EVAL_BLOCK) * valid.events_per_sample * EVAL_EVENT_BYTES
    mem = (BASE_MB * MIB + train.nbytes + valid_bytes
           + block * train.events_per_sample * BLOCK_EVENT_BYTES
           + _model_bytes(n_in, n_hidden, n_out, batch_size, threads, delays))
    epoch_s = train_epoch_s(train, valid, n_hidden=n_hidden, n_steps=n_steps,
                            batch_size=batch_size, blend_n_new=blend_n_new, blend=blend,
                            threads=threads, delays=delays)
    return _request(mem, STARTUP_S + epochs * epoch_s, attempt, scale)


def segments(epochs: int, epoch_s: float | None, max_runtime: int | None,
             scale: Mapping[str, float] | None = None,
             max_epochs: int | None = None) -> list[tuple[int, int]]:
    """Training's epochs as contiguous segments [first, stop), each one job whose request
    (STARTUP_S + its epochs, with MARGIN and the runtime scale) fits `max_runtime` minutes
    and that trains at most `max_epochs` epochs; as few as that allows, as equal as
    possible. One segment when there is neither limit (`epoch_s` is only needed with
    max_runtime)."""
    if max_runtime is None and max_epochs is None:
        return [(0, epochs)]
    per_segment = epochs if max_epochs is None else max_epochs
    if max_runtime is not None:
        per_segment = min(per_segment, _epochs_within(epoch_s, max_runtime, scale))
    n = math.ceil(epochs / per_segment)
    bounds = [round(k * epochs / n) for k in range(n + 1)]
    return list(itertools.pairwise(bounds))


def _epochs_within(epoch_s: float, max_runtime: int,
                   scale: Mapping[str, float] | None) -> int:
    """Epochs one training job can run within max_runtime minutes (at least 1, or raise)."""
    time_scale = 1.0 if scale is None else scale["runtime_scale"]
    per_job = max_runtime * 60.0 / (MARGIN * time_scale) - STARTUP_S
    per_segment = math.floor(per_job / epoch_s) if epoch_s > 0 else 1 << 30
    if per_segment < 1:
        one = math.ceil(MARGIN * time_scale * (STARTUP_S + epoch_s) / 60.0)
        raise LimitError(f"one training epoch is estimated to need {one} min (with its "
                         f"start-up, MARGIN {MARGIN} and resources.runtime_scale "
                         f"{time_scale}), more than resources.max_runtime = {max_runtime} "
                         "min: raise max_runtime to the partition's limit, or give the job "
                         "more threads (training.threads)")
    return per_segment


class LimitError(ValueError):
    """A job would ask for more than the partition's limits (config `resources`)."""


def check_limits(stage: str, where: str, request: Request, threads: int,
                 limits: Mapping[str, int | None]) -> None:
    """Raise LimitError naming the stage, the job and the fix when `request` (or the
    job's threads) exceeds the config's `resources.max_runtime` / `max_mem_mb` /
    `max_threads`."""
    over = []
    if limits.get("max_runtime") is not None and request.runtime > limits["max_runtime"]:
        over.append(f"{request.runtime} min > resources.max_runtime = "
                    f"{limits['max_runtime']} min")
    if limits.get("max_mem_mb") is not None and request.mem_mb > limits["max_mem_mb"]:
        over.append(f"{request.mem_mb} MB > resources.max_mem_mb = {limits['max_mem_mb']} MB")
    if limits.get("max_threads") is not None and threads > limits["max_threads"]:
        over.append(f"{threads} threads > resources.max_threads = {limits['max_threads']}")
    if over:
        raise LimitError(f"rule {stage} ({where}) would ask for " + "; ".join(over)
                         + ": this stage cannot be split; raise the limit to what the "
                         "partition allows, or shrink the job (fewer samples, a smaller "
                         "network; docs/resources.md#partition-limits)")


def evaluate_float(test: SplitStats, *, n_hidden: int, n_steps: int, attempt: int = 1,
                   scale: Mapping[str, float] | None = None, delays: bool = False) -> Request:
    """Float test accuracy: the test split held, binned block by block."""
    mem = (BASE_MB * MIB + test.nbytes
           + min(test.n_samples, EVAL_BLOCK) * test.events_per_sample * EVAL_EVENT_BYTES)
    seconds = test.n_samples * (n_steps / 1000) * INFER_SHARE * _train_s(n_hidden)
    return _request(mem, STARTUP_S + seconds * _delay_factor(delays, DELAY_TRAIN_FACTOR),
                    attempt, scale)


def eval_fixed(test: SplitStats, *, n_hidden: int, n_out: int, n_steps: int, n_modes: int,
               attempt: int = 1, scale: Mapping[str, float] | None = None,
               delays: bool = False) -> Request:
    """The emulator on the whole test set, each input mode, inputs built per block."""
    block = min(test.n_samples, FIXED_BLOCK)
    mem = (BASE_MB * MIB + test.nbytes + block * test.events_per_sample * FIXED_EVENT_BYTES
           + 2 * block * n_steps * n_out * 4)
    seconds = n_modes * test.n_samples * (n_steps / 1000) * _linear(EMULATOR_S, n_hidden)
    return _request(mem, STARTUP_S + seconds * _delay_factor(delays, DELAY_EMULATOR_FACTOR),
                    attempt, scale)


def eval_lava_chunk(test: SplitStats, *, n_samples: int, n_hidden: int, n_steps: int,
                    attempt: int = 1, scale: Mapping[str, float] | None = None,
                    delays: bool = False) -> Request:
    """One Lava chunk: the test split in this process, Lava's processes beside it (a model
    with delays runs our DelayDense graph)."""
    mem = LAVA_BASE_MB * MIB + test.nbytes + 64 * n_hidden * n_hidden
    seconds = n_samples * (n_steps / 1000) * _linear(LAVA_DELAY_S if delays else LAVA_S,
                                                     n_hidden)
    return _request(mem, STARTUP_S + seconds, attempt, scale)


def profile(test: SplitStats, *, device: str, n_hidden: int, n_steps: int,
            max_samples: int | None, idle_s: float, min_active_s: float,
            attempt: int = 1, scale: Mapping[str, float] | None = None,
            delays: bool = False) -> Request:
    """One device at one batch size on at most max_samples test samples."""
    n = test.n_samples if max_samples is None else min(max_samples, test.n_samples)
    per_event = FIXED_EVENT_BYTES if device == "loihi" else EVAL_EVENT_BYTES
    mem = BASE_MB * MIB + test.nbytes + n * test.events_per_sample * per_event
    per_sample = (_linear(EMULATOR_S, n_hidden) * _delay_factor(delays, DELAY_EMULATOR_FACTOR)
                  if device == "loihi" else
                  INFER_SHARE * _train_s(n_hidden) * _delay_factor(delays, DELAY_TRAIN_FACTOR))
    seconds = 2 * idle_s + min_active_s + 3 * n * (n_steps / 1000) * per_sample
    return _request(mem, STARTUP_S + seconds, attempt, scale)


def cochlea_chunk(plan_json: str | os.PathLike, *, chunks: int, channels: int,
                  attempt: int = 1, scale: Mapping[str, float] | None = None) -> Request:
    """One conversion chunk: its share of the plan's clips, at the plan's longest clip."""
    import json

    plan = json.loads(Path(plan_json).read_text())
    info = plan["info"]
    rate = float(info["sample_rate"])
    clip_s = float(info["max_duration_s"])
    n_clips = math.ceil(len(plan["clips"]) / max(1, chunks))
    points = channels * (clip_s * rate / 2 + 1)           # one clip's membrane samples
    audio = n_clips * float(info["mean_duration_s"]) * rate * 8     # float64 samples
    block = 3 * 16 * min(channels, COCHLEA_BLOCK) * (clip_s * rate / 2 + 1)
    mem = BASE_MB * MIB + TRANSFERS_KEPT * 16 * points + block + audio
    distinct = min(TRANSFERS_KEPT, max(1, n_clips))
    seconds = (n_clips * float(info["mean_duration_s"]) * COCHLEA_S_PER_AUDIO_S * channels / 700
               + distinct * points * TRANSFER_S_PER_POINT)
    return _request(mem, STARTUP_S + seconds, attempt, scale)


# Until a job's inputs exist (a dry run's plan), its request cannot be computed; Snakemake
# evaluates it again just before it submits the job, when they do.
UNTIL_INPUTS_EXIST = Request(mem_mb=1000, runtime=10)
