r"""Run an exported NIR graph through Norse's own NIR importer (runs inside .venv-nir).

    neurokws.utils.sidecar.run_module("nir", "neurokws.deploy.nir_norse",
                                      {"graph": "model.nir", "modes": [...]}, spikes)

Imports numpy, nir, torch and norse only (plus numpy/h5py-only neurokws modules). The caller
is ``neurokws.deploy.nir_crosscheck`` (main venv), which compares the result with our engine.

``norse.torch.from_nir`` (Norse 1.1.0) maps Linear to torch.nn.Linear and CubaLIF to Norse's
CubaLIF (w_in * x -> LIBoxCell(tau_syn) -> r * i -> LIFBoxCell(tau_mem, v_threshold, reset to
v_reset)), all forward Euler with the dt we pass (the graph's metadata dt), and runs the
recurrent Linear through nirtorch's GraphExecutor (it reads the previous step's w_rec output).
It has no mapping for CubaLI: the readout node is silently dropped (the executor then returns
w_out's output). We integrate the readout with the same Norse pieces as its CubaLIF, minus
the threshold: ``CubaLIF(w_in, LIBoxCell(tau_syn), r, LIBoxCell(tau_mem))``.

Modes (each one a NIR graph handed to ``from_nir`` unchanged otherwise; input 0/1 per step):
- ``importer``: our graph as is. Norse reads a spike as the value 1 for one step (area dt),
  the graph's ODEs integrate unit-area spikes, so every synaptic input is dt = 1e-3 times ours.
- ``euler``: w_in -> w_in / dt on the CubaLIF/CubaLI nodes, i.e. a spike is a unit-area pulse
  of height 1/dt over its step (hidden and recurrent spikes alike, as they sum into w_in).
  Left: forward Euler, synapse 1 - dt/tau_syn = 0.8 per step (ours e^-0.2 = 0.819) and jump
  W (ours c_I W = 0.906 W); membrane 0.95 (ours 0.9512); same post-synaptic area.
- ``exact``: also tau -> dt / (1 - exp(-dt/tau)), so Norse's forward Euler steps equal the
  exponential-Euler steps of ``nir_reference`` (our float model). Left: float32 rounding and
  Norse's strict v > v_threshold (ours >=).

Step indexing: Norse runs the layers of a step in sequence (input bin k reaches the hidden
layer at step k), so hidden step k is our step k + 1 and readout step k our step k + 2
(``nir_export``). Readout scores use Norse's readout V of steps 0..T-3 as our V[2..T-1]
(ours V[0] = V[1] = 0); hidden spike counts sum Norse's steps 0..T-2 (our steps 1..T-1).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import nir
import numpy as np

MODES = ("importer", "euler", "exact")
BATCH = 64


def norse_graph(graph: nir.NIRGraph, mode: str) -> nir.NIRGraph:
    """The graph handed to Norse's importer in `mode` (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    dt = float(graph.metadata["dt"])
    nodes = dict(graph.nodes)
    if mode != "importer":
        for key, node in graph.nodes.items():
            if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
                nodes[key] = _rescaled(node, dt, exact=mode == "exact")
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata))


def _rescaled(node: nir.CubaLIF | nir.CubaLI, dt: float, exact: bool) -> nir.NIRNode:
    """w_in / dt (unit-area spikes) and, if exact, tau -> dt / (1 - exp(-dt / tau))."""
    params = {k: np.asarray(getattr(node, k), dtype=np.float64)
              for k in ("tau_syn", "tau_mem", "r", "v_leak", "w_in")}
    params["w_in"] = params["w_in"] / dt
    if exact:
        for k in ("tau_syn", "tau_mem"):
            params[k] = dt / -np.expm1(-dt / params[k])
    if isinstance(node, nir.CubaLIF):
        return nir.CubaLIF(**params, v_threshold=node.v_threshold, v_reset=node.v_reset)
    return nir.CubaLI(**params)


def _readout_module(node: nir.CubaLI, dt: float):
    """Norse's CubaLIF wrapper with a LIBoxCell membrane: a CubaLI of Norse's own parts."""
    import torch
    from norse.torch.functional.leaky_integrator_box import LIBoxParameters
    from norse.torch.module.leaky_integrator_box import LIBoxCell
    from norse.torch.utils.import_nir import CubaLIF

    def tensor(a):
        return torch.as_tensor(np.asarray(a), dtype=torch.float32)

    v_leak = tensor(node.v_leak)
    synapse = LIBoxCell(LIBoxParameters(tau_mem_inv=1 / tensor(node.tau_syn), v_leak=v_leak),
                        dt=dt)
    membrane = LIBoxCell(LIBoxParameters(tau_mem_inv=1 / tensor(node.tau_mem), v_leak=v_leak),
                         dt=dt)
    return CubaLIF(tensor(node.w_in), synapse, tensor(node.r), membrane)


