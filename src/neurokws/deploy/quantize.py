"""Post-training quantization of the float network to Loihi 2 integers (docs/quantization.md).

Steps, as in the paper's converter (genn-team/ml_genn_netx, ``_find_signed_scale``):

1. Fold c = (1 - exp(-dt/tau_mem)) (tau_syn/dt) (1 - exp(-dt/tau_syn)) into every weight:
   Lava's CUBA neuron adds its input to u and u to v without GeNN's current scale c_I and
   (1 - alpha) factor.
2. One scale per layer: the hidden layer pools w_in and w_rec, the output layer has w_out.
   m = max(p-th percentile of the positive weights, p-th percentile of |negative weights|),
   numpy's default (linear) interpolation; exact zeros belong to neither set (ml_genn puts
   them among the negatives: identical for trained float weights, which have no exact zeros).
   A single-signed layer uses the one set it has; a layer without non-zero weights is an error.
3. h = floor(log2 m); scale s = 2^(h - (bits - 2)).
4. Integer = clip(round_half_even(w / s), -2^(bits-1), 2^(bits-1) - 1).

General bit widths: s = 2^(h - (bits - 2)) maps m into [2^(bits-2), 2^(bits-1)) integer
units, the top octave of the signed range [-2^(bits-1), 2^(bits-1) - 1], so only the tail
beyond the percentile can clip. bits=8: s = 2^(h-6), range [-128, 127] (the paper's case);
bits=6: s = 2^(h-4), range [-32, 31]; bits=4: s = 2^(h-2), range [-8, 7].

Neuron constants: hidden vThMant = round(V_th / s_hidden); 12-bit decays
iDecay = round(4096 (1 - exp(-dt/tau_syn))), vDecay = round(4096 (1 - exp(-dt/tau_mem)));
output vThMant = 2^16: the readout's neurons are meant never to spike, but v saturates at
2^23 - 1 > 2^22 = 2^16 << 6, so a strongly driven output neuron can still reach it; the
fixed-point stage counts such spikes and warns (docs/fixedpoint.md#output-threshold).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.utils.errors import ModelFormatError
from neurokws.utils.loihi import DECAY_ONE

OUTPUT_VTH_MANT = 1 << 16     # output threshold, meant unreachable (2^17 overflows the field)
MIN_BITS, MAX_BITS = 2, 16


def weight_fold_factor(config: NetworkConfig) -> float:
    """c = (1 - alpha) c_I: the factor Lava's CUBA neuron lacks relative to the float model."""
    return (1.0 - config.alpha) * config.current_scale


def decay_mantissa(tau: float, dt: float) -> int:
    """12-bit Loihi decay round(4096 (1 - exp(-dt / tau))) (742 for tau_syn 5, 200 for 20)."""
    return round(DECAY_ONE * (1.0 - math.exp(-dt / tau)))


