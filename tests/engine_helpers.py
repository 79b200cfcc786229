"""Helpers for the engine tests: small random networks and inputs in the engine's format."""

from __future__ import annotations

import numpy as np

from neurokws.model.network import NetworkConfig, Weights


def raster_events(rng: np.random.Generator, n_samples: int, n_in: int, n_steps: int,
                  p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bernoulli(p) spike per (step, channel): flat steps, channels, offsets."""
    steps, channels, offsets = [], [], [0]
    for _ in range(n_samples):
        k, c = np.nonzero(rng.random((n_steps, n_in)) < p)
        steps.append(k)
        channels.append(c)
        offsets.append(offsets[-1] + k.size)
    return (np.concatenate(steps).astype(np.int32), np.concatenate(channels).astype(np.int32),
            np.asarray(offsets, dtype=np.int64))


def poisson_times(rng: np.random.Generator, n_samples: int, n_in: int, duration_ms: float,
                  rate_hz: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Continuous-time Poisson input: per sample (times in ms, channels)."""
    out = []
    for _ in range(n_samples):
        n = rng.poisson(rate_hz * duration_ms / 1000.0 * n_in)
        out.append((rng.uniform(0.0, duration_ms, n), rng.integers(0, n_in, n)))
    return out


def bin_times(times: list[tuple[np.ndarray, np.ndarray]],
              dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin continuous-time events onto a dt grid (duplicates in a bin collapse)."""
    steps, channels, offsets = [], [], [0]
    for t, c in times:
        key = np.unique(np.floor(t / dt).astype(np.int64) * 100_000 + c)
        steps.append(key // 100_000)
        channels.append(key % 100_000)
        offsets.append(offsets[-1] + key.size)
    return (np.concatenate(steps).astype(np.int32), np.concatenate(channels).astype(np.int32),
            np.asarray(offsets, dtype=np.int64))


def random_weights(rng: np.random.Generator, config: NetworkConfig, in_mean: float,
                   in_sd: float, rec_sd: float, out_sd: float, dtype=np.float64) -> Weights:
    """Gaussian weights with the given scales, in the (pre, post) layout."""
    return Weights(rng.normal(in_mean, in_sd, (config.n_in, config.n_hidden)).astype(dtype),
                   rng.normal(0.0, rec_sd, (config.n_hidden, config.n_hidden)).astype(dtype),
                   rng.normal(0.0, out_sd, (config.n_hidden, config.n_out)).astype(dtype))


def cross_entropy(readout: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of readouts (B, C) against labels (B,)."""
    z = readout - readout.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(labels.size), labels].mean())


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Max-abs difference relative to the max-abs of the reference b."""
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a)))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays (flattened)."""
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))
