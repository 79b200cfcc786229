"""Read a NetX .net file exactly as lava-dl 0.6.0's netx does, for the emulator.

Deliberately not the validating reader of ``neurokws.deploy``: the emulator must behave like
Lava on whatever the file holds (weights truncated toward zero by ``astype(int)``, 1-D
weights reshaped to (targets, -1), any weight range), so it reads the raw values netx reads.
Supported topology: optional ``input`` layer without neuron, ``dense_rec``, ``dense``.
Synaptic delays: ``delay`` and ``delay_rec`` of the ``dense_rec`` layer (ml_genn_netx's
datasets; neurokws.deploy.netx) are the delays of our own Lava graph (lava_graph.py:
DelayDense on each connection); stock netx would misapply them (it gives ``delay`` to both
synapses), so a file with delays is never handed to it. As no netx behaviour is reproduced
for them, they are checked rather than cast: whole steps in 0..62 (Loihi 2) of their weight
matrix's shape (or that many values, 1-D), else an error naming the file and dataset. A
missing dataset is a connection without delays, as in another tool's file; checking a file
against the model its metadata describes (e.g. a stripped delay dataset) is
``neurokws.deploy.netx.read_netx``'s job, which the workflow runs on every file it
evaluates (and the CLI, unless given --n-steps/--dt-ms).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from neurokws.utils import netx_layers
from neurokws.utils.loihi import check_delay_steps


@dataclass(frozen=True)
class NeuronParams:
    """CUBA neuron constants as netx passes them to Lava's LIFReset (bias: bias_mant)."""

    i_decay: int
    v_decay: int
    vth_mant: int
    bias: np.ndarray | None = None


@dataclass(frozen=True)
class NetxNetwork:
    """Raw integer matrices (targets, sources) and neuron constants of our two layers."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    hidden: NeuronParams
    output: NeuronParams
    d_in: np.ndarray | None = None    # (targets, sources) delays in steps; None = Dense
    d_rec: np.ndarray | None = None

    @property
    def has_delays(self) -> bool:
        return self.d_in is not None or self.d_rec is not None


def _neuron(group: h5py.Group, size: int) -> NeuronParams:
    """Neuron constants of one layer; only CUBA is supported."""
    neuron = group["neuron"]
    kind = netx_layers.text(neuron["type"])
    if kind not in ("CUBA", "LOIHI"):
        raise ValueError(f"{group.name}: neuron type {kind!r} is not CUBA")
    if "messageBits" in neuron and int(np.asarray(neuron["messageBits"][()])) != 0:
        raise ValueError(f"{group.name}: graded output spikes (messageBits) are not supported")
    bias = None
    if "bias" in group:
        bias = np.broadcast_to(group["bias"][()].astype(int), (size,)).astype(np.int32)
    return NeuronParams(int(neuron["iDecay"][()]), int(neuron["vDecay"][()]),
                        int(neuron["vThMant"][()]), bias)


def _weight(group: h5py.Group, key: str, targets: int) -> np.ndarray:
    """A weight matrix read like netx: astype(int) (truncation), 1-D reshaped to (targets, -1)."""
    weight = group[key][()].astype(int)
    return weight.reshape(targets, -1) if weight.ndim == 1 else weight


def _delay(group: h5py.Group, key: str, shape: tuple[int, int], path: object) -> np.ndarray:
    """A delay dataset, checked (utils.loihi.check_delay_steps); 1-D: that many values,
    reshaped like the weights."""
    raw = np.asarray(group[key][()])
    if raw.ndim == 1 and raw.size == shape[0] * shape[1]:
        raw = raw.reshape(shape)
    check_delay_steps(raw, shape, f"{path}: {group.name}/{key}")
    return raw.astype(np.int64)


def read_netx_raw(path: str | os.PathLike) -> NetxNetwork:
    """The input -> dense_rec -> dense network in a NetX file, values as netx reads them."""
    with h5py.File(path, "r") as handle:
        walked = netx_layers.layers(handle, str(path))
        types = [kind for kind, _ in walked]
        groups = [group for _, group in walked]
        if types and types[0] == "input":
            if "neuron" in groups[0]:
                raise ValueError(f"{path}: an input layer with a neuron is not supported")
            groups, types = groups[1:], types[1:]
        if types != ["dense_rec", "dense"]:
            raise ValueError(f"{path}: layer types {types}, expected ['dense_rec', 'dense']")
        hid, out = groups
        for g in groups:
            if "weight" not in g or isinstance(g["weight"], h5py.Group):
                raise ValueError(f"{path}: {g.name} has no weight or complex weights")
        if "delay" in out or "delay_rec" in out:
            raise ValueError(f"{path}: {out.name} (the readout) has synaptic delays, which "
                             "our network does not support")
        n_hid, n_out = (int(np.prod(g["shape"][()])) for g in groups)
        w_in, w_rec = _weight(hid, "weight", n_hid), _weight(hid, "weight_rec", n_hid)
        delays = {name: _delay(hid, key, w.shape, path)
                  for name, key, w in (("d_in", "delay", w_in), ("d_rec", "delay_rec", w_rec))
                  if key in hid}
        # A connection without a dataset has no delays: None (a Dense in Lava; the emulator
        # runs it as zero delays, which Lava's Dense equals: tests/test_fixedpoint_lava_delays)
        return NetxNetwork(w_in=w_in, w_rec=w_rec, w_out=_weight(out, "weight", n_out),
                           hidden=_neuron(hid, n_hid), output=_neuron(out, n_out), **delays)
