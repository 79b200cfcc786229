"""netx + Lava Dense weight handling, reproduced in numpy so the emulator sees Lava's integers.

What happens to a weight matrix read from a NetX file on its way into Lava's fixed-point
Dense (lava-dl 0.6.0 ``netx.utils.optimize_weight_bits``, lava-nc 0.10.0 ``PyDenseModelBitAcc``
and ``lava.utils.weightutils``):

1. netx picks a sign mode (mixed / excitatory / inhibitory; its own rules), a left shift
   ``scale_bits`` that fills the 8-bit synapse, ``num_weight_bits`` from the smallest power of
   two dividing all weights, and ``weight_exp = -scale_bits``; weights become ``w << scale_bits``.
   A dense_rec layer optimises ``[W_ff, W_rec]`` jointly (one exponent, one bit width).
   Weights beyond [-256, 254] of a mixed matrix are clipped to [-256, 254] first.
2. Each Lava Dense then decides its own sign mode from its own (shifted) matrix (netx does
   not pass netx's), clips to [-256, 255] (mixed), [0, 255] (excitatory) or [-255, 0]
   (inhibitory) and truncates the ``8 - num_weight_bits + mixed`` low bits (of |w| when
   inhibitory).
3. Per step the Dense sums the weights of the active inputs (``W s`` for graded input) and
   shifts the sum right by ``-weight_exp`` (arithmetic, floor) or left by ``weight_exp``.

numpy's shift semantics are part of Lava's behaviour: a shift by a negative count or by
>= the bit width gives 0 (or -1), which is how out-of-range single-signed matrices end up
silently zeroed. We therefore use the same numpy operations on the same dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIXED, EXCITATORY, INHIBITORY = "mixed", "excitatory", "inhibitory"


@dataclass(frozen=True)
class NetxWeights:
    """One optimised matrix as netx hands it to Lava: int weights, bit width and exponent."""

    weights: np.ndarray
    num_weight_bits: int
    weight_exp: int
    netx_sign_mode: str


def netx_optimize(weight: np.ndarray) -> NetxWeights:
    """netx's bit-width optimisation of an integer matrix (rules in the module docstring)."""
    weight = np.asarray(weight)
    w_max, w_min = np.max(weight), np.min(weight)
    if w_max > 254 and w_min < 0:
        weight = np.clip(weight, -256, 254)
        w_max = np.max(weight)
    if w_min < -256 and w_max > 0:   # netx tests the pre-clip minimum here
        weight = np.clip(weight, -256, 254)
        w_min = np.min(weight)
    if w_max < 0:
        mode, signed = INHIBITORY, 0
    elif w_min >= 0:
        mode, signed = EXCITATORY, 0
    else:
        mode, signed = MIXED, 1
    with np.errstate(divide="ignore"):
        if mode == MIXED:
            scale = np.min([127 / w_max, -128 / w_min])
        elif mode == INHIBITORY:
            scale = -256 / w_min
        else:
            scale = 255 / w_max
        scale_bits = np.floor(np.log2(scale)) + signed
    if not np.isfinite(scale_bits):
        raise ValueError("netx cannot optimise an all-zero weight matrix (log2 of inf scale)")
    n = 8
    while n > 0 and np.sum(np.abs(weight / 2**n - np.round(weight / 2**n))) != 0:
        n -= 1
    n -= signed
    shifted = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return NetxWeights(weights=shifted.astype(int), num_weight_bits=int(8 - scale_bits - n),
                       weight_exp=int(-scale_bits), netx_sign_mode=mode)


def lava_sign_mode(weights: np.ndarray) -> str:
    """Lava Dense's own sign mode of a matrix (min >= 0 excitatory, max <= 0 inhibitory)."""
    if np.min(weights) >= 0:
        return EXCITATORY
    if np.max(weights) <= 0:
        return INHIBITORY
    return MIXED


def lava_dense_weights(weights: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """The int32 weights a fixed-point Lava Dense really uses: clip to 8 bits, truncate."""
    mode = lava_sign_mode(weights)
    mixed = int(mode == MIXED)
    w = np.asarray(weights).astype(np.int32)
    if mode == INHIBITORY:          # Lava clips and truncates |w| of an inhibitory matrix
        w = -w
    w = np.clip(w, -(2**8) * mixed, 2**8 - 1).astype(np.int32)
    cut = 8 - num_weight_bits + mixed
    w = (w >> cut) << cut
    if mode == INHIBITORY:
        w = -w
    return w.astype(np.int32)


@dataclass(frozen=True)
class SynapseWeights:
    """Effective int32 weights (targets, sources) of one Lava Dense plus its output shift."""

    weights: np.ndarray
    weight_exp: int
    num_weight_bits: int
    sign_mode: str


def dense_layer(weight: np.ndarray) -> SynapseWeights:
    """netx 'dense' layer: optimise alone, then Lava Dense clipping/truncation."""
    opt = netx_optimize(weight)
    eff = lava_dense_weights(opt.weights, opt.num_weight_bits)
    return SynapseWeights(eff, opt.weight_exp, opt.num_weight_bits, lava_sign_mode(opt.weights))


def dense_rec_layer(weight: np.ndarray, weight_rec: np.ndarray
                    ) -> tuple[SynapseWeights, SynapseWeights]:
    """netx 'dense_rec' layer: optimise [W_ff, W_rec] jointly, then one Lava Dense each."""
    weight, weight_rec = np.asarray(weight), np.asarray(weight_rec)
    opt = netx_optimize(np.hstack((weight, weight_rec)))
    n_ff = weight.shape[1]
    parts = (opt.weights[:, :n_ff], opt.weights[:, n_ff:])
    return tuple(  # type: ignore[return-value]
        SynapseWeights(lava_dense_weights(p, opt.num_weight_bits), opt.weight_exp,
                       opt.num_weight_bits, lava_sign_mode(p)) for p in parts)
