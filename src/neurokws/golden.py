"""The golden run: a short fixed pipeline whose bits must be the same on every machine.

Audio generated from a seed goes through the Heidelberg cochlea (corpus spikes), the paper's
network trains on it for a few epochs with the numba engine (weights), is quantized to 8
bits and runs through the Loihi 2 emulator on aligned input (predictions and readout
scores). The SHA-256 of each stage's bytes is compared with the constants in GOLDEN, taken
on the developers' machine: with the same lock file, any x86-64-v3 machine must give them
(utils/target.py; docs/model.md#portable-bits). `neurokws golden` runs it (about 20 s) and
exits 1 on a mismatch, naming the first stage whose bits differ; `make test` runs it
(tests/test_golden.py).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from neurokws.backends import numba
from neurokws.config import default_config, network_config, train_settings
from neurokws.data.cochlea import Cochlea
from neurokws.data.formats.events import EventSplit
from neurokws.deploy.quantize import quantize
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.evaluation import split_inputs

SEED = 2027
SAMPLE_RATE = 16_000
CLIP_S = 0.12
N_CLASSES, PER_CLASS = 3, 8
N_HIDDEN, N_STEPS = 24, 120
CONFIG = default_config(
    datasets={"golden": {"source": "synthetic", "epochs": 4, "augmentations": ["shift"]}},
    hidden_sizes=[N_HIDDEN], seeds=[SEED], model={"n_steps": N_STEPS},
    training={"batch_size": 8, "lr": 3e-3, "ease_in_start_lr": 3e-3, "progress_bar": False})

# SHA-256 per stage (hex), measured with the lock file of this commit (see module docstring).
GOLDEN = {
    "corpus": "9545793f0b7134fd5bd564e12c0aeb46ae1469ced9fb327acc018567e5b404be",
    "weights": "2d6781adf0579a2c39ba7f0c58f8b9751234333aef4d35df1054fda6d4fd1620",
    "emulator": "4a28a6635da0df4122796be84c8cdc2aa556b6ef32ec46af7cae917503813629",
}


def _digest(*arrays: np.ndarray) -> str:
    """SHA-256 over the arrays' dtypes, shapes and C-order bytes."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def corpus() -> EventSplit:
    """N_CLASSES x PER_CLASS clips: a class is a rising, falling or two-tone pattern; each clip
    gets its own pitch, level and noise from the seed; then the cochlea."""
    rng = np.random.default_rng(SEED)
    t = np.arange(int(CLIP_S * SAMPLE_RATE)) / SAMPLE_RATE
    cochlea = Cochlea()
    times, units, offsets, labels = [], [], [0], []
    for label in range(N_CLASSES):
        for _ in range(PER_CLASS):
            f0 = 300.0 * (1.0 + 0.2 * rng.random())
            sweep = {0: 1.0 + 4.0 * t / CLIP_S, 1: 5.0 - 4.0 * t / CLIP_S,
                     2: np.where(t < CLIP_S / 2, 1.5, 4.0)}[label]
            phase = 2 * np.pi * np.cumsum(f0 * sweep) / SAMPLE_RATE
            audio = np.sin(phase) + 0.05 * rng.standard_normal(t.size)
            spike_s, chans = cochlea(audio, SAMPLE_RATE, rng)
            times.append(np.rint(spike_s * 1e6).astype(np.int32))
            units.append(chans)
            offsets.append(offsets[-1] + spike_s.size)
            labels.append(label)
    return EventSplit(np.concatenate(times), np.concatenate(units), np.asarray(offsets),
                      np.asarray(labels), n_channels=cochlea.channels)


def run(workdir: str | Path | None = None) -> dict[str, str]:
    """The golden pipeline; SHA-256 per stage."""
    split = corpus()
    hashes = {"corpus": _digest(split.times_us, split.units, split.offsets)}
    net = network_config(CONFIG, N_HIDDEN, n_out=N_CLASSES, n_in=split.n_channels)
    settings = train_settings(CONFIG, "golden", N_HIDDEN)
    with tempfile.TemporaryDirectory(dir=workdir) as out:
        result = numba.train(net, settings, SEED, split, Path(out))
    weights = result.weights
    hashes["weights"] = _digest(weights.w_in, weights.w_rec, weights.w_out)
    qmodel = quantize(net, weights, bits=8, percentile=CONFIG["deploy"]["percentile"])
    network = FixedPointNetwork.from_quantized(qmodel)
    outcome = network.classify(split_inputs(split, "aligned", net.n_steps, net.dt))
    hashes["emulator"] = _digest(outcome.pred, outcome.scores)
    return hashes


def compare(hashes: dict[str, str]) -> list[str]:
    """The stages whose bits differ from GOLDEN, in pipeline order."""
    return [stage for stage in GOLDEN if hashes.get(stage) != GOLDEN[stage]]
