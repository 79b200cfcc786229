r"""Export of the float network as a NIR graph (PyPI ``nir``) and its inverse.

Graph (node names fixed; Linear weights are (post, pre), i.e. our matrices transposed)::

    input (n_in) -> w_in: Linear (N, n_in) -> hidden: CubaLIF (N) -> w_out: Linear (C, N)
                 -> readout: CubaLI (C) -> output;      hidden -> w_rec: Linear (N, N) -> hidden

Units: seconds (NIR's usual choice): tau_syn = 5e-3, tau_mem = 20e-3, metadata dt = 1e-3.

Parameter mapping. Our float model (docs/model.md#continuous-model) is GeNN's
discretisation of the continuous model in which every input spike of weight W makes the
synaptic current jump by W (voltage units):
tau_syn dI/dt = -I + tau_syn sum_k W_k delta(t - t_k), tau_mem dV/dt = -V + I. In NIR's
CubaLIF (tau_syn dI/dt = -I + w_in S, tau_mem dv/dt = (v_leak - v) + r I) this is
w_in = 1 and r = tau_syn [s] (so r I jumps by W per unit-area spike), v_leak = 0,
v_threshold = V_th (1), v_reset = 0 (absolute reset). The readout CubaLI gets the same
tau_syn, tau_mem, r, w_in, v_leak.

Discretisation that reproduces our float model exactly (see ``nir_reference``): each spike is a
unit-area pulse spread over its time step dt, integrated exactly by the synapse, then
exponential Euler for the membrane with that step's current:

    I <- beta I + (1 - beta) w_in (W s) / dt   (so r dI = (tau_syn/dt)(1 - beta) W = c_I W)
    v <- v_leak + alpha (v - v_leak) + (1 - alpha) r I
    spike where v >= v_threshold, then v <- v_reset

with alpha = exp(-dt/tau_mem), beta = exp(-dt/tau_syn): GeNN's current scale c_I and the
(1 - alpha) factor both come out of this scheme. Notes for other simulators:
- adding a spike as an instantaneous jump I += w_in W / tau_syn needs an extra factor
  c_I = 0.906 to match. Stock importers (snnTorch, Norse) feed a spike as the value 1 for
  one step (not unit area) and decay with forward Euler (1 - dt/tau): they need the per-step
  coefficients of ``nir_reference`` (alpha, beta, per-spike increment c_I W) set directly.
- exact event-driven integration of the ODEs gives post-synaptic potentials 0.083 % smaller
  than ours at the grid times (a constant factor), and may spike between grid points.
- NIR says v > v_threshold, we use >= (a measure-zero difference in float).
- Timing (our indexing): a spike emitted at step n acts from step n+1. A simulator that
  runs all layers of a step in sequence (input bin k fed at step k) gives
  V_hidden_sim[k] = V_hidden_ours[k+1] and V_out_sim[k] = V_out_ours[k+2].
- The readout (argmax_k sum_n exp(-n/n_steps) V_k[n]) is not expressible in NIR; it is
  described in the graph metadata.

Synaptic delays (a model with `Delays`). NIR's ``Delay`` node delays every element of its
input by its own time (y_i(t) = x_i(t - tau_i)): one delay per presynaptic neuron, not per
synapse. The exact equivalent graph splits each delayed connection by delay value: the
synapses with delay 0 stay in ``w_in`` / ``w_rec`` (the other entries 0), and every delay
d > 0 that occurs gets a branch ``<pre> -> delay_<conn>_<d>: Delay(d dt for all of pre) ->
w_<conn>_<d>: Linear(the weights with delay d, others 0) -> hidden``; NIR sums the edges
into ``hidden``. A synapse of weight exactly 0 has no delay in the graph (it has no effect).
A stock NIR importer that runs Delay nodes runs the delayed network; the price is one
dense (N, n_pre) matrix per delay value (up to 62 per connection).
"""

from __future__ import annotations

import json
import os
from typing import Any

import nir
import numpy as np

from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.utils.atomic import atomic_path
from neurokws.utils.errors import ModelFormatError

NIR_FORMAT_VERSION = 1
MS = 1e-3   # our config is in ms; NIR gets seconds
DISCRETISATION = (
    "per step dt: I <- beta*I + (1-beta)*w_in*(W s)/dt; v <- v_leak + alpha*(v-v_leak) + "
    "(1-alpha)*r*I; spike where v >= v_threshold, v <- v_reset; alpha=exp(-dt/tau_mem), "
    "beta=exp(-dt/tau_syn); spikes emitted at step n act from step n+1")
READOUT = ("class = argmax_k sum_{n=0}^{n_steps-1} exp(-n/n_steps) * V_k[n] / n_steps over the "
           "readout node's membrane V (GeNN avg_var_exp_weight)")
