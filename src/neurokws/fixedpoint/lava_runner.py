"""Run a NetX network in Lava's Loihi2SimCfg("fixed_pt") simulation; executes inside .venv-lava.

Called through the side environment "lava" (`neurokws.utils.sidecar`; the main-venv side is
lava_bridge.py): `sidecar_main(request, arrays)` runs request["jobs"], job i's StepInputs
(inputs.py: steps, channels, values, offsets, n_steps, n_channels, message_bits; optional
labels) in arrays under the prefix "j<i>_". Samples are grouped into streams of
`stream_len` consecutive samples (0: all in one); each stream is one fresh
``netx.hdf5.Network(net_config, reset_interval=T, input_message_bits=...)`` fed by a
RingBuffer with the samples back to back, as the paper ran Lava. Monitors record the output
layer's v and spikes (and with record_all u, v and spikes of both layers) at every step.

Memory: a stream's input is a dense int32 (n_in, K*T) RingBuffer (2.8 MB per 1000-step
sample), so keep stream_len modest (1 to ~100) and split big test sets into chunks.

Per job, under "j<i>_": out_v (S, T, C) int32 (unless keep_voltages is false), pred, scores
(the paper's readout), output_spikes (S,) (spikes of the output layer per sample: non-zero
means the readout was corrupted, docs/fixedpoint.md#output-threshold), stream_s (wall
seconds per stream), n_steps, and with record_all hidden_{u,v,s}, output_{u,s}.
Imports only numpy, h5py (via netx) and lava, plus this package's numpy-only modules.
"""

from __future__ import annotations

import sys
import time
from importlib import metadata
from typing import Any

import numpy as np

from neurokws.fixedpoint import lava_graph
from neurokws.fixedpoint.inputs import StepInputs
from neurokws.fixedpoint.netx_file import read_netx_raw
from neurokws.fixedpoint.readout import predict


def run_stream(net_path: str, inputs: StepInputs, samples: np.ndarray,
               record_all: bool) -> dict[str, np.ndarray]:
    """Simulate `samples` back to back in one fresh Lava network; traces (K*T, ...) per name.
    A file with synaptic delays runs in our own Lava graph (lava_graph.py): netx would give
    `delay` to both synapses of the recurrent layer and drop `delay_rec`."""
    raw = read_netx_raw(net_path)
    if raw.has_delays:
        request, arrays = lava_graph.graph_request(
            raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output, inputs.n_steps,
            inputs.message_bits, raw.d_in, raw.d_rec)
        keep = ("output_v", "output_s") + (("hidden_u", "hidden_v", "hidden_s", "output_u")
                                           if record_all else ())
        return lava_graph.run_stream(request, arrays, inputs, samples, record=keep)
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.monitor.process import Monitor

    t_len = inputs.n_steps
    total = len(samples) * t_len
    data = np.zeros((inputs.n_channels, total), dtype=np.int32)
    for j, i in enumerate(samples):
        data[:, j * t_len:(j + 1) * t_len] = inputs.dense(int(i))
    net = netx.hdf5.Network(net_config=net_path, reset_interval=t_len,
                            input_message_bits=inputs.message_bits)
    source = RingBuffer(data=data)
    source.s_out.connect(net.inp)
    hidden, output = net.layers[0].neuron, net.layers[-1].neuron
    targets = {"output_v": output.v, "output_s": output.s_out}
    if record_all:
        targets.update(hidden_u=hidden.u, hidden_v=hidden.v, hidden_s=hidden.s_out,
                       output_u=output.u)
    monitors = {}
    for name, target in targets.items():
        monitors[name] = Monitor()
        monitors[name].probe(target, total)
    try:
        net.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return {name: np.asarray(monitor.get_data()[targets[name].process.name]
                                 [targets[name].name])
                for name, monitor in monitors.items()}
    finally:
        net.stop()


def evaluate(net_path: str, inputs: StepInputs, indices: np.ndarray, stream_len: int,
             record_all: bool, log: bool = True) -> dict[str, np.ndarray]:
    """Run `indices` in streams of `stream_len` samples; collect voltages and predictions."""
    t_len = inputs.n_steps
    size = len(indices) if stream_len <= 0 else stream_len
    parts: dict[str, list[np.ndarray]] = {}
    seconds = []
    for lo in range(0, len(indices), max(size, 1)):
        samples = indices[lo:lo + size]
        start = time.perf_counter()
        traces = run_stream(net_path, inputs, samples, record_all)
        seconds.append(time.perf_counter() - start)
        if log:
            print(f"lava_runner: samples {samples[0]}..{samples[-1]} in {seconds[-1]:.1f} s",
                  file=sys.stderr, flush=True)
        for name, trace in traces.items():
            trace = trace.reshape(len(samples), t_len, -1)
            dtype = np.bool_ if name.endswith("_s") else np.int32
            if not np.array_equal(trace, np.rint(trace)):
                raise RuntimeError(f"Lava returned non-integer values for {name}")
            parts.setdefault(name, []).append(trace.astype(dtype))
    if not parts:
        raise ValueError("no samples selected")
    out = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    pred, scores = predict(out["output_v"])
    result = {"indices": indices.astype(np.int64), "out_v": out.pop("output_v"), "pred": pred,
              "scores": scores, "output_spikes": out["output_s"].sum(axis=(1, 2)).astype(np.int64),
              "stream_s": np.array(seconds), "n_steps": np.int64(t_len),
              "stream_len": np.int64(stream_len)}
    if not record_all:
        out.pop("output_s")
    result.update(out)
    return result


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> tuple[dict, dict]:
    """Side-environment entry: run every job of request["jobs"] (see module docstring)."""
    out: dict[str, np.ndarray] = {}
    for i, job in enumerate(request["jobs"]):
        prefix = f"j{i}_"
        mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        inputs = StepInputs.from_arrays(mine)
        indices = np.arange(len(inputs), dtype=np.int64)
        start = time.perf_counter()
        result = evaluate(str(job["net"]), inputs, indices, int(job["stream_len"]),
                          bool(job["record_all"]))
        result["wall_s"] = np.float64(time.perf_counter() - start)
        if not job["keep_voltages"]:
            result.pop("out_v")   # (S, T, C) int32: 2.8 GB for SSC's test set
        if "labels" in mine:
            result["labels"] = np.asarray(mine["labels"])
            result["accuracy"] = np.float64(np.mean(result["pred"] == result["labels"]))
        out.update({prefix + k: v for k, v in result.items()})
    return {"lava-nc": metadata.version("lava-nc"), "lava-dl": metadata.version("lava-dl")}, out
