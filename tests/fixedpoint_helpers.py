"""Test helpers for the fixed-point tests: a spec-layout NetX writer and random networks/inputs.

The writer follows docs/quantization.md#netx-layout exactly (the layout ml_genn_netx wrote
for the paper) but,
unlike neurokws.deploy.write_netx, accepts any integer weights, so tests can reach Lava's
clipping and sign-mode corner cases.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from neurokws.fixedpoint.inputs import StepInputs

I_DECAY, V_DECAY = 742, 200


def write_test_netx(path: Path, w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray,
                    vth_hidden: int, vth_output: int = 1 << 16, i_decay: int = I_DECAY,
                    v_decay: int = V_DECAY, input_layer: bool = True) -> Path:
    """Write /layer/{0 input, 1 dense_rec, 2 dense} as docs/quantization.md#netx-layout."""
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")
        index = 0
        if input_layer:
            group = layers.create_group("0")
            group.create_dataset("type", data=np.array(b"input", dtype="S10"))
            group.create_dataset("shape", data=np.array([w_in.shape[1]], dtype=np.int64))
            index = 1
        for offset, (kind, weights, vth) in enumerate(
                (("dense_rec", {"weight": w_in, "weight_rec": w_rec}, vth_hidden),
                 ("dense", {"weight": w_out}, vth_output))):
            group = layers.create_group(str(index + offset))
            group.create_dataset("type", data=np.array(kind.encode(), dtype="S10"))
            size = next(iter(weights.values())).shape[0]
            group.create_dataset("shape", data=np.array([size], dtype=np.int64))
            for key, value in weights.items():
                group.create_dataset(key, data=np.asarray(value, dtype=np.float32))
            neuron = group.create_group("neuron")
            neuron.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
            for key, value in (("iDecay", i_decay), ("vDecay", v_decay), ("vThMant", vth),
                               ("refDelay", 0)):
                neuron.create_dataset(key, data=np.int32(value))
            neuron.create_dataset("gradedSpike", data=np.bool_(False))
    return path


def random_weights(rng: np.random.Generator, n_in: int, n_hid: int, n_out: int,
                   ff_range: tuple[int, int] = (-40, 100), rec_range: tuple[int, int] = (-60, 60),
                   out_range: tuple[int, int] = (-128, 127)) -> tuple[np.ndarray, ...]:
    """Random integer matrices (targets, sources) with inclusive value ranges."""
    def draw(shape: tuple[int, int], bounds: tuple[int, int]) -> np.ndarray:
        return rng.integers(bounds[0], bounds[1] + 1, size=shape).astype(np.int64)
    return (draw((n_hid, n_in), ff_range), draw((n_hid, n_hid), rec_range),
            draw((n_out, n_hid), out_range))


def random_inputs(rng: np.random.Generator, n_samples: int, n_steps: int, n_channels: int,
                  rate: float, graded: bool = False, max_value: int = 3) -> StepInputs:
    """Random unary spikes (or graded values 1..max_value) at `rate` per channel and step."""
    steps, channels, values, offsets = [], [], [], [0]
    for _ in range(n_samples):
        mask = rng.random((n_steps, n_channels)) < rate
        s, c = np.nonzero(mask)
        steps.append(s)
        channels.append(c)
        values.append(rng.integers(1, max_value + 1, size=s.size) if graded
                      else np.ones(s.size, np.int64))
        offsets.append(offsets[-1] + s.size)
    return StepInputs(np.concatenate(steps), np.concatenate(channels), np.concatenate(values),
                      np.array(offsets), n_steps, n_channels, 8 if graded else 0)


def reference_run(net, inputs: StepInputs, stream_len: int | None = 1
                  ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Slow numpy re-implementation of docs/fixedpoint.md's equations, plus counts of corner cases.

    Uses the network's effective Dense weights (weights.py) and runs each stream step by
    step with dense matrix products. Returns traces like FixedPointNetwork.run(record=...)
    and counters: wrap_pos/wrap_neg (u wrapped), sat_pos/sat_neg (v clipped),
    hidden_spikes, output_spikes, leak (steps whose buffers crossed a sample boundary with
    non-zero input).
    """
    m = 1 << 23
    t_len, n = inputs.n_steps, len(inputs)
    stream = n if stream_len is None else stream_len
    names = ("hidden_u", "hidden_v", "hidden_s", "output_u", "output_v", "output_s")
    sizes = (net.n_hidden,) * 3 + (net.n_out,) * 3
    traces = {k: np.zeros((n, t_len, s), np.int64) for k, s in zip(names, sizes, strict=True)}
    counts = dict.fromkeys(("wrap_pos", "wrap_neg", "sat_pos", "sat_neg", "hidden_spikes",
                            "output_spikes", "leak"), 0)

    def trunc0(x: np.ndarray) -> np.ndarray:
        return np.sign(x) * (np.abs(x) >> 12)

    def layer(u, v, a, neuron, size):
        u = trunc0(u * (4096 - neuron.i_decay)) + (a << 6)
        counts["wrap_pos"] += int(np.sum(u > m))
        counts["wrap_neg"] += int(np.sum(u <= -m))
        u = np.where(u > m, u - 2 * m, np.where(u <= -m, u + 2 * m, u))
        bias = np.zeros(size, np.int64) if neuron.bias is None else neuron.bias.astype(np.int64)
        v = trunc0(v * (4096 - neuron.v_decay)) + u + (bias << 6)
        counts["sat_pos"] += int(np.sum(v > m - 1))
        counts["sat_neg"] += int(np.sum(v < 1 - m))
        v = np.clip(v, 1 - m, m - 1)
        s = v > (neuron.vth_mant << 6)
        return u, np.where(s, 0, v), s

    def shift(x: np.ndarray, e: int) -> np.ndarray:
        return x << e if e > 0 else x >> -e

    w_ff, w_rec, w_out = (s.weights.astype(np.int64) for s in (net.ff, net.rec, net.out))
    for start in range(0, n, stream):
        u_h = v_h = np.zeros(net.n_hidden, np.int64)
        u_o = v_o = np.zeros(net.n_out, np.int64)
        b_ff = b_rec = np.zeros(net.n_hidden, np.int64)
        b_out = np.zeros(net.n_out, np.int64)
        for smp in range(start, min(start + stream, n)):
            x = inputs.dense(smp).astype(np.int64)
            if not inputs.graded:
                x = (x != 0).astype(np.int64)
            if smp > start and (np.any(b_ff) or np.any(b_rec)):
                counts["leak"] += 1
            for t in range(t_len):
                if (t + 1) % t_len == 1 % t_len:
                    u_h, v_h = u_h * 0, v_h * 0
                if (t + 1) % t_len == 2 % t_len:
                    u_o, v_o = u_o * 0, v_o * 0
                u_h, v_h, s_h = layer(u_h, v_h, b_ff + b_rec, net.hidden, net.n_hidden)
                u_o, v_o, s_o = layer(u_o, v_o, b_out, net.output, net.n_out)
                b_ff = shift(w_ff @ x[:, t], net.ff.weight_exp)
                b_rec = shift(w_rec @ s_h, net.rec.weight_exp)
                b_out = shift(w_out @ s_h, net.out.weight_exp)
                for name, value in zip(names, (u_h, v_h, s_h, u_o, v_o, s_o), strict=True):
                    traces[name][smp, t] = value
                counts["hidden_spikes"] += int(s_h.sum())
                counts["output_spikes"] += int(s_o.sum())
    return traces, counts
