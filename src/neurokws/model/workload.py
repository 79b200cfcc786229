"""Random input events in the engine's flat format, for tests and benchmarks of the engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurokws.model.engine import infer
from neurokws.model.init import init_weights
from neurokws.model.network import NetworkConfig, Weights


def random_events(rng: np.random.Generator, n_samples: int, n_in: int, n_steps: int,
                  events_per_sample: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform random (step, channel) events without duplicates: steps, channels, offsets."""
    n_cells = n_in * n_steps
    per = min(events_per_sample, n_cells)
    steps, channels = [], []
    for _ in range(n_samples):
        flat = np.sort(rng.choice(n_cells, size=per, replace=False))
        steps.append((flat // n_in).astype(np.int32))
        channels.append((flat % n_in).astype(np.int32))
    offsets = np.arange(n_samples + 1, dtype=np.int64) * per
    return np.concatenate(steps), np.concatenate(channels), offsets


def scale_to_rate(config: NetworkConfig, weights: Weights, steps: np.ndarray,
                  channels: np.ndarray, offsets: np.ndarray, target: float,
                  n_probe: int = 8, iterations: int = 12) -> tuple[Weights, float]:
    """Scale w_in (bisection on a factor) so hidden neurons fire ~target spikes per sample."""
    probe = np.arange(min(n_probe, offsets.shape[0] - 1), dtype=np.int64)

    def rate(factor: float) -> float:
        trial = Weights(weights.w_in * weights.w_in.dtype.type(factor), weights.w_rec,
                        weights.w_out)
        return float(infer(config, trial, steps, channels, offsets, probe)[1].mean())

    lo, hi = 0.0, 1.0
    while rate(hi) < target and hi < 1e3:
        lo, hi = hi, hi * 2.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rate(mid) < target else (lo, mid)
    factor = 0.5 * (lo + hi)
    scaled = Weights(weights.w_in * weights.w_in.dtype.type(factor), weights.w_rec,
                     weights.w_out)
    return scaled, factor


@dataclass(frozen=True, eq=False)
class SyntheticSetup:
    """What `synthetic_setup` draws: random input events in the engine's flat format (steps,
    channels, offsets), integer labels (None when not drawn), the paper's initial weights
    with w_in scaled to the target rate, and that scale factor."""

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray | None
    weights: Weights
    factor: float


def synthetic_setup(config: NetworkConfig, rng: np.random.Generator, n_samples: int,
                    events_per_sample: int, rate: float, *, labels: bool = True,
                    dtype: np.dtype | type = np.float32) -> SyntheticSetup:
    """Random input, labels and rate-scaled paper weights for `config`, all drawn from `rng`.

    In this order from `rng`: `n_samples` samples of `events_per_sample` random events over
    config.n_in channels and config.n_steps steps (`random_events`); if `labels`, one int32
    label per sample, uniform in [0, config.n_out); the paper's initialisation
    (`neurokws.model.init.init_weights`, in `dtype`). Then w_in is scaled so that hidden
    neurons fire about `rate` spikes per sample on these events (`scale_to_rate`; the
    factor is returned as `factor`). The same generator state gives the same arrays.
    """
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             events_per_sample)
    drawn = rng.integers(0, config.n_out, n_samples).astype(np.int32) if labels else None
    weights, factor = scale_to_rate(config, init_weights(config, rng, dtype), steps, channels,
                                    offsets, rate)
    return SyntheticSetup(steps, channels, offsets, drawn, weights, factor)