def _keys(graph: nir.NIRGraph) -> tuple[str, str, str]:
    """Names of the hidden CubaLIF, the Linear feeding the readout, and the CubaLI readout."""
    (hidden,) = [k for k, v in graph.nodes.items() if isinstance(v, nir.CubaLIF)]
    (readout,) = [k for k, v in graph.nodes.items() if isinstance(v, nir.CubaLI)]
    (w_out,) = [a for a, b in graph.edges if b == readout]
    return hidden, w_out, readout


@dataclass(frozen=True)
class SparseSpikes:
    """Binary input spikes per sample as (step, channel) lists, like BinnedSplit."""

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    n_steps: int
    n_in: int

    def dense(self, lo: int, hi: int) -> np.ndarray:
        """Samples lo..hi-1 as a (hi - lo, T, n_in) float32 0/1 array."""
        a, b = int(self.offsets[lo]), int(self.offsets[hi])
        out = np.zeros((hi - lo, self.n_steps, self.n_in), dtype=np.float32)
        sample = np.repeat(np.arange(hi - lo), np.diff(self.offsets[lo:hi + 1]))
        steps, channels = self.steps[a:b], self.channels[a:b]
        keep = steps < self.n_steps
        out[sample[keep], steps[keep], channels[keep]] = 1.0
        return out


def run_mode(graph: nir.NIRGraph, spikes: SparseSpikes, mode: str) -> dict[str, np.ndarray]:
    """Run the spikes through Norse in `mode`: readout scores (n, C) and hidden counts (n, N)."""
    import torch
    from norse.torch import from_nir

    from neurokws.deploy.nir_reference import readout_scores

    dt = float(graph.metadata["dt"])
    g = norse_graph(graph, mode)
    hidden, w_out, readout_key = _keys(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # nirtorch.load is deprecated
        model = from_nir(g, dt=dt)
    if dict(model.named_children()).get(readout_key) is not None:
        raise RuntimeError("Norse now maps CubaLI itself; update neurokws.deploy.nir_norse")
    readout = _readout_module(g.nodes[readout_key], dt)
    n, n_steps = len(spikes.offsets) - 1, spikes.n_steps
    scores = np.zeros((n, g.nodes[readout_key].tau_mem.size))
    counts = np.zeros((n, g.nodes[hidden].tau_mem.size), dtype=np.int64)
    with torch.inference_mode():
        for lo in range(0, n, BATCH):
            hi = min(n, lo + BATCH)
            x = torch.from_numpy(spikes.dense(lo, hi))
            state, ro_state, v_out = None, None, []
            z_sum = torch.zeros((hi - lo, counts.shape[1]))
            for k in range(n_steps):
                _, state = model(x[:, k], state)
                v, ro_state = readout(state.cache[w_out], ro_state)
                v_out.append(v)
                if k < n_steps - 1:
                    z_sum += state.cache[hidden]
            v_norse = torch.stack(v_out).double().numpy()      # (T, B, C), Norse's steps
            v_ours = np.zeros_like(v_norse)
            v_ours[2:] = v_norse[:n_steps - 2]                 # our step index
            scores[lo:hi] = readout_scores(v_ours.reshape(n_steps, -1)).reshape(hi - lo, -1)
            counts[lo:hi] = z_sum.numpy().astype(np.int64)
    return {"readout": scores, "counts": counts}


def versions() -> dict[str, str]:
    """Versions of the packages that produced the result."""
    import importlib.metadata as md

    return {p: md.version(p) for p in ("norse", "nirtorch", "nir", "torch", "numpy")}


def sidecar_main(request: dict, arrays: dict) -> tuple[dict, dict]:
    """Side-environment entry: request {graph, modes, n_steps, n_in}, arrays {steps,
    channels, offsets}; returns versions and "<mode>_readout" / "<mode>_counts" arrays."""
    import torch

    torch.set_num_threads(1)   # per-step ops are tiny: threads only add overhead
    logging.getLogger().setLevel(logging.ERROR)
    graph = nir.read(request["graph"])
    spikes = SparseSpikes(arrays["steps"], arrays["channels"], arrays["offsets"],
                          int(request["n_steps"]), int(request["n_in"]))
    out = {}
    for mode in request["modes"]:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        for key, value in run_mode(graph, spikes, mode).items():
            out[f"{mode}_{key}"] = value
    return {"versions": versions(), "modes": list(request["modes"])}, out
