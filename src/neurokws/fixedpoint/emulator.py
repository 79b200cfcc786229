"""Bit-exact, fast emulator of our NetX network under Lava's Loihi2SimCfg("fixed_pt").

Reproduces lava-dl 0.6.0 netx + lava-nc 0.10.0 exactly (u, v and spikes at every step):
netx's weight optimisation and Lava Dense's clipping/truncation (``weights.py``), one step
of delay per Dense stage, 24-bit u wrap, v saturation, decays truncated toward zero,
strict threshold, reset_interval resets (hidden at Lava time_step % T == 1, output at
== 2) and the one-step leak of Dense buffers across sample boundaries (``kernels.py``).

Streams: samples are grouped into streams of ``stream_len`` consecutive samples, each
stream being what one fresh Lava network run over those samples sees. ``stream_len=1``
(default) isolates every sample (no leak; order-independent, like training);
``stream_len=None`` chains all samples as one Lava run, as the paper's evaluation did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neurokws.fixedpoint import kernels
from neurokws.fixedpoint.inputs import StepInputs
from neurokws.fixedpoint.netx_file import NeuronParams, read_netx_raw
from neurokws.fixedpoint.readout import predict
from neurokws.fixedpoint.weights import SynapseWeights, dense_layer, dense_rec_layer
from neurokws.utils.loihi import DECAY_ONE, I_DECAY_RANGE, V_DECAY_RANGE

RECORD_CHOICES = ("hidden", "output")


@dataclass(frozen=True)
class Activity:
    """Per-sample activity counts for the energy model (int64 arrays of shape (samples,))."""

    input_events: np.ndarray
    hidden_spikes: np.ndarray
    output_spikes: np.ndarray
    synaptic_ops: np.ndarray
    neuron_updates: np.ndarray
    effective_synaptic_ops: np.ndarray   # only non-zero weights (NeuroBench effective ACs)

    def totals(self) -> dict[str, int]:
        """Sums over all samples."""
        return {name: int(getattr(self, name).sum()) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class RunResult:
    """Output voltages per step (samples, T, C) int32, activity, and optional traces."""

    out_v: np.ndarray
    activity: Activity
    traces: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Classification:
    """Predicted classes, readout scores (samples, C) and activity."""

    pred: np.ndarray
    scores: np.ndarray
    activity: Activity

    def accuracy(self, labels: np.ndarray) -> float:
        """Fraction of samples whose prediction equals the label."""
        return float(np.mean(self.pred == np.asarray(labels))) if len(self.pred) else 0.0


def _layer_constants(neuron: NeuronParams, size: int) -> tuple[np.ndarray, np.ndarray]:
    """([4096 - iDecay, 4096 - vDecay, vThMant << 6], bias << 6) as int64."""
    if not (I_DECAY_RANGE[0] <= neuron.i_decay <= I_DECAY_RANGE[1]
            and V_DECAY_RANGE[0] <= neuron.v_decay <= V_DECAY_RANGE[1]):
        raise ValueError(f"decays must satisfy 1 <= iDecay <= 4096, 0 <= vDecay <= 4096; "
                         f"got {neuron.i_decay}, {neuron.v_decay}")
    consts = np.array([DECAY_ONE - neuron.i_decay, DECAY_ONE - neuron.v_decay,
                       int(np.left_shift(np.int32(neuron.vth_mant), 6))], dtype=np.int64)
    bias = np.zeros(size, np.int64) if neuron.bias is None else \
        np.asarray(neuron.bias, np.int64) << 6
    return consts, bias


class FixedPointNetwork:
    """700 -> recurrent LIF N -> LIF readout C, in Lava's integer arithmetic."""

    def __init__(self, w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray,
                 hidden: NeuronParams, output: NeuronParams,
                 d_in: np.ndarray | None = None, d_rec: np.ndarray | None = None) -> None:
        """Build from integer matrices (targets, sources) as stored in the NetX file, and
        optionally integer synaptic delays (steps, same layout) of the input and recurrent
        connections (kernels.py: Lava's DelayDense)."""
        self.ff, self.rec = dense_rec_layer(np.asarray(w_in), np.asarray(w_rec))
        self.out: SynapseWeights = dense_layer(np.asarray(w_out))
        self.hidden, self.output = hidden, output
        self.n_in = self.ff.weights.shape[1]
        self.n_hidden = self.ff.weights.shape[0]
        self.n_out = self.out.weights.shape[0]
        if self.rec.weights.shape != (self.n_hidden,) * 2 or \
                self.out.weights.shape[1] != self.n_hidden:
            raise ValueError("weight shapes do not form input -> recurrent hidden -> output")
        # Lava Dense weights always lie in [-256, 255]: int16 halves the memory traffic.
        self._w_ff_t, self._w_rec_t, self._w_out_t = (
            np.ascontiguousarray(s.weights.T.astype(np.int16))
            for s in (self.ff, self.rec, self.out))
        self._hid = _layer_constants(hidden, self.n_hidden)
        self._out = _layer_constants(output, self.n_out)
        self.d_in, self.d_rec, self._delays = _delay_layout(d_in, d_rec, self.ff.weights.shape,
                                                            self.rec.weights.shape)
        # kernels.py: the linear delay path (weights shifted once) where it is exact.
        self._linear = tuple(_shifted_weights(s) for s in (self.ff, self.rec))
        # Non-zero synapses per source: an input channel's, a hidden neuron's (rec + out).
        self._nnz_ff = np.count_nonzero(self.ff.weights, axis=0).astype(np.int64)
        self._nnz_hid = (np.count_nonzero(self.rec.weights, axis=0)
                         + np.count_nonzero(self.out.weights, axis=0)).astype(np.int64)

    @classmethod
    def from_netx(cls, path: str | os.PathLike) -> FixedPointNetwork:
        """Load a NetX .net file the way lava-dl's netx reads it."""
        raw = read_netx_raw(path)
        return cls(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output, raw.d_in, raw.d_rec)

    @classmethod
    def from_quantized(cls, qmodel: Any) -> FixedPointNetwork:
        """From a neurokws.deploy QuantizedModel (w_in, w_rec, w_out, decays, thresholds)."""
        return cls(qmodel.w_in, qmodel.w_rec, qmodel.w_out,
                   NeuronParams(qmodel.i_decay, qmodel.v_decay, qmodel.v_th_mant),
                   NeuronParams(qmodel.i_decay, qmodel.v_decay, qmodel.out_v_th_mant),
                   qmodel.d_in, qmodel.d_rec)

    def _check(self, inputs: StepInputs) -> None:
        """Raise if the inputs do not fit this network."""
        if inputs.n_channels != self.n_in:
            raise ValueError(f"inputs have {inputs.n_channels} channels, network {self.n_in}")

    def run(self, inputs: StepInputs, stream_len: int | None = 1,
            record: tuple[str, ...] = (), threads: int | None = None) -> RunResult:
        """Simulate all samples; record=('hidden', 'output') adds u/v/spike traces."""
        self._check(inputs)
        bad = set(record) - set(RECORD_CHOICES)
        if bad:
            raise ValueError(f"record must be a subset of {RECORD_CHOICES}, got {sorted(bad)}")
        n, t_len = len(inputs), inputs.n_steps
        bounds = stream_bounds(n, stream_len)

        def trace(size: int, on: bool, dtype: type) -> np.ndarray:
            return np.zeros((n, t_len, size) if on else (0, 0, 0), dtype=dtype)

        out_v = np.zeros((n, t_len, self.n_out), np.int32)
        rec_h, rec_o = "hidden" in record, "output" in record
        out_u, out_s = trace(self.n_out, rec_o, np.int32), trace(self.n_out, rec_o, np.bool_)
        hid_u, hid_v = trace(self.n_hidden, rec_h, np.int32), trace(self.n_hidden, rec_h, np.int32)
        hid_s = trace(self.n_hidden, rec_h, np.bool_)
        activity = np.zeros((n, 4), np.int64)
        phases = np.array([1 % t_len, 2 % t_len], np.int64)
        with _threads(threads):
            kernels.run_streams(bounds, inputs.offsets, inputs.steps, inputs.channels,
                                inputs.values, inputs.graded, t_len, self._w_ff_t,
                                self._w_rec_t, self._w_out_t, self.ff.weight_exp,
                                self.out.weight_exp, self._hid[0], self._hid[1],
                                self._out[0], self._out[1], phases, out_v, out_u, out_s,
                                hid_u, hid_v, hid_s, activity, *self._delays,
                                *self._linear_path(inputs), self._nnz_ff, self._nnz_hid)
        traces = {}
        if rec_h:
            traces.update(hidden_u=hid_u, hidden_v=hid_v, hidden_s=hid_s)
        if rec_o:
            traces.update(output_u=out_u, output_v=out_v, output_s=out_s)
        return RunResult(out_v=out_v, activity=self._activity(activity, t_len), traces=traces)

    def classify(self, inputs: StepInputs, stream_len: int | None = 1,
                 chunk: int = 512, threads: int | None = None) -> Classification:
        """Predict every sample with the paper's readout, `chunk` samples at a time."""
        n = len(inputs)
        size = n if stream_len is None else max(stream_len, chunk // stream_len * stream_len)
        preds, scores, acts = [], [], []
        for lo in range(0, n, max(size, 1)):
            part = inputs.select(np.arange(lo, min(lo + size, n)))
            result = self.run(part, stream_len=stream_len, threads=threads)
            p, s = predict(result.out_v)
            preds.append(p)
            scores.append(s)
            acts.append(result.activity)
        if not preds:
            empty = np.zeros(0, np.int64)
            return Classification(empty, np.zeros((0, self.n_out)),
                                  self._activity(np.zeros((0, 4), np.int64), inputs.n_steps))
        activity = Activity(*(np.concatenate([getattr(a, f) for a in acts])
                              for f in Activity.__dataclass_fields__))
        return Classification(np.concatenate(preds), np.concatenate(scores), activity)

    def _linear_path(self, inputs: StepInputs) -> tuple[np.ndarray, np.ndarray]:
        """The shifted (sources, targets) weights for kernels.py's linear delay path, or
        empty arrays (per-delay sums): without delays, where a shift is not exact on the
        weights, or where a ring entry could leave int32: one holds the arrivals of up to
        D + 1 steps, each at most (a step's input events x |value| x max |w_in| + N max
        |w_rec|) (only graded inputs with large values or crowded steps come near)."""
        empty = np.zeros((0, 0), np.int32)
        n_rows = self._delays[0]
        if n_rows == 1 or any(w is None for w in self._linear):
            return empty, empty
        per_step = 0
        if len(inputs.steps):
            sample = np.repeat(np.arange(len(inputs)), np.diff(inputs.offsets))
            per_step = int(np.bincount(sample * inputs.n_steps + inputs.steps).max())
        v_max = int(np.abs(inputs.values).max(initial=1))
        w_ff, w_rec = (int(np.abs(w).max(initial=0)) for w in self._linear)
        if n_rows * (per_step * v_max * w_ff + self.n_hidden * w_rec) >= 1 << 31:
            return empty, empty
        return self._linear

    def _activity(self, counts: np.ndarray, n_steps: int) -> Activity:
        """Activity record: SOPs = input events x N + hidden spikes x (N + C) (every
        synapse of an active source); effective SOPs count only its non-zero weights."""
        n = counts.shape[0]
        return Activity(
            input_events=counts[:, 0].copy(), hidden_spikes=counts[:, 1].copy(),
            output_spikes=counts[:, 2].copy(),
            synaptic_ops=counts[:, 0] * self.n_hidden + counts[:, 1] * (self.n_hidden
                                                                        + self.n_out),
            neuron_updates=np.full(n, n_steps * (self.n_hidden + self.n_out), np.int64),
            effective_synaptic_ops=counts[:, 3].copy())


def _shifted_weights(syn: SynapseWeights) -> np.ndarray | None:
    """The Dense weights shifted by their exponent, (sources, targets) int32, where that
    shift is exact on every sum of them (kernels.py: a left shift, or a right shift by k of
    multiples of 2^k); None where it is not."""
    w = syn.weights.astype(np.int64)
    if syn.weight_exp >= 0:
        w = w << syn.weight_exp
    elif np.any(w & ((1 << -syn.weight_exp) - 1)):
        return None
    else:
        w = w >> -syn.weight_exp
    if np.abs(w).max(initial=0) >= 1 << 22:   # x N_in events stays far inside int64
        return None
    return np.ascontiguousarray(w.T.astype(np.int32))


def _delay_layout(d_in: np.ndarray | None, d_rec: np.ndarray | None, ff_shape: tuple,
                  rec_shape: tuple) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Checked (targets, sources) delays (zeros where None) and the kernel's
    (n_rows, off_ff, off_rec, ff_delayed): ring rows D + 1, per synapse d N + j (sources,
    targets), and whether any input delay is above 0 (else input events add whole rows)."""
    delays = []
    for name, d, shape in (("d_in", d_in, ff_shape), ("d_rec", d_rec, rec_shape)):
        d = np.zeros(shape, np.int64) if d is None else np.asarray(d)
        if d.shape != shape or d.dtype.kind not in "iu" or (d.size and d.min() < 0):
            raise ValueError(f"{name}: delays must be non-negative integers of shape {shape} "
                             f"(targets, sources), got {d.dtype} {d.shape}")
        delays.append(d.astype(np.int64))
    top = max(int(d.max(initial=0)) for d in delays)
    if top == 0:
        dummy = np.zeros((1, 1), np.uint32)
        return delays[0], delays[1], (1, dummy, dummy, False)
    n_hid = ff_shape[0]
    # unsigned: numba's indexing then skips its negative-index wraparound (kernels.py)
    offsets = [np.ascontiguousarray((d.T * n_hid + np.arange(n_hid)).astype(np.uint32))
               for d in delays]
    return delays[0], delays[1], (top + 1, *offsets, bool(delays[0].max(initial=0) > 0))


def stream_bounds(n_samples: int, stream_len: int | None) -> np.ndarray:
    """Sample index bounds of consecutive streams of `stream_len` samples (None: one)."""
    if stream_len is None:
        return np.array([0, n_samples], np.int64)
    if stream_len < 1:
        raise ValueError(f"stream_len must be >= 1 or None, got {stream_len}")
    return np.unique(np.append(np.arange(0, n_samples, stream_len), n_samples)).astype(np.int64)


class _threads:
    """Context manager: temporarily set numba's thread count (None: leave as is)."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.previous = numba.get_num_threads()

    def __enter__(self) -> None:
        if self.threads is not None:
            numba.set_num_threads(max(1, min(self.threads, numba.config.NUMBA_NUM_THREADS)))

    def __exit__(self, *exc: object) -> None:
        numba.set_num_threads(self.previous)
