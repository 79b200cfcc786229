"""Training-cost child: Eventprop batches of our engine (loss_and_grad + Adam) at one T.

    python -m neurokws.reports.cost_eventprop --steps 1000 --hidden 256 --batches 3

Random SHD-like input (cost_common.random_events), paper initialisation with w_in scaled so
hidden neurons fire about --rate spikes per sample (as the regulariser keeps them in the
paper), the paper's regulariser on. Each timed batch = forward + Eventprop backward + Adam
update, exactly what the training loop does per batch (no augmentation, no binning).
"""

from __future__ import annotations

import numba
import numpy as np

import neurokws
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.network import NetworkConfig
from neurokws.model.synthetic import scale_to_rate
from neurokws.reports import cost_common as cc
from neurokws.train.optimizer import Adam


def main(argv: list[str] | None = None) -> None:
    """Measure one trial length and print the result line."""
    args = cc.parser(__doc__.splitlines()[0]).parse_args(argv)
    config = NetworkConfig(n_hidden=args.hidden, n_out=args.classes, n_steps=args.steps,
                           dt=cc.TRIAL_MS / args.steps)
    n_samples = args.batch * (args.batches + 1)
    steps, channels, offsets = cc.random_events(args.seed, n_samples, config.n_in,
                                                config.n_steps, args.events)
    rng = np.random.default_rng(args.seed + 1)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, factor = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                                    channels, offsets, args.rate)
    reg = RegConfig(lambda_upper=2.5e-10, lambda_lower=2.5e-10)
    optimizer = Adam()
    spikes: list[float] = []

    def step(b: int) -> None:
        idx = np.arange(b * args.batch, (b + 1) * args.batch, dtype=np.int64)
        res = loss_and_grad(config, weights, steps, channels, offsets, labels, idx, reg)
        optimizer.step(weights, res.grads, 1e-3)
        spikes.append(float(res.hidden_spike_counts.mean()))

    timing = cc.measure(step, args.batches)
    versions = {"numba": numba.__version__, "numpy": np.__version__,
                "neurokws": neurokws.__version__}
    cc.emit(cc.result("eventprop", args, timing, versions,
                      threads=numba.get_num_threads(), w_in_scale=factor,
                      hidden_spikes_per_neuron=float(np.mean(spikes))))


if __name__ == "__main__":
    main()
