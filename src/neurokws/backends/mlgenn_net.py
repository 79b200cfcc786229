"""The paper's network in mlGeNN's public API; our weights and binned inputs in and out of it.

Only imported once GeNN is known to be importable (see genn_env.require). Weight layout: GeNN
stores a dense synapse group's "g" pre-major, i.e. exactly our (pre, post) matrices flattened.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.data.formats.binning import BinnedSplit
from neurokws.model.network import Delays, NetworkConfig, Weights

# mlGeNN's Eventprop ring buffer, the paper's value (docs/eventprop.md#relation-to-mlgenn)
MAX_SPIKES_PER_NEURON = 1500


@dataclass
class GennNetwork:
    """An ml_genn Network of the paper's model and handles on its parts."""

    network: Any
    input: Any
    hidden: Any
    output: Any
    connections: dict[str, Any]  # Weights name -> ml_genn Connection
    delayed: dict[str, Any] = field(default_factory=dict)  # Delays name -> its Connection


# Our delay arrays and the weight matrices (Connections) they sit on.
DELAYED_WEIGHTS = {"d_in": "w_in", "d_rec": "w_rec"}


def build_network(net: NetworkConfig, weights: Weights, max_input_spikes: int,
                  record_hidden: bool = True, delays: Delays | None = None) -> GennNetwork:
    """700 -> recurrent LIF -> LI readout with exponential synapses, initialised to `weights`.

    With `delays` (a model with delays, NetworkConfig.has_delays): each connection whose
    maximum delay is > 0 gets ``Dense(w, delay=d)`` and ``max_delay_steps`` = that maximum;
    float delays (training) are rounded by mlGeNN's forward pass as by ours
    (train/delays.py), integer ones are used as they are. GeNN's ``addToPostDelay(g, d)`` has
    our timing (network.Delays).
    """
    from ml_genn import Connection, Network, Population
    from ml_genn.compilers.event_prop_compiler import default_params
    from ml_genn.connectivity import Dense
    from ml_genn.neurons import LeakyIntegrate, LeakyIntegrateFire, SpikeInput
    from ml_genn.synapses import Exponential

    weights.check(net)
    if net.has_delays != (delays is not None):
        raise ValueError(f"the model's max delays are {net.delay_maxima} but delays were "
                         f"{'not ' if delays is None else ''}given")
    w = weights.astype(np.float32)
    delay_of = {}
    if delays is not None:
        delay_of = {DELAYED_WEIGHTS[name]: (np.asarray(a, np.float32), net.delay_maxima[name])
                    for name, a in delays.arrays().items() if net.delay_maxima[name] > 0}

    def dense(name: str) -> dict:
        """Dense connectivity of weight matrix `name`, with its delays if it has any."""
        if name not in delay_of:
            return {"connectivity": Dense(getattr(w, name))}
        d, top = delay_of[name]
        return {"connectivity": Dense(getattr(w, name), delay=d.ravel()),
                "max_delay_steps": int(top)}

    network = Network(default_params)
    with network:
        inp = Population(SpikeInput(max_spikes=int(max_input_spikes)), net.n_in, name="Input")
        hidden = Population(LeakyIntegrateFire(v_thresh=net.v_th, tau_mem=net.tau_mem,
                                               tau_refrac=None),
                            net.n_hidden, name="Hidden", record_spikes=record_hidden)
        output = Population(LeakyIntegrate(tau_mem=net.tau_mem,
                                           readout="avg_var_exp_weight"),
                            net.n_out, name="Output")
        ends = {"w_in": (inp, hidden, "Conn_Input_Hidden"),
                "w_rec": (hidden, hidden, "Conn_Hidden_Hidden"),
                "w_out": (hidden, output, "Conn_Hidden_Output")}
        conns = {}
        for name, (pre, post, label) in ends.items():
            spec = dense(name)
            conns[name] = Connection(pre, post, spec.pop("connectivity"),
                                     Exponential(net.tau_syn), name=label, **spec)
    delayed = {d: conns[wname] for d, wname in DELAYED_WEIGHTS.items() if wname in delay_of}
    return GennNetwork(network, inp, hidden, output, conns, delayed)


def to_spikes(data: BinnedSplit, order: np.ndarray | None = None) -> list:
    """Samples of `data` (in `order`) as mlGeNN PreprocessedSpikes: spike at step k -> t = k dt."""
    from ml_genn.utils.data import preprocess_spikes

    order = np.arange(len(data)) if order is None else np.asarray(order)
    out = []
    for i in order:
        steps, channels = data.sample(int(i))
        out.append(preprocess_spikes(steps.astype(np.float64) * data.dt_ms,
                                     channels.astype(np.int64), data.n_channels))
    return out


def max_spikes_per_sample(data: BinnedSplit) -> int:
    """The largest number of input spikes of one sample (at least 1)."""
    return max(1, int(np.max(np.diff(data.offsets), initial=0)))


