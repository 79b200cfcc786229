"""Cross-framework check of the NIR export: Norse's NIR importer vs our float engine.

Our graph (``nir_export``) is run by Norse 1.1.0 (``norse.torch.from_nir``) in the side
environment "nir" (``neurokws.utils.sidecar``; ``make nir-env`` creates .venv-nir), in
the three modes of ``nir_norse`` (importer as is, unit-area spikes with Norse's forward Euler,
and exact), and compared with ``engine.infer`` on the same binned data: prediction agreement,
readout differences and hidden spike-count agreement, against our engine in float32 (what
training and evaluation use) and float64. In "exact" mode only rounding is left: Norse runs
float32, and a float32 rounding can flip a threshold crossing that lands within ~1e-7 of V_th
(measured: the few samples with a flipped spike are the ones where our own float32 and float64
engines differ; Norse agrees with our float64 engine on every spike there).

Why Norse: of the four PyPI frameworks checked (snnTorch, Norse, Rockpool, Spyx) it is the only
one whose importer maps every CubaLIF parameter (w_in, r, tau_syn, tau_mem, v_leak,
v_threshold, v_reset) and takes the simulation dt; snnTorch 1.0.0 asserts r == tau_mem / 1e-4
and has no CubaLI mapping, Rockpool 3.1 derives dt = tau_mem / (1 + r) and raises on CubaLI,
Spyx 1.0.0 ignores r and w_in and drops the CubaLI readout (so does Norse, which is why
nir_norse adds one built from Norse's own modules).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.config import default_network
from neurokws.data.formats.binning import BinnedSplit
from neurokws.deploy.nir_export import export_nir
from neurokws.deploy.nir_norse import MODES
from neurokws.model.engine import infer
from neurokws.model.network import NetworkConfig, Weights
from neurokws.utils.sidecar import run_module


@dataclass(frozen=True)
class Agreement:
    """How one Norse mode agrees with our engine on the same samples."""

    mode: str
    engine_dtype: str               # our engine's arithmetic (float32 = as trained/deployed)
    n_samples: int
    prediction_agreement: float     # fraction of samples with the same argmax
    max_abs_readout_diff: float     # max |R_norse - R_ours| over samples and classes
    max_abs_readout_diff_equal: float  # the same over samples with all hidden counts equal
    max_readout_ours: float         # max |R_ours|, for scale
    max_readout_norse: float
    count_agreement: float          # fraction of (sample, hidden neuron) equal spike counts
    samples_equal_counts: float     # fraction of samples with every hidden count equal
    mean_abs_count_diff: float      # mean |count_norse - count_ours| per (sample, neuron)
    mean_count_ours: float          # hidden spikes per neuron per sample
    mean_count_norse: float
    accuracy_ours: float | None
    accuracy_norse: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def compare(mode: str, ours: tuple[np.ndarray, np.ndarray], norse: tuple[np.ndarray, np.ndarray],
            labels: np.ndarray | None = None, engine_dtype: str = "float32") -> Agreement:
    """Agreement of (readout (n, C), hidden counts (n, N)) pairs."""
    (r_ours, c_ours), (r_norse, c_norse) = ours, norse
    p_ours, p_norse = np.argmax(r_ours, axis=1), np.argmax(r_norse, axis=1)
    equal = np.asarray(c_ours) == np.asarray(c_norse)
    same = equal.all(axis=1)
    diff = np.abs(np.asarray(r_norse) - np.asarray(r_ours))
    acc_ours, acc_norse = (None if labels is None else float(np.mean(p == labels))
                           for p in (p_ours, p_norse))
    return Agreement(
        mode=mode, engine_dtype=engine_dtype, n_samples=len(p_ours),
        prediction_agreement=float(np.mean(p_ours == p_norse)),
        max_abs_readout_diff=float(diff.max()),
        max_abs_readout_diff_equal=float(diff[same].max()) if same.any() else float("nan"),
        max_readout_ours=float(np.max(np.abs(r_ours))),
        max_readout_norse=float(np.max(np.abs(r_norse))), count_agreement=float(np.mean(equal)),
        samples_equal_counts=float(np.mean(same)),
        mean_abs_count_diff=float(np.mean(np.abs(np.asarray(c_norse) - np.asarray(c_ours)))),
        mean_count_ours=float(np.mean(c_ours)), mean_count_norse=float(np.mean(c_norse)),
        accuracy_ours=acc_ours, accuracy_norse=acc_norse)


def run_norse(graph_path: str | os.PathLike, data: BinnedSplit, modes: tuple[str, ...] = MODES,
              timeout: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Run the NIR file on `data` in the "nir" side env; mode -> (readout, hidden counts)."""
    result = run_module("nir", "neurokws.deploy.nir_norse",
                        {"graph": os.fspath(Path(graph_path).resolve()), "modes": list(modes),
                         "n_steps": data.n_steps, "n_in": data.n_channels},
                        {"steps": data.steps, "channels": data.channels,
                         "offsets": data.offsets}, timeout=timeout)
    return {m: (result.arrays[f"{m}_readout"], result.arrays[f"{m}_counts"]) for m in modes}


