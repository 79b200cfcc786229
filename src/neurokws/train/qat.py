"""Quantization-aware training: the forward pass runs the network Loihi 2 will run.

Every batch, the float ("shadow") weights W are quantized by the deployment's own code
(`neurokws.deploy.quantize.quantize`: fold factor c, per-layer power-of-two scale s from the
percentile, half-even rounding, clipping to the bit width) and the engine runs the model
those integers define:

* weights  W_q = q s / k_q   (q the integers, s the layer's scale),
* decays   alpha_q = 1 - vDecay / 4096,  beta_q = 1 - iDecay / 4096  (Loihi's 12-bit decays),
* threshold V_th,q = vThMant s_hidden,

where k_q = (1 - alpha_q) c_I,q is the input factor of the engine's V update with those
decays (NetworkConfig with tau = -dt / ln(decay); docs/model.md). With these, the engine's
x and V are Lava's u and v times s / k_q and s (deploy/quantize.py's fold argument run
backwards): the forward pass is the deployed network up to the documented float/fixed
differences (docs/fixedpoint.md: Lava truncates each decay product toward zero, keeps u
and v in 24 bits, spikes on v > vth rather than V >= V_th). Deployment quantizes the
returned shadow weights with the same call, so it gets the integers this forward pass used.

Backward: the engine's exact Eventprop gradient with respect to W_q, passed straight through
the rounding and clipping (Bengio et al. 2013, arXiv 1308.3432; the "straight-through
estimator" of Hubara et al. 2016, arXiv 1609.07061): dL/dW = dL/dW_q dW_q/dW with
round(.) and clip(.) replaced by the identity, i.e. W_q = W c / k_q and
dL/dW = (c / k_q) dL/dW_q, the same factor for every matrix. The scales and the threshold
are piecewise constant in W (they move only when a percentile crosses a power of two) and
pass no gradient. The float shadow weights are what Adam updates, as in mlGeNN's
weight-quantization branch (genn-team/ml_genn PR #88: full-precision weights re-quantized
every batch).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from neurokws.config import QuantTraining
from neurokws.deploy.quantize import (
    QuantizedModel,
    int_range,
    quantize,
    weight_fold_factor,
)
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.utils.loihi import DECAY_ONE

__all__ = ["QatForward", "QuantTraining", "clamp_shadow", "deployed_forward", "fake_quantize",
           "fix_scale", "quanta", "quantized_dynamics"]


@dataclass(frozen=True)
class QatForward:
    """What one QAT batch runs: the integers' model and the straight-through factor."""

    config: NetworkConfig    # 12-bit decays (as taus) and the quantized threshold
    weights: Weights         # W_q = q s / k_q, float32, (pre, post)
    grad_scale: float        # dL/dW = grad_scale dL/dW_q  (c / k_q)
    quantized: QuantizedModel

    def shadow_grads(self, grads: Weights) -> Weights:
        """The straight-through gradient of the shadow weights from the engine's dL/dW_q."""
        scale = np.float32(self.grad_scale)
        return Weights(*(np.asarray(g) * scale for g in grads.arrays().values()))


def _tau(decay_mantissa: int, dt: float, what: str) -> float:
    """The time constant whose per-step decay exp(-dt / tau) is 1 - mantissa / 4096."""
    if not 0 < decay_mantissa < DECAY_ONE:
        raise ValueError(f"{what} decay {decay_mantissa}/4096 has no time constant "
                         "(it must lie strictly between 0 and 4096)")
    return -dt / math.log1p(-decay_mantissa / DECAY_ONE)


def quantized_dynamics(config: NetworkConfig, qmodel: QuantizedModel) -> NetworkConfig:
    """`config` with Loihi's 12-bit decays (as time constants) and the quantized hidden
    threshold vThMant s_hidden; sizes and delays unchanged."""
    return dataclasses.replace(
        config, tau_mem=_tau(qmodel.v_decay, config.dt, "vDecay (membrane)"),
        tau_syn=_tau(qmodel.i_decay, config.dt, "iDecay (synaptic)"),
        v_th=math.ldexp(qmodel.v_th_mant, qmodel.hidden_exponent))


def deployed_forward(config: NetworkConfig, qmodel: QuantizedModel
                     ) -> tuple[NetworkConfig, Weights, float]:
    """The float engine's model of a quantized network (module docstring): its config
    (12-bit decays, quantized threshold), weights W_q = q s / k_q and the straight-through
    factor c / k_q. Also the "float model with quantized weights" of a deployment."""
    if qmodel.hidden_scale is None or qmodel.output_scale is None or not qmodel.weight_fold:
        raise ValueError("the float model of a quantized network needs its scales and fold "
                         "factor, which this model does not record; re-export it with neurokws")
    q_config = quantized_dynamics(config, qmodel)
    k_q = (1.0 - q_config.alpha) * q_config.current_scale
    scales = (qmodel.hidden_scale, qmodel.hidden_scale, qmodel.output_scale)
    w_q = Weights(*(np.ascontiguousarray(a.T * (s / k_q), dtype=np.float32)
                    for a, s in zip(qmodel.arrays().values(), scales, strict=True)))
    return q_config, w_q, qmodel.weight_fold / k_q


def fake_quantize(config: NetworkConfig, weights: Weights, spec: QuantTraining,
                  delays: Delays | None = None) -> QatForward:
    """The forward model of one QAT batch from the shadow `weights` (module docstring); a
    model with delays passes its integer `delays` (carried over, as in deployment). With
    `spec.exponents` the scales are those, else re-derived from the weights' percentile."""
    qmodel = quantize(config, weights, bits=spec.bits, percentile=spec.percentile,
                      source="QAT shadow weights", delays=delays, exponents=spec.exponents)
    return QatForward(*deployed_forward(config, qmodel), quantized=qmodel)


def fix_scale(config: NetworkConfig, spec: QuantTraining, start: Weights,
              delays: Delays | None = None) -> QuantTraining:
    """`spec` with the scales held fixed at those of the post-training quantization of the
    `start` weights (docs/quantization.md#fine-tuning): fine-tuning then begins at exactly
    PTQ's integers, and no batch's percentile can flip a scale by a power of two (which
    halves or doubles every integer of the layer at once)."""
    qmodel = quantize(config, start, bits=spec.bits, percentile=spec.percentile,
                      source="QAT starting weights", delays=delays)
    return dataclasses.replace(spec, exponents=(qmodel.hidden_exponent,
                                                qmodel.output_exponent))


def quanta(config: NetworkConfig, spec: QuantTraining) -> dict[str, float]:
    """The weight step of each matrix in shadow-weight units, 2^e / c (c the fold factor:
    W c / 2^e is rounded to the integer), for fixed scales."""
    if spec.exponents is None:
        raise ValueError("weight quanta need fixed scales (QuantTraining.exponents)")
    fold = weight_fold_factor(config)
    hidden, output = (math.ldexp(1.0, e) / fold for e in spec.exponents)
    return {"w_in": hidden, "w_rec": hidden, "w_out": output}


def clamp_shadow(weights: Weights, config: NetworkConfig, spec: QuantTraining) -> None:
    """Hold each shadow weight within half a step of the integer range (in place): beyond
    it the straight-through gradient would push a clipped weight on without changing its
    integer, and the weight could not come back within a few steps."""
    lo, hi = int_range(spec.bits)
    for name, step in quanta(config, spec).items():
        w = getattr(weights, name)
        np.clip(w, np.float32((lo - 0.5) * step), np.float32((hi + 0.5) * step), out=w)