def int_range(bits: int) -> tuple[int, int]:
    """Signed integer range [-2^(bits-1), 2^(bits-1) - 1] of a `bits`-bit weight."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def percentile_magnitude(values: np.ndarray, percentile: float) -> float | None:
    """max(percentile of positives, percentile of |negatives|); None if all values are zero."""
    values = np.asarray(values, dtype=np.float64).ravel()
    candidates = [float(np.percentile(part, percentile))
                  for part in (values[values > 0], -values[values < 0]) if part.size]
    return max(candidates) if candidates else None


def scale_exponent(values: np.ndarray, bits: int, percentile: float, what: str) -> int:
    """Exponent e of the power-of-two scale s = 2^e = 2^(floor(log2 m) - (bits - 2))."""
    m = percentile_magnitude(values, percentile)
    if m is None:
        raise ModelFormatError(
            f"{what} has no non-zero weights, so no quantization scale can be derived; the "
            "model is untrained or corrupt - retrain or pick another checkpoint.")
    _, exponent = np.frexp(m)   # m = f 2^exponent with f in [0.5, 1): floor(log2 m) = exponent-1
    return int(exponent) - 1 - (bits - 2)


def quantize_matrix(scaled: np.ndarray, exponent: int, bits: int) -> tuple[np.ndarray, float]:
    """Round half-even w / 2^exponent, clip to the bits range; return (int32, clipped share)."""
    q = np.rint(np.ldexp(np.asarray(scaled, dtype=np.float64), -exponent))
    lo, hi = int_range(bits)
    clipped = float(np.count_nonzero((q < lo) | (q > hi))) / q.size if q.size else 0.0
    return np.clip(q, lo, hi).astype(np.int32), clipped


@dataclass(frozen=True, eq=False)
class QuantizedModel:
    """Integer weights in NetX layout (targets, sources) plus neuron constants and their origin."""

    config: NetworkConfig
    w_in: np.ndarray            # (n_hidden, n_in) int32
    w_rec: np.ndarray           # (n_hidden, n_hidden) int32
    w_out: np.ndarray           # (n_out, n_hidden) int32
    v_th_mant: int
    i_decay: int
    v_decay: int
    out_v_th_mant: int = OUTPUT_VTH_MANT
    bits: int = 8
    percentile: float | None = None
    hidden_exponent: int | None = None   # s_hidden = 2^hidden_exponent (None: unknown)
    output_exponent: int | None = None
    weight_fold: float | None = None     # c folded into the weights before scaling
    clipped_fraction: dict[str, float] = field(default_factory=dict)
    d_in: np.ndarray | None = None       # (n_hidden, n_in) int32 delays (steps), if any
    d_rec: np.ndarray | None = None      # (n_hidden, n_hidden) int32

    NAMES = ("w_in", "w_rec", "w_out")
    DELAY_NAMES = ("d_in", "d_rec")

    @property
    def has_delays(self) -> bool:
        return self.d_in is not None

    def delay_arrays(self) -> dict[str, np.ndarray]:
        """The integer delays in NetX layout (targets, sources); {} without delays."""
        return {} if self.d_in is None else {k: getattr(self, k) for k in self.DELAY_NAMES}

    def delays_pre_post(self) -> Delays | None:
        """The delays in our (pre, post) layout, for the float engine."""
        if self.d_in is None:
            return None
        return Delays(*(np.ascontiguousarray(a.T, dtype=np.int32)
                        for a in self.delay_arrays().values()))

    @property
    def delay_bits(self) -> int:
        """Bits per delay (NetworkConfig.delay_bits: 6 for 0..62 steps; 0 without)."""
        return self.config.delay_bits

    @property
    def hidden_scale(self) -> float | None:
        """s_hidden as a float (2^hidden_exponent)."""
        return None if self.hidden_exponent is None else math.ldexp(1.0, self.hidden_exponent)

    @property
    def output_scale(self) -> float | None:
        """s_output as a float (2^output_exponent)."""
        return None if self.output_exponent is None else math.ldexp(1.0, self.output_exponent)

    def arrays(self) -> dict[str, np.ndarray]:
        """The integer matrices in NetX layout (targets, sources)."""
        return {name: getattr(self, name) for name in self.NAMES}

    def to_pre_post(self) -> Weights:
        """The integer weights as float32 in our (pre, post) layout."""
        return Weights(*(np.ascontiguousarray(a.T, dtype=np.float32)
                         for a in self.arrays().values()))

    def dequantize(self) -> Weights:
        """Float weights in the float model's units (int * s / c), for the float engine."""
        if self.hidden_scale is None or self.output_scale is None or not self.weight_fold:
            raise ModelFormatError("dequantize() needs the scales and fold factor, which this "
                                   "NetX file does not record; re-export it with neurokws.")
        scales = (self.hidden_scale, self.hidden_scale, self.output_scale)
        return Weights(*(np.ascontiguousarray(a.T * (s / self.weight_fold), dtype=np.float32)
                         for a, s in zip(self.arrays().values(), scales, strict=True)))

    def same_integers(self, other: QuantizedModel) -> bool:
        """True if weights and neuron constants are identical (what Lava would run)."""
        constants = ("v_th_mant", "i_decay", "v_decay", "out_v_th_mant")
        mine, theirs = self.delay_arrays(), other.delay_arrays()
        return (all(getattr(self, k) == getattr(other, k) for k in constants)
                and all(np.array_equal(a, b) for a, b in
                        zip(self.arrays().values(), other.arrays().values(), strict=True))
                and mine.keys() == theirs.keys()
                and all(np.array_equal(mine[k], theirs[k]) for k in mine))

    def summary(self) -> dict[str, Any]:
        """JSON-ready record of how the integers were made (no arrays)."""
        return {"bits": self.bits, "percentile": self.percentile,
                "hidden_exponent": self.hidden_exponent, "hidden_scale": self.hidden_scale,
                "output_exponent": self.output_exponent, "output_scale": self.output_scale,
                "weight_fold": self.weight_fold, "clipped_fraction": dict(self.clipped_fraction),
                "v_th_mant": self.v_th_mant, "out_v_th_mant": self.out_v_th_mant,
                "i_decay": self.i_decay, "v_decay": self.v_decay,
                "max_delay": (None if self.d_in is None else
                              {k: int(a.max(initial=0)) for k, a in
                               self.delay_arrays().items()}),
                "network_config": self.config.to_dict()}


