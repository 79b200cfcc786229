"""Our network as a Lava process graph built from lava-nc's public processes, with delays.

Executes inside .venv-lava (side environment "lava"; the main-venv side is lava_bridge.py).
lava-dl 0.6 netx cannot carry recurrent delays (it reads only `delay` and gives it to both
synapses of a RecurrentDense, without their weight exponent: lava-dl
src/lava/lib/dl/netx/blocks/process.py), so with delays the graph netx would build is built
here by hand, process for process:

    RingBuffer -> [Delay]Dense(w_in) -> LIFReset(hidden) -> Dense(w_out) -> LIFReset(output)
                                          ^-- [Delay]Dense(w_rec) <--'

with netx's parameters: the weights as netx's `optimize_weight_bits` hands them over (one
exponent and bit width for [W_in, W_rec]), du = iDecay - 1, dv = vDecay, vth = vThMant,
bias_mant and bias_exp 6, reset_interval T, reset_offset 1 (hidden) and 2 (output), and
Dense where a connection has no delays, DelayDense (lava-nc 0.10, weight_exp passed) where
it has. tests/test_fixedpoint_lava_delays.py checks that without delays this graph gives the
netx graph's u, v and spikes exactly, and with delays the emulator's.

Request: {"n_steps", "message_bits", "max_delay", "w_exp", "w_bits", "out_exp", "out_bits",
"hidden": [du, dv, vth], "output": [du, dv, vth], "stream_len"}; arrays: w_in, w_rec,
w_out (targets, sources; netx's optimised integers), d_in, d_rec (same layout, optional),
hidden_bias, output_bias, and the StepInputs arrays under "in_". Reply arrays: hidden_u,
hidden_v, hidden_s, output_u, output_v, output_s, each (samples, T, size).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np

from neurokws.fixedpoint.inputs import StepInputs

TRACES = ("hidden_u", "hidden_v", "hidden_s", "output_u", "output_v", "output_s")


def graph_request(w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray, hidden, output,
                  n_steps: int, message_bits: int, d_in: np.ndarray | None = None,
                  d_rec: np.ndarray | None = None, stream_len: int | None = None
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The request and arrays of `run_stream` (module docstring) for integer matrices
    (targets, sources) as in a NetX file, netx_file.NeuronParams `hidden`/`output` and
    optional delays (None = Dense; an array, even all zero = DelayDense)."""
    from neurokws.fixedpoint.weights import netx_optimize

    n_ff = np.asarray(w_in).shape[1]
    joint = netx_optimize(np.hstack((np.asarray(w_in), np.asarray(w_rec))))
    out = netx_optimize(np.asarray(w_out))
    delays = [d for d in (d_in, d_rec) if d is not None]
    request = {"n_steps": int(n_steps), "message_bits": int(message_bits),
               "max_delay": max([int(np.max(d, initial=0)) for d in delays], default=0),
               "w_exp": joint.weight_exp, "w_bits": joint.num_weight_bits,
               "out_exp": out.weight_exp, "out_bits": out.num_weight_bits,
               "hidden": [hidden.i_decay - 1, hidden.v_decay, hidden.vth_mant],
               "output": [output.i_decay - 1, output.v_decay, output.vth_mant],
               "stream_len": 0 if stream_len is None else int(stream_len)}
    n_hid, n_out = joint.weights.shape[0], out.weights.shape[0]
    arrays = {"w_in": joint.weights[:, :n_ff], "w_rec": joint.weights[:, n_ff:],
              "w_out": out.weights,
              "hidden_bias": (np.zeros(n_hid, np.int32) if hidden.bias is None
                              else np.asarray(hidden.bias, np.int32)),
              "output_bias": (np.zeros(n_out, np.int32) if output.bias is None
                              else np.asarray(output.bias, np.int32))}
    for name, d in (("d_in", d_in), ("d_rec", d_rec)):
        if d is not None:
            arrays[name] = np.asarray(d, np.int64)
    return request, arrays