def pull_weights(compiled: Any, gnet: GennNetwork, net: NetworkConfig) -> Weights:
    """Copy the three weight matrices out of a loaded compiled network (float32, (pre, post))."""
    shapes = {"w_in": (net.n_in, net.n_hidden), "w_rec": (net.n_hidden, net.n_hidden),
              "w_out": (net.n_hidden, net.n_out)}
    arrays = {}
    for name, conn in gnet.connections.items():
        var = compiled.connection_populations[conn].vars["g"]
        var.pull_from_device()
        arrays[name] = np.array(var.view, dtype=np.float32).reshape(shapes[name])
    return Weights(**arrays)


def pull_delays(compiled: Any, gnet: GennNetwork, net: NetworkConfig) -> Delays:
    """The float delays of a network compiled with learnable delays (float32, (pre, post));
    a connection without delays reads all zeros."""
    out = Delays(np.zeros((net.n_in, net.n_hidden), np.float32),
                 np.zeros((net.n_hidden, net.n_hidden), np.float32))
    for name, conn in gnet.delayed.items():
        var = compiled.connection_populations[conn].vars["d"]
        var.pull_from_device()
        getattr(out, name)[...] = np.asarray(var.view, np.float32).reshape(
            getattr(out, name).shape)
    return out


def build_model(compiled: Any, build_dir: Path) -> None:
    """Generate and compile GeNN code under build_dir (GeNN skips an unchanged model)."""
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    compiled.genn_model.build(path_to_model=str(build_dir))


@contextmanager
def build_location(build_dir: Path | None) -> Iterator[Path]:
    """build_dir itself, or a temporary folder removed afterwards when it is None."""
    if build_dir is not None:
        yield Path(build_dir)
        return
    with tempfile.TemporaryDirectory(prefix="neurokws-genn-") as tmp:
        yield Path(tmp)


def eventprop_compiler(net: NetworkConfig, *, batch_size: int, optimiser: Any,
                       reg_lambda_upper: float, reg_lambda_lower: float, nu_upper: float,
                       seed: int, genn_backend: str, optimize_code: bool = True,
                       kernel_profiling: bool = False, delay_learn_conns: tuple = (),
                       delay_optimiser: Any = None) -> Any:
    """EventPropCompiler with the paper's settings (mlGeNN 2.3,
    docs/eventprop.md#relation-to-mlgenn): SCE loss on the readout, max_spikes 1500, the
    spike-count regulariser, GeNN backend and code options; delays of `delay_learn_conns`
    are learned by `delay_optimiser` (mlGeNN clamps them to [0, max_delay_steps])."""
    from ml_genn.compilers import EventPropCompiler

    extra = ({} if not delay_learn_conns else
             {"delay_learn_conns": list(delay_learn_conns), "delay_optimiser": delay_optimiser})
    return EventPropCompiler(
        example_timesteps=net.n_steps, losses="sparse_categorical_crossentropy",
        optimiser=optimiser, reg_lambda_upper=reg_lambda_upper,
        reg_lambda_lower=reg_lambda_lower, reg_nu_upper=nu_upper,
        max_spikes=MAX_SPIKES_PER_NEURON, dt=net.dt, batch_size=batch_size,
        rng_seed=int(seed) % (2**31), kernel_profiling=kernel_profiling,
        backend=genn_backend, optimize_code=optimize_code, **extra)


def inference_compiler(net: NetworkConfig, *, batch_size: int, genn_backend: str,
                       optimize_code: bool = True, kernel_profiling: bool = False) -> Any:
    """InferenceCompiler as in the paper's evaluation: state and synaptic input reset per trial."""
    from ml_genn.compilers import InferenceCompiler

    return InferenceCompiler(evaluate_timesteps=net.n_steps, dt=net.dt, batch_size=batch_size,
                             reset_in_syn_between_batches=True,
                             kernel_profiling=kernel_profiling, backend=genn_backend,
                             optimize_code=optimize_code)


def patch_batch1_labels() -> None:
    """Work around mlGeNN 2.3.x issue #95 (fixed in 2.4.0): SparseCategoricalCrossentropy
    writes labels into a 2-D view, which fails at batch size 1 where GeNN's view is 1-D."""
    from ml_genn.losses import SparseCategoricalCrossentropy

    original = SparseCategoricalCrossentropy.set_target
    if getattr(original, "neurokws_batch1", False):
        return

    def set_target(self: Any, genn_pop: Any, y_true: Any, shape: Any, batch_size: int,
                   example_timesteps: int) -> None:
        if batch_size != 1:
            return original(self, genn_pop, y_true, shape, batch_size, example_timesteps)
        labels = np.asarray(y_true).reshape(-1)
        if labels.size != 1:
            raise RuntimeError(f"batch size 1 needs one label, got {labels.size}")
        genn_pop.vars["YTrue"].view[:] = labels
        genn_pop.vars["YTrue"].push_to_device()
        return None

    set_target.neurokws_batch1 = True  # type: ignore[attr-defined]
    SparseCategoricalCrossentropy.set_target = set_target
