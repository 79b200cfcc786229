"""The paper's Lava readout: class = argmax_c sum_i exp(-i/T) v_c[i] over a sample's T steps.

Shared by the emulator and the Lava runner so equal voltages give equal predictions.
Pure numpy (imported inside .venv-lava too).
"""

from __future__ import annotations

import numpy as np


def readout_weights(n_steps: int) -> np.ndarray:
    """exp(-i / T) for i = 0 .. T-1 (float64), as the paper's evaluate_lava."""
    return np.exp(-np.arange(n_steps) / n_steps)


def readout_scores(out_v: np.ndarray) -> np.ndarray:
    """Per-sample class scores from output voltages of shape (samples, T, classes)."""
    out_v = np.asarray(out_v)
    weights = readout_weights(out_v.shape[1])
    return np.sum(out_v * weights[np.newaxis, :, np.newaxis], axis=1)


def predict(out_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class int64 (samples,), scores float64 (samples, classes))."""
    scores = readout_scores(out_v)
    return np.argmax(scores, axis=1).astype(np.int64), scores