def _synapse(weights: np.ndarray, delays: np.ndarray | None, max_delay: int, exp: int,
             bits: int, message_bits: int):
    """Dense, or DelayDense where there are delays (even all zero: tests the delay path)."""
    from lava.proc.dense.process import DelayDense, Dense

    common = dict(weights=weights, weight_exp=exp, num_weight_bits=bits,
                  num_message_bits=message_bits)
    if delays is None:
        return Dense(**common)
    return DelayDense(delays=delays.astype(int), max_delay=max_delay, **common)


def run_stream(request: dict[str, Any], arrays: dict[str, np.ndarray], inputs: StepInputs,
               samples: np.ndarray, record: tuple[str, ...] = TRACES
               ) -> dict[str, np.ndarray]:
    """Simulate `samples` back to back in one fresh graph; traces (K*T, size) per name of
    `record` (each a Monitor process, which costs Lava time every step)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset
    from lava.proc.monitor.process import Monitor

    t_len = int(request["n_steps"])
    total = len(samples) * t_len
    data = np.zeros((inputs.n_channels, total), dtype=np.int32)
    for j, i in enumerate(samples):
        data[:, j * t_len:(j + 1) * t_len] = inputs.dense(int(i))
    w_in, w_rec, w_out = arrays["w_in"], arrays["w_rec"], arrays["w_out"]
    n_hid, n_out = w_in.shape[0], w_out.shape[0]

    def neuron(which: str, size: int, offset: int) -> LIFReset:
        du, dv, vth = (int(v) for v in request[which])
        return LIFReset(shape=(size,), du=du, dv=dv, vth=vth,
                        bias_mant=arrays[f"{which}_bias"].astype(np.int32), bias_exp=6,
                        reset_interval=t_len, reset_offset=offset)

    source = RingBuffer(data=data)
    ff = _synapse(w_in, arrays.get("d_in"), int(request["max_delay"]), int(request["w_exp"]),
                  int(request["w_bits"]), int(request["message_bits"]))
    rec = _synapse(w_rec, arrays.get("d_rec"), int(request["max_delay"]),
                   int(request["w_exp"]), int(request["w_bits"]), 0)
    out = _synapse(w_out, None, 0, int(request["out_exp"]), int(request["out_bits"]), 0)
    hidden, output = neuron("hidden", n_hid, 1), neuron("output", n_out, 2)
    source.s_out.connect(ff.s_in)
    ff.a_out.connect(hidden.a_in)
    hidden.s_out.connect(rec.s_in)
    rec.a_out.connect(hidden.a_in)
    hidden.s_out.connect(out.s_in)
    out.a_out.connect(output.a_in)
    targets = {"hidden_u": hidden.u, "hidden_v": hidden.v, "hidden_s": hidden.s_out,
               "output_u": output.u, "output_v": output.v, "output_s": output.s_out}
    monitors = {}
    for name, target in targets.items():
        if name not in record:
            continue
        monitors[name] = Monitor()
        monitors[name].probe(target, total)
    try:
        source.run(condition=RunSteps(num_steps=total),
                   run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return {name: np.asarray(monitor.get_data()[targets[name].process.name]
                                 [targets[name].name])
                for name, monitor in monitors.items()}
    finally:
        source.stop()


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> tuple[dict, dict]:
    """Side-environment entry: every sample of the inputs, in streams of stream_len."""
    inputs = StepInputs.from_arrays({k[3:]: v for k, v in arrays.items()
                                     if k.startswith("in_")})
    t_len = int(request["n_steps"])
    size = len(inputs) if int(request["stream_len"]) <= 0 else int(request["stream_len"])
    parts: dict[str, list[np.ndarray]] = {name: [] for name in TRACES}
    for lo in range(0, len(inputs), size):
        samples = np.arange(lo, min(lo + size, len(inputs)))
        traces = run_stream(request, arrays, inputs, samples)
        for name in TRACES:
            trace = np.asarray(traces[name]).reshape(len(samples), t_len, -1)
            parts[name].append(trace.astype(np.bool_ if name.endswith("_s") else np.int64))
    out = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    return {"lava-nc": metadata.version("lava-nc")}, out
