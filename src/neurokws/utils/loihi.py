"""Loihi 2 and NetX facts that more than one layer uses (their one home): the 12-bit decay
unit and the decays' ranges, the threshold mantissa field, the delay limit and its bits,
and the names of the delay datasets in a NetX file."""

from __future__ import annotations

import numpy as np

from neurokws.utils.errors import ModelFormatError

# Decays are 12-bit fractions of DECAY_ONE: u <- u (4096 - iDecay) / 4096 (Lava's LIF
# bit-accurate model, lava.proc.lif.models; docs/fixedpoint.md).
DECAY_SHIFT = 12
DECAY_ONE = 1 << DECAY_SHIFT
# iDecay >= 1: Lava's LIF decays the current by du + 1 (its ds_offset is 1) and netx passes
# du = iDecay - 1, so iDecay = 0 has no Lava equivalent; vDecay is used as is (offset 0).
I_DECAY_RANGE = (1, DECAY_ONE)
V_DECAY_RANGE = (0, DECAY_ONE)
MAX_VTH_MANT = (1 << 17) - 1   # the threshold mantissa field (2^17 overflows)

# Synaptic delays of 0..62 steps: Loihi 2's range, which lava-dl's netx and
# genn-team/ml_genn_netx clip to (Meszaros et al., arXiv 2510.13757); 6 bits each.
LOIHI_MAX_DELAY = 62
LOIHI_DELAY_BITS = LOIHI_MAX_DELAY.bit_length()
# QuantizedModel / Delays name -> the hidden layer's NetX dataset (ml_genn_netx's names)
NETX_DELAY_KEYS = {"d_in": "delay", "d_rec": "delay_rec"}


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
