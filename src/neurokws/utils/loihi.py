"""Loihi 2 hardware limits that more than one layer checks against (their one home)."""

from __future__ import annotations

import numpy as np

from neurokws.utils.errors import ModelFormatError

# Synaptic delays of 0..62 steps: Loihi 2's range, which lava-dl's netx and
# genn-team/ml_genn_netx clip to (Meszaros et al., arXiv 2510.13757; issue 14).
LOIHI_MAX_DELAY = 62


def check_delay_steps(array: np.ndarray, shape: tuple[int, int], where: str) -> None:
    """Delays must be whole steps in [0, LOIHI_MAX_DELAY] of `shape` (their weight matrix's,
    targets x sources); else a ModelFormatError starting with `where` (file and dataset).
    Nothing is clipped. Both NetX readers use it (deploy.netx, fixedpoint.netx_file)."""
    if array.shape != shape:
        raise ModelFormatError(f"{where} has shape {array.shape}, expected {shape} (targets, "
                               "sources, as its weight matrix); re-export the model.")
    if array.dtype.kind not in "iuf" or not np.array_equal(array, np.rint(array)):
        raise ModelFormatError(f"{where} must hold whole steps (finite integers), got "
                               f"{array.dtype}; round the trained delays "
                               "(neurokws.train.delays) and re-export.")
    if array.size and array.min() < 0:
        raise ModelFormatError(f"{where} has negative delays (min {array.min():g}); delays "
                               "are 0 or more steps - re-export the model.")
    if array.size and array.max() > LOIHI_MAX_DELAY:
        raise ModelFormatError(f"{where} has delays up to {array.max():g} steps, above "
                               f"Loihi 2's maximum {LOIHI_MAX_DELAY}; retrain with a "
                               "model.delays maximum of at most 62 (nothing was clipped).")