def trained_exponents(provenance: dict, bits: int, percentile: float, source: str
                      ) -> tuple[int, int] | None:
    """The scales a QAT model was fine-tuned at (its provenance's `qat`), to deploy it with
    exactly the integers its training ran; None for a float model or QAT from scratch.
    A QAT model quantized at another bit width or percentile than it was trained for is
    refused (ModelFormatError naming the file). Reads the record of config.QuantTraining's
    to_dict() as plain data: this module runs in the side environments too (no config)."""
    qat = provenance.get("qat")
    if not qat:
        return None
    if int(qat["bits"]) != bits or float(qat["percentile"]) != percentile:
        raise ModelFormatError(
            f"{source}: trained for {qat['bits']}-bit weights at percentile "
            f"{qat['percentile']}, asked to quantize at {bits} bits, percentile {percentile}: "
            "quantize the float model instead, or retrain QAT at this bit width")
    exponents = qat.get("exponents")
    return None if exponents is None else (int(exponents[0]), int(exponents[1]))


def quantize(config: NetworkConfig, weights: Weights, *, bits: int, percentile: float,
             source: str | os.PathLike = "weights",
             delays: Delays | None = None,
             exponents: tuple[int, int] | None = None) -> QuantizedModel:
    """Quantize float weights (docs/quantization.md): `bits`-bit integers, scales from the
    `percentile`-th percentile (config `deploy`); `source` names the weights in errors.
    A model with synaptic delays passes its integer `delays` (already whole steps: they
    are carried over unchanged, in NetX layout). `exponents` (hidden, output) gives the
    scales instead of the percentile: a QAT model is deployed with the scales it was
    trained at (train/qat.py)."""
    if not MIN_BITS <= int(bits) <= MAX_BITS or int(bits) != bits:
        raise ValueError(f"bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    bits, source = int(bits), str(source)
    weights.check(config, source=source)
    if config.has_delays != (delays is not None):
        raise ModelFormatError(f"{source}: the model's max delays are {config.delay_maxima} "
                               f"but {'no' if delays is None else ''} delays were given")
    if delays is not None:
        delays.check(config, source=source, maxima=True)
    netx_delays = ({} if delays is None else
                   {k: np.ascontiguousarray(a.T, dtype=np.int32)
                    for k, a in delays.arrays().items()})
    fold = weight_fold_factor(config)
    w_in, w_rec, w_out = (np.asarray(a, dtype=np.float64).T * fold
                          for a in weights.arrays().values())
    if exponents is None:
        hidden_exp = scale_exponent(np.concatenate([w_in.ravel(), w_rec.ravel()]), bits,
                                    percentile, f"{source}: hidden layer (w_in and w_rec)")
        output_exp = scale_exponent(w_out, bits, percentile, f"{source}: output layer (w_out)")
    else:
        hidden_exp, output_exp = (int(e) for e in exponents)
    q_in, c_in = quantize_matrix(w_in, hidden_exp, bits)
    q_rec, c_rec = quantize_matrix(w_rec, hidden_exp, bits)
    q_out, c_out = quantize_matrix(w_out, output_exp, bits)
    v_th_mant = int(np.rint(math.ldexp(config.v_th, -hidden_exp)))
    if v_th_mant < 1:
        raise ModelFormatError(
            f"{source}: threshold {config.v_th} is below half a weight step "
            f"(2^{hidden_exp}); vThMant would be 0 - the hidden weights are implausibly large.")
    n_hidden = q_in.size + q_rec.size
    return QuantizedModel(
        config=config, w_in=q_in, w_rec=q_rec, w_out=q_out, v_th_mant=v_th_mant,
        i_decay=decay_mantissa(config.tau_syn, config.dt),
        v_decay=decay_mantissa(config.tau_mem, config.dt),
        bits=bits, percentile=float(percentile), hidden_exponent=hidden_exp,
        output_exponent=output_exp, weight_fold=fold,
        clipped_fraction={"w_in": c_in, "w_rec": c_rec, "w_out": c_out,
                          "hidden": (c_in * q_in.size + c_rec * q_rec.size) / n_hidden},
        **netx_delays)
