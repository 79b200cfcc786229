"""Run a NetX network in Lava's Loihi2SimCfg("fixed_pt") simulation; executes inside .venv-lava.

    PYTHONPATH=src .venv-lava/bin/python -m neurokws.fixedpoint.lava_runner \\
        --net model.net --inputs in.npz --out out.npz [--indices 0:100 | --chunk 3/8]
        [--stream-len 1] [--record-all] [--no-voltages]
    ... -m neurokws.fixedpoint.lava_runner --manifest jobs.json   # several runs, one process

in.npz holds a ``StepInputs`` (inputs.py: steps, channels, values, offsets, n_steps,
n_channels, message_bits; optional labels). Samples are grouped into streams of
``--stream-len`` consecutive samples (0: all in one); each stream is one fresh
``netx.hdf5.Network(net_config, reset_interval=T, input_message_bits=...)`` fed by a
RingBuffer with the samples back to back, as the paper ran Lava. Monitors record the output
layer's v (and with --record-all u, v and spikes of both layers) at every step.

Memory: a stream's input is a dense int32 (n_in, K*T) RingBuffer (2.8 MB per 1000-step
sample), so keep --stream-len modest (1 to ~100) and split big test sets with --chunk.

out.npz: indices, out_v (S, T, C) int32, pred, scores (the paper's readout), stream_s
(wall seconds per stream), n_steps, and with --record-all hidden_{u,v,s}, output_{u,s}.
Imports only numpy, h5py (via netx) and lava, plus this package's numpy-only modules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from neurokws.fixedpoint.inputs import StepInputs
from neurokws.fixedpoint.readout import predict


def parse_indices(spec: str | None, chunk: str | None, n_samples: int) -> np.ndarray:
    """Sample indices from 'START:STOP' or 'I/K' (the I-th of K contiguous chunks)."""
    if spec and chunk:
        raise ValueError("give --indices or --chunk, not both")
    if chunk:
        i, k = (int(x) for x in chunk.split("/"))
        if not 0 <= i < k:
            raise ValueError(f"--chunk {chunk}: need 0 <= I < K")
        return np.array_split(np.arange(n_samples), k)[i]
    if spec:
        start, _, stop = spec.partition(":")
        return np.arange(n_samples)[slice(int(start or 0), int(stop) if stop else None)]
    return np.arange(n_samples)


def run_stream(net_path: str, inputs: StepInputs, samples: np.ndarray,
               record_all: bool) -> dict[str, np.ndarray]:
    """Simulate `samples` back to back in one fresh Lava network; traces (K*T, ...) per name."""
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
    targets = {"output_v": output.v}
    if record_all:
        targets.update(hidden_u=hidden.u, hidden_v=hidden.v, hidden_s=hidden.s_out,
                       output_u=output.u, output_s=output.s_out)
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
              "scores": scores, "stream_s": np.array(seconds), "n_steps": np.int64(t_len),
              "stream_len": np.int64(stream_len)}
    result.update(out)
    return result


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz via a temporary file and rename (never a half-written output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_job(job: dict) -> None:
    """One evaluation: {net, inputs, out, indices?, chunk?, stream_len?, record_all?}."""
    with np.load(job["inputs"]) as archive:
        arrays = {key: archive[key] for key in archive.files}
    inputs = StepInputs.from_arrays(arrays)
    indices = parse_indices(job.get("indices"), job.get("chunk"), len(inputs))
    start = time.perf_counter()
    result = evaluate(str(job["net"]), inputs, indices, int(job.get("stream_len", 1)),
                      bool(job.get("record_all", False)))
    result["wall_s"] = np.float64(time.perf_counter() - start)
    result["lava_nc_version"] = np.array(metadata.version("lava-nc"))
    result["lava_dl_version"] = np.array(metadata.version("lava-dl"))
    if not job.get("keep_voltages", True):
        result.pop("out_v")   # (S, T, C) int32: 2.8 GB for SSC's test set; predictions suffice
    if "labels" in arrays:
        labels = np.asarray(arrays["labels"])[indices]
        result["labels"] = labels
        result["accuracy"] = np.float64(np.mean(result["pred"] == labels))
    _write_npz(Path(job["out"]), result)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--net", help="NetX .net file")
    parser.add_argument("--inputs", help=".npz with a StepInputs (+ optional labels)")
    parser.add_argument("--out", help="output .npz")
    parser.add_argument("--indices", help="START:STOP subset of the samples")
    parser.add_argument("--chunk", help="I/K: the I-th of K contiguous chunks (0-based)")
    parser.add_argument("--stream-len", type=int, default=1,
                        help="samples per fresh Lava network (0: all in one); default 1")
    parser.add_argument("--record-all", action="store_true",
                        help="also record u, v, spikes of both layers (small runs only)")
    parser.add_argument("--no-voltages", action="store_true",
                        help="do not store the output voltages (predictions and scores only)")
    parser.add_argument("--manifest", help="JSON list of jobs {net, inputs, out, indices, "
                        "chunk, stream_len, record_all} run in this one process")
    args = parser.parse_args(argv)
    if args.manifest:
        jobs = json.loads(Path(args.manifest).read_text())
    elif args.net and args.inputs and args.out:
        jobs = [{"net": args.net, "inputs": args.inputs, "out": args.out,
                 "indices": args.indices, "chunk": args.chunk, "stream_len": args.stream_len,
                 "record_all": args.record_all, "keep_voltages": not args.no_voltages}]
    else:
        parser.error("give --net, --inputs and --out, or --manifest")
    for job in jobs:
        run_job(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