NODE_NAMES = ("input", "w_in", "hidden", "w_rec", "w_out", "readout", "output")
DELAYED = {"d_in": ("in", "input", "w_in"), "d_rec": ("rec", "hidden", "w_rec")}


def build_nir_graph(config: NetworkConfig, weights: Weights,
                    provenance: dict[str, Any] | None = None,
                    source: str = "weights", delays: Delays | None = None) -> nir.NIRGraph:
    """The float network as a nir.NIRGraph with the mapping of the module docstring (a
    model with delays passes its integer `delays`: the equivalent graph with Delay nodes)."""
    weights.check(config, source=source)
    if config.has_delays != (delays is not None):
        raise ModelFormatError(f"{source}: the model's max delays are {config.delay_maxima}; "
                               "pass its delays (and only then)")
    if delays is not None:
        delays.check(config, source=source, maxima=True)
    n_hid, n_out = config.n_hidden, config.n_out

    def neuron_params(n: int) -> dict[str, np.ndarray]:
        return {"tau_syn": np.full(n, config.tau_syn * MS),
                "tau_mem": np.full(n, config.tau_mem * MS),
                "r": np.full(n, config.tau_syn * MS), "v_leak": np.zeros(n), "w_in": np.ones(n)}

    nodes = {
        "input": nir.Input(input_type=np.array([config.n_in])),
        "w_in": nir.Linear(weight=_post_pre(weights.w_in)),
        "hidden": nir.CubaLIF(**neuron_params(n_hid), v_threshold=np.full(n_hid, config.v_th),
                              v_reset=np.zeros(n_hid)),
        "w_rec": nir.Linear(weight=_post_pre(weights.w_rec)),
        "w_out": nir.Linear(weight=_post_pre(weights.w_out)),
        "readout": nir.CubaLI(**neuron_params(n_out)),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_rec"), ("w_rec", "hidden"),
             ("hidden", "w_out"), ("w_out", "readout"), ("readout", "output")]
    for name, (conn, pre, linear) in DELAYED.items():
        if delays is None:
            break
        d = np.asarray(getattr(delays, name))
        w = getattr(weights, linear)
        nodes[linear] = nir.Linear(weight=_post_pre(np.where(d == 0, w, 0.0)))
        for value in np.unique(d[(d > 0) & (w != 0)]):
            tag = f"{conn}_{int(value)}"
            nodes[f"delay_{tag}"] = nir.Delay(delay=np.full(d.shape[0], value * config.dt * MS))
            nodes[f"w_{tag}"] = nir.Linear(weight=_post_pre(np.where(d == value, w, 0.0)))
            edges += [(pre, f"delay_{tag}"), (f"delay_{tag}", f"w_{tag}"),
                      (f"w_{tag}", "hidden")]
    metadata = {"neurokws_nir_format": NIR_FORMAT_VERSION, "time_unit": "s",
                "dt": config.dt * MS, "n_steps": config.n_steps,
                "current_scale_c_I": config.current_scale, "discretisation": DISCRETISATION,
                "readout": READOUT, "network_config_json": json.dumps(config.to_dict()),
                "provenance_json": json.dumps(provenance or {}, sort_keys=True, default=str)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def export_nir(path: str | os.PathLike, config: NetworkConfig, weights: Weights,
               provenance: dict[str, Any] | None = None,
               source: str = "weights", delays: Delays | None = None) -> nir.NIRGraph:
    """Atomically write the float network as a NIR HDF5 file; return the graph written."""
    graph = build_nir_graph(config, weights, provenance, source=source, delays=delays)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
    return graph


def load_nir(path: str | os.PathLike) -> tuple[NetworkConfig, Weights, nir.NIRGraph]:
    """Read a NIR file written by export_nir and invert the mapping (checks structure/params)."""
    source = str(path)
    try:
        graph = nir.read(str(path))
    except (OSError, KeyError, ValueError, AssertionError) as exc:
        raise ModelFormatError(f"{source}: cannot read as NIR ({exc}); re-export it.") from exc
    return (*graph_to_model(graph, source), graph)


def graph_to_model(graph: nir.NIRGraph, source: str = "NIR graph") -> tuple[NetworkConfig, Weights]:
    """Invert build_nir_graph: recover the NetworkConfig and (pre, post) float32 weights."""
    missing = [k for k in NODE_NAMES if k not in graph.nodes]
    if missing:
        raise ModelFormatError(f"{source}: NIR graph lacks nodes {missing}; not a neurokws export.")
    hidden, readout = graph.nodes["hidden"], graph.nodes["readout"]
    if not isinstance(hidden, nir.CubaLIF) or not isinstance(readout, nir.CubaLI):
        raise ModelFormatError(f"{source}: 'hidden'/'readout' must be CubaLIF/CubaLI nodes.")
    meta = graph.metadata or {}
    lacking = [key for key in ("dt", "n_steps") if key not in meta]
    if lacking:
        raise ModelFormatError(f"{source}: NIR metadata lacks {lacking} (the time step and "
                               "trial length of the model); re-export it with neurokws.")
    dt = float(meta["dt"])
    for node in (hidden, readout):
        if not np.allclose(node.r, node.tau_syn) or not np.allclose(node.w_in, 1.0):
            raise ModelFormatError(f"{source}: r/w_in do not follow neurokws' mapping "
                                   "(r = tau_syn, w_in = 1); cannot recover the float model.")
    config = NetworkConfig(
        n_hidden=int(hidden.v_threshold.size), n_out=int(readout.v_leak.size),
        n_in=int(np.prod(graph.nodes["input"].input_type["input"])),
        n_steps=int(meta["n_steps"]), dt=_ms(dt),
        tau_mem=_ms(_uniform(hidden.tau_mem, "tau_mem", source)),
        tau_syn=_ms(_uniform(hidden.tau_syn, "tau_syn", source)),
        v_th=float(_uniform(hidden.v_threshold, "v_threshold", source)),
        max_delay_in=0, max_delay_rec=0)   # a graph without Delay nodes
    if "network_config_json" in meta:
        stored = NetworkConfig.from_dict(json.loads(str(meta["network_config_json"])))
        if not _close_config(stored, config):
            raise ModelFormatError(f"{source}: node parameters give {config} but the metadata "
                                   f"records {stored}; the graph was edited - re-export it.")
        config = stored   # exact ms values, free of seconds round-off
    weights = Weights(*(np.ascontiguousarray(np.asarray(graph.nodes[k].weight).T,
                                             dtype=np.float32) for k in ("w_in", "w_rec", "w_out")))
    for _, (value, linear) in _branches(graph, config, source):
        total = getattr(weights, linear) + np.asarray(graph.nodes[f"w_{value}"].weight).T
        setattr(weights, linear, np.ascontiguousarray(total, dtype=np.float32))
    weights.check(config, source=source)
    return config, weights


def graph_to_delays(graph: nir.NIRGraph, config: NetworkConfig,
                    source: str = "NIR graph") -> Delays | None:
    """The integer delays of a graph written by build_nir_graph (None: a model without)."""
    if not config.has_delays:
        return None
    out = Delays.zeros(config)
    for name, (tag, _) in _branches(graph, config, source):
        value = int(tag.rsplit("_", 1)[1])
        mask = np.asarray(graph.nodes[f"w_{tag}"].weight).T != 0
        getattr(out, name)[mask] = value
    out.check(config, source=source, maxima=True)
    return out


def _branches(graph: nir.NIRGraph, config: NetworkConfig, source: str):
    """(delay name, (branch tag, linear node)) of every Delay branch, checked."""
    found = []
    for key, node in graph.nodes.items():
        if not isinstance(node, nir.Delay):
            continue
        tag = key[len("delay_"):]
        conn, _, value = tag.rpartition("_")
        name = {"in": "d_in", "rec": "d_rec"}.get(conn)
        if name is None or not value.isdigit() or f"w_{tag}" not in graph.nodes:
            raise ModelFormatError(f"{source}: Delay node {key!r} is not one of neurokws' "
                                   "delay branches (delay_in_<d>, delay_rec_<d>); re-export.")
        seconds = np.asarray(node.delay, np.float64)
        if not np.allclose(seconds, int(value) * config.dt * MS, rtol=1e-9, atol=0):
            raise ModelFormatError(f"{source}: {key} delays by {seconds.flat[0]} s, not "
                                   f"{value} steps of {config.dt} ms; the graph was edited.")
        if not config.has_delays:
            raise ModelFormatError(f"{source}: the graph has Delay nodes but its config has "
                                   "no delays; re-export it.")
        found.append((name, (tag, DELAYED[name][2])))
    return found


def _post_pre(w: np.ndarray) -> np.ndarray:
    """Our (pre, post) matrix as NIR's (post, pre) float32."""
    return np.ascontiguousarray(np.asarray(w).T, dtype=np.float32)


def _uniform(values: np.ndarray, name: str, source: str) -> float:
    """The single value of a per-neuron parameter array (our model has no heterogeneity)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.allclose(values, values.flat[0], rtol=1e-12, atol=0):
        raise ModelFormatError(f"{source}: {name} differs between neurons; neurokws models "
                               "use one value per population.")
    return float(values.flat[0])


def _ms(seconds: float) -> float:
    """Seconds to ms, rounded off float noise (1e-12 ms)."""
    return round(seconds / MS, 12)


def _close_config(a: NetworkConfig, b: NetworkConfig) -> bool:
    """Same sizes and (to 1e-9 relative) the same constants (the delay maxima are not node
    parameters: the Delay branches are checked against them separately)."""
    da, db = a.to_dict(), b.to_dict()
    return all(np.isclose(da[k], db[k], rtol=1e-9, atol=0) for k in da
               if not k.startswith("max_delay"))

