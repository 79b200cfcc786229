"""NeuroBench-style cost metrics of a deployed model (neurokws.deploy.metrics), against
hand counts."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.deploy.metrics import static_metrics, workload_metrics
from neurokws.deploy.quantize import quantize
from neurokws.model.init import init_weights


@pytest.fixture
def qmodel():
    net = default_network(n_hidden=5, n_out=3, n_in=7, n_steps=10)
    return quantize(net, init_weights(net, np.random.default_rng(2)), bits=4, percentile=99.0)


def test_footprint_counts_weights_at_their_bit_width_and_zeros_for_sparsity(qmodel):
    got = static_metrics(qmodel)
    n = 7 * 5 + 5 * 5 + 5 * 3
    zeros = sum(int((a == 0).sum()) for a in (qmodel.w_in, qmodel.w_rec, qmodel.w_out))
    assert got["parameters"] == n and got["weight_bits"] == 4 and got["delay_bits"] == 0
    assert got["footprint_bytes"] == math.ceil(4 * n / 8)
    assert got["footprint_float32_bytes"] == 4 * n
    assert got["connection_sparsity"] == pytest.approx(zeros / n)
    assert 0 < zeros < n   # 4 bits zero the small weights, not all of them


def test_delays_add_their_bits_per_synapse_of_a_delayed_connection(qmodel):
    # recurrent delays up to 5 steps (3 bits per synapse), none on the input connection
    net = dataclasses.replace(qmodel.config, max_delay_rec=5)
    delayed = dataclasses.replace(qmodel, config=net, d_in=np.zeros((5, 7), np.int32),
                                  d_rec=np.zeros((5, 5), np.int32))
    got = static_metrics(delayed)
    assert got["footprint_bytes"] == math.ceil((4 * got["parameters"] + 3 * 25) / 8)


def test_workload_metrics_from_the_emulators_activity(qmodel):
    activity = {"hidden_spikes": 6.0, "output_spikes": 2.0, "effective_synaptic_ops": 31.0}
    got = workload_metrics(activity, qmodel)
    assert got["activation_sparsity"] == pytest.approx(1 - 8 / ((5 + 3) * 10))
    assert got["effective_synaptic_ops"] == 31.0
    assert got["dense_synaptic_ops"] == (7 * 5 + 5 * 5 + 5 * 3) * 10
