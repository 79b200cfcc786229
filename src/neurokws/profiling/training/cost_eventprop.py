"""Training-cost child: Eventprop batches of our engine (loss_and_grad + Adam) at one T.

Run by `neurokws.profiling.training.training_cost` through `neurokws.utils.sidecar.run_module(None,
"neurokws.profiling.training.cost_eventprop", request)` (request: `training_cost.child_request`).
Random SHD-like input (cost_common.random_events), paper initialisation with w_in scaled so
hidden neurons fire about `rate` spikes per sample (as the regulariser keeps them in the
paper), the paper's regulariser on. Each timed batch = forward + Eventprop backward + Adam
update, exactly what the training loop does per batch (no augmentation, no binning).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numba
import numpy as np

import neurokws
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.network import NetworkConfig
from neurokws.model.workload import scale_to_rate
from neurokws.profiling.training import cost_common as cc
from neurokws.train.optimizer import Adam


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> dict[str, Any]:
    """Measure one trial length; the result record (cost_common.result)."""
    args = SimpleNamespace(**request)
    model, training = args.model, args.training
    config = NetworkConfig(n_hidden=args.hidden, n_out=args.classes, n_in=args.n_in,
                           n_steps=args.steps, dt=cc.TRIAL_MS / args.steps,
                           tau_mem=model["tau_mem_ms"], tau_syn=model["tau_syn_ms"],
                           v_th=model["v_th"], max_delay_in=0, max_delay_rec=0)
    n_samples = args.batch * (args.batches + 1)
    steps, channels, offsets = cc.random_events(args.seed, n_samples, config.n_in,
                                                config.n_steps, args.events)
    rng = np.random.default_rng(args.seed + 1)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, factor = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                                    channels, offsets, args.rate)
    reg = RegConfig(nu_upper=training["nu_upper"], lambda_upper=args.reg_lambda,
                    lambda_lower=args.reg_lambda)
    optimizer = Adam(training["adam_beta1"], training["adam_beta2"], training["adam_eps"])
    spikes: list[float] = []

    def step(b: int) -> None:
        idx = np.arange(b * args.batch, (b + 1) * args.batch, dtype=np.int64)
        res = loss_and_grad(config, weights, steps, channels, offsets, labels, idx, reg)
        optimizer.step(weights, res.grads, training["lr"])
        spikes.append(float(res.hidden_spike_counts.mean()))

    timing = cc.measure(step, args.batches)
    versions = {"numba": numba.__version__, "numpy": np.__version__,
                "neurokws": neurokws.__version__}
    return cc.result("eventprop", args, timing, versions, threads=numba.get_num_threads(),
                     w_in_scale=factor, hidden_spikes_per_neuron=float(np.mean(spikes)))
