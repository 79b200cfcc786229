"""A small numpy simulator of an exported NIR graph, to pin down what its parameters mean.

It reads every constant from the graph's nodes (tau_syn, tau_mem, r, w_in, v_leak,
v_threshold, v_reset, Linear weights) and integrates them with the discretisation documented in
``nir_export`` (unit-area pulse per spike, exponential Euler), in our step indexing (a spike
emitted at step n acts from step n+1). For a graph written by ``export_nir`` this reproduces
the float model (docs/model.md#discretisation) exactly; other frameworks' importers can be
checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from neurokws.utils.errors import ModelFormatError


@dataclass(frozen=True)
class StepCoefficients:
    """Per-step coefficients of one CubaLIF/CubaLI node (to configure other simulators)."""

    alpha: np.ndarray
    beta: np.ndarray
    drive: np.ndarray       # (1 - beta) w_in r / dt: r*I increment per unit of W s (= c_I)
    v_leak: np.ndarray
    v_threshold: np.ndarray | None
    v_reset: np.ndarray | None

    @classmethod
    def from_node(cls, node: nir.CubaLIF | nir.CubaLI, dt: float) -> StepCoefficients:
        beta = np.exp(-dt / np.asarray(node.tau_syn, dtype=np.float64))
        spiking = isinstance(node, nir.CubaLIF)
        return cls(alpha=np.exp(-dt / np.asarray(node.tau_mem, dtype=np.float64)), beta=beta,
                   drive=(1.0 - beta) * np.asarray(node.w_in) * np.asarray(node.r) / dt,
                   v_leak=np.asarray(node.v_leak, dtype=np.float64),
                   v_threshold=np.asarray(node.v_threshold, dtype=np.float64) if spiking else None,
                   v_reset=np.asarray(node.v_reset, dtype=np.float64) if spiking else None)

    def step(self, current: np.ndarray, v: np.ndarray, inflow: np.ndarray):
        """One step; `current` is r*I. Returns (current, v, spikes or None)."""
        current = self.beta * current + self.drive * inflow
        v = self.v_leak + self.alpha * (v - self.v_leak) + (1.0 - self.alpha) * current
        if self.v_threshold is None:
            return current, v, None
        spikes = v >= self.v_threshold
        return current, np.where(spikes, self.v_reset, v), spikes


def simulate_nir(graph: nir.NIRGraph, input_spikes: np.ndarray,
                 dt: float | None = None) -> dict[str, np.ndarray]:
    """Run (T, n_in) 0/1 input spikes through the graph; return hidden spikes/V and readout V."""
    hidden_key, readout_key, w_in, w_rec, w_out = _structure(graph)
    dt = float(graph.metadata.get("dt", 1e-3)) if dt is None else float(dt)
    hidden = StepCoefficients.from_node(graph.nodes[hidden_key], dt)
    readout = StepCoefficients.from_node(graph.nodes[readout_key], dt)
    spikes_in = np.asarray(input_spikes, dtype=np.float64)
    n_steps, n_hid, n_out = spikes_in.shape[0], w_rec.shape[0], w_out.shape[0]
    i_hid, v_hid, z_hid = np.zeros(n_hid), np.zeros(n_hid), np.zeros(n_hid)
    i_out, v_out = np.zeros(n_out), np.zeros(n_out)
    x_prev = np.zeros(spikes_in.shape[1])
    record = {"hidden_spikes": np.zeros((n_steps, n_hid), dtype=bool),
              "hidden_v": np.zeros((n_steps, n_hid)), "readout_v": np.zeros((n_steps, n_out))}
    for n in range(n_steps):
        inflow_hid = w_in @ x_prev + w_rec @ z_hid
        inflow_out = w_out @ z_hid
        i_hid, v_hid, spikes = hidden.step(i_hid, v_hid, inflow_hid)
        i_out, v_out, _ = readout.step(i_out, v_out, inflow_out)
        z_hid, x_prev = spikes.astype(np.float64), spikes_in[n]
        record["hidden_spikes"][n], record["hidden_v"][n], record["readout_v"][n] = \
            spikes, v_hid, v_out
    return record


def readout_scores(readout_v: np.ndarray) -> np.ndarray:
    """sum_n exp(-n/T) V[n] / T over a (T, C) readout trace (GeNN's avg_var_exp_weight)."""
    n_steps = readout_v.shape[0]
    weights = np.exp(-np.arange(n_steps) / n_steps) / n_steps
    return weights @ readout_v


def _structure(graph: nir.NIRGraph) -> tuple[str, str, np.ndarray, np.ndarray, np.ndarray]:
    """Find input -> Linear -> CubaLIF (+ recurrent Linear) -> Linear -> CubaLI by the edges."""
    nodes, edges = graph.nodes, list(graph.edges)
    delayed = sorted(k for k, v in nodes.items() if isinstance(v, nir.Delay))
    if delayed:
        raise ModelFormatError(
            f"NIR graph has Delay nodes {delayed[:3]}{'...' if len(delayed) > 3 else ''} "
            "(synaptic delays): this reference simulator runs delay-free graphs only; read it "
            "with neurokws.deploy.nir_export.load_nir and graph_to_delays and run the engine.")

    def succ(key: str) -> list[str]:
        return [b for a, b in edges if a == key]

    try:
        (input_key,) = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
        (lin_in,) = succ(input_key)
        (hidden_key,) = succ(lin_in)
        rec = [k for k in succ(hidden_key) if hidden_key in succ(k)]
        (lin_rec,) = rec
        (lin_out,) = [k for k in succ(hidden_key) if k != lin_rec]
        (readout_key,) = succ(lin_out)
    except ValueError as exc:
        raise ModelFormatError("NIR graph is not input -> Linear -> recurrent CubaLIF -> "
                               f"Linear -> CubaLI ({exc}).") from exc
    if not isinstance(nodes[hidden_key], nir.CubaLIF) or not isinstance(nodes[readout_key],
                                                                          nir.CubaLI):
        raise ModelFormatError("NIR graph's hidden/readout nodes are not CubaLIF/CubaLI.")
    weights = []
    for key in (lin_in, lin_rec, lin_out):
        node = nodes[key]
        if isinstance(node, nir.Affine) and np.any(node.bias):
            raise ModelFormatError(f"NIR node {key!r} has a bias; our model has none.")
        if not isinstance(node, (nir.Linear, nir.Affine)):
            raise ModelFormatError(f"NIR node {key!r} is {type(node).__name__}, not Linear.")
        weights.append(np.asarray(node.weight, dtype=np.float64))
    return hidden_key, readout_key, *weights
