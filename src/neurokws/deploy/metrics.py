"""Standard cost metrics of a deployed model, following NeuroBench's definitions.

NeuroBench (Yik et al., "The NeuroBench framework for benchmarking neuromorphic computing
algorithms and systems", Nature Communications 16, 1545 (2025); the `neurobench` package's
`metrics/static` and `metrics/workload`) defines, and we compute from the quantized model
and the bit-exact emulator's activity counts:

* footprint: the bytes of the model's parameters. NeuroBench counts each tensor at its
  element size (float32 weights: 4 bytes each); we count the weights at the deployed bit
  width (`bits` per weight, what Loihi 2's synapse memory holds), and report the float32
  figure beside it. Neuron constants (two decays and a threshold per layer) are left out:
  a few bytes. Delays, where present, add their bit width per synapse of a connection
  with delays (NetworkConfig.delay_bits: 6 bits for Loihi 2's 0..62 steps, b bits where
  deploy.delay_bits holds them in 0..2^b - 1).
* connection sparsity: zero weights / all weights of the three matrices (after rounding:
  low-bit quantization zeroes small weights).
* activation sparsity: 1 - spikes / (neurons x timesteps) over the hidden and output
  layers, all samples.
* synaptic operations: effective ACs per sample, one per non-zero weight driven by an input
  event or a hidden spike (the emulator's `effective_synaptic_ops`); "dense" is every
  synapse at every step, (n_in N + N N + N C) T.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurokws.deploy.quantize import QuantizedModel


def static_metrics(qmodel: QuantizedModel) -> dict[str, Any]:
    """Parameters, footprint (deployed bits and float32) and connection sparsity."""
    arrays = list(qmodel.arrays().values())
    n_weights = sum(a.size for a in arrays)
    zeros = sum(int(np.count_nonzero(a == 0)) for a in arrays)
    delay_bits = sum(a.size * int(qmodel.config.delay_maxima[name]).bit_length()
                     for name, a in qmodel.delay_arrays().items())
    bits = n_weights * qmodel.bits + delay_bits
    return {"parameters": n_weights, "weight_bits": qmodel.bits,
            "delay_bits": qmodel.delay_bits,
            "footprint_bytes": math.ceil(bits / 8),
            "footprint_float32_bytes": 4 * n_weights,
            "connection_sparsity": zeros / n_weights if n_weights else float("nan")}


def workload_metrics(activity_per_sample: dict[str, float], qmodel: QuantizedModel
                     ) -> dict[str, float]:
    """Activation sparsity and effective/dense synaptic operations per sample, from the
    emulator's activity per sample (`Activity` fields, averaged over the samples)."""
    net = qmodel.config
    neurons = (net.n_hidden + net.n_out) * net.n_steps
    spikes = activity_per_sample["hidden_spikes"] + activity_per_sample["output_spikes"]
    synapses = net.n_in * net.n_hidden + net.n_hidden ** 2 + net.n_hidden * net.n_out
    return {"activation_sparsity": 1.0 - spikes / neurons,
            "effective_synaptic_ops": float(activity_per_sample["effective_synaptic_ops"]),
            "dense_synaptic_ops": float(synapses * net.n_steps)}