def crosscheck(config: NetworkConfig, weights: Weights, data: BinnedSplit,
               modes: tuple[str, ...] = MODES,
               engine_dtypes: tuple[str, ...] = ("float32", "float64"),
               graph_path: str | os.PathLike | None = None,
               timeout: float | None = None) -> dict[str, dict[str, Agreement]]:
    """Export (or take) the NIR graph, run it in Norse and in our engine (weights cast to each
    of `engine_dtypes`; float32 is what training and evaluation use); mode -> dtype -> result."""
    if data.n_steps != config.n_steps or data.dt_ms != config.dt:
        raise ValueError(f"data binned with T={data.n_steps}, dt={data.dt_ms} ms; the model "
                         f"has T={config.n_steps}, dt={config.dt} ms")
    ours = {d: infer(config, weights.astype(np.dtype(d)), data.steps, data.channels,
                     data.offsets) for d in engine_dtypes}
    with tempfile.TemporaryDirectory(prefix="neurokws-nir-") as tmp:
        path = graph_path or Path(tmp, "model.nir")
        if graph_path is None:
            export_nir(path, config, weights, provenance={"purpose": "nir_crosscheck"})
        norse = run_norse(path, data, modes, timeout)
    return {m: {d: compare(m, ours[d], norse[m], data.labels, d) for d in engine_dtypes}
            for m in modes}


def demo_model(train: BinnedSplit, n_hidden: int, n_out: int, seed: int = 0,
               target_rate: float = 14.0, ridge: float = 1e-2) -> tuple[NetworkConfig, Weights]:
    """A quick stand-in for a trained model (for tests/benchmarks without one).

    Random mixed-sign input and recurrent weights, the input mean bisected to about
    `target_rate` hidden spikes per neuron per sample (the paper's regulariser target), and a
    ridge-regression readout on `train`: R is linear in w_out, so the features are the R of a
    network with n_out = n_hidden and w_out = identity.
    """
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.08, (train.n_channels, n_hidden))
    w_rec = rng.normal(0.0, 0.05, (n_hidden, n_hidden)).astype(np.float32)
    eye = default_network(n_hidden=n_hidden, n_out=n_hidden, n_in=train.n_channels,
                        n_steps=train.n_steps, dt=train.dt_ms)

    def features(mu: float, data: BinnedSplit) -> tuple[np.ndarray, np.ndarray]:
        w = Weights((mu + base).astype(np.float32), w_rec, np.eye(n_hidden, dtype=np.float32))
        return infer(eye, w, data.steps, data.channels, data.offsets)

    probe = train.subset(np.arange(min(16, len(train))))
    lo, hi = -0.1, 0.2
    for _ in range(12):
        mu = 0.5 * (lo + hi)
        lo, hi = (lo, mu) if features(mu, probe)[1].mean() > target_rate else (mu, hi)
    feats, _ = features(mu, train)
    targets = np.eye(n_out)[train.labels] - 1.0 / n_out
    gram = feats.T @ feats + ridge * len(feats) * np.mean(feats**2) * np.eye(n_hidden)
    w_out = np.linalg.solve(gram, feats.T @ targets).astype(np.float32)
    config = replace(eye, n_out=n_out)
    return config, Weights((mu + base).astype(np.float32), w_rec, w_out)


def summary_json(results: dict[str, dict[str, Agreement]]) -> str:
    """The result of crosscheck as an indented JSON string."""
    return json.dumps({m: {d: a.to_dict() for d, a in by_dtype.items()}
                       for m, by_dtype in results.items()}, indent=2)
