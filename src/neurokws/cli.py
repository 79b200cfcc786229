"""The `neurokws` command: what users do with models outside the Snakemake workflow.

    neurokws inspect FILE                   model .npz, quantized .npz or NetX .net: sizes,
                                            time constants, scales, provenance
    neurokws emulate NET SPLIT [--mode ..]  the bit-exact Loihi 2 emulator on a Heidelberg
                                            HDF5 split (.h5/.h5.gz/.h5.zip): accuracy, activity
    neurokws quantize MODEL --out DIR       post-training quantization of a float model and
                                            export to NetX (DIR/model.net) and NIR (model.nir)
    neurokws golden                         the golden pipeline's bits against the reference
                                            (exit 1 where this machine's differ)
    neurokws plan [--configfile F] [..]     the grid's jobs and what they ask a cluster for,
                                            before submission (exit 1 where the workflow
                                            would refuse a job; neurokws/plan.py)
    neurokws job-costs [RESULTS]            what each rule of a finished run cost: jobs, wall
                                            and CPU seconds (neurokws/utils/job_costs.py)

Defaults (bits, percentile, input mode) are the config schema's (config/schema.yaml).
Bad input exits with status 2 and a message naming the file and the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.utils.errors import NeurokwsError


def _describe_model(path: Path) -> dict[str, Any]:
    """A float model file (train rule output, model.npz)."""
    from neurokws.model.network import load_model

    net, weights, prov = load_model(path)
    return {"kind": "float model", "file": str(path), "network": net.to_dict(),
            "weights": {k: {"shape": list(a.shape), "dtype": str(a.dtype),
                            "abs_max": float(np.abs(a).max())}
                        for k, a in weights.arrays().items()},
            "provenance": _provenance_summary(prov)}


def _describe_quantized(path: Path) -> dict[str, Any]:
    from neurokws.deploy.store import load_quantized

    qmodel, prov = load_quantized(path)
    return {"kind": "quantized model", "file": str(path), "network": qmodel.config.to_dict(),
            "quantization": qmodel.summary(), "provenance": _provenance_summary(prov)}


def _describe_netx(path: Path) -> dict[str, Any]:
    from neurokws.deploy.netx import read_netx, read_provenance
    from neurokws.fixedpoint.netx_file import read_netx_raw

    raw = read_netx_raw(path)
    info: dict[str, Any] = {"kind": "NetX network", "file": str(path),
                            "layers": raw_layers(raw)}
    try:
        qmodel = read_netx(path)
    except NeurokwsError as exc:     # another tool's file: no trial length recorded
        info["note"] = str(exc)
        return info
    info.update(network=qmodel.config.to_dict(), quantization=qmodel.summary(),
                provenance=_provenance_summary(read_provenance(path)))
    return info


def raw_layers(raw: Any) -> list[dict[str, Any]]:
    """Sizes and neuron constants of a NetX file as netx reads them."""
    def neuron(params: Any) -> dict[str, int]:
        return {"vth_mant": int(params.vth_mant), "i_decay": int(params.i_decay),
                "v_decay": int(params.v_decay)}

    return [{"layer": "hidden (dense_rec)", "inputs": int(raw.w_in.shape[1]),
             "size": int(raw.w_in.shape[0]), **neuron(raw.hidden),
             "weight_range": [int(min(raw.w_in.min(), raw.w_rec.min())),
                              int(max(raw.w_in.max(), raw.w_rec.max()))]},
            {"layer": "output (dense)", "size": int(raw.w_out.shape[0]), **neuron(raw.output),
             "weight_range": [int(raw.w_out.min()), int(raw.w_out.max())]}]


def _provenance_summary(prov: dict[str, Any]) -> dict[str, Any]:
    keys = ("rule", "wildcards", "seed", "git_commit", "created_utc", "selection",
            "selected_epoch", "versions")
    summary = {k: prov[k] for k in keys if k in prov}
    if "params" in prov:
        summary["params"] = prov["params"]
    return summary


def inspect_file(path: str | Path) -> dict[str, Any]:
    """Describe a model, quantized model or NetX file (detected from its content)."""
    from neurokws.utils.errors import ModelFormatError

    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"\x89HDF"):
        return _describe_netx(path)
    if magic.startswith(b"PK"):
        with np.load(path, allow_pickle=False) as archive:
            quantized = "meta" in archive.files and "network_config" not in archive.files
        return _describe_quantized(path) if quantized else _describe_model(path)
    raise ModelFormatError(f"{path}: neither a neurokws model (.npz) nor a NetX file (.net); "
                           "give a results/<dataset>/h<N>/seed<S>/model.npz or int<b>/model.net")


def emulate_split(net_path: str | Path, split_path: str | Path, mode: str,
                  max_samples: int | None = None, n_steps: int | None = None,
                  dt_ms: float | None = None) -> dict[str, Any]:
    """Accuracy and per-sample activity of a NetX file on a Heidelberg-format split."""
    from neurokws.config import default_network
    from neurokws.data.formats.heidelberg import read_split
    from neurokws.deploy.netx import read_netx
    from neurokws.fixedpoint.evaluation import emulate
    from neurokws.fixedpoint.netx_file import read_netx_raw

    split = read_split(split_path)
    if max_samples is not None:
        split = split.subset(np.arange(min(max_samples, len(split))))
    if n_steps is None and dt_ms is None:
        config = read_netx(net_path).config   # the model's own trial length and dt
    else:
        raw = read_netx_raw(net_path)
        given = {k: v for k, v in (("n_steps", n_steps), ("dt", dt_ms)) if v is not None}
        config = default_network(raw.w_in.shape[0], raw.w_out.shape[0],
                                 n_in=raw.w_in.shape[1], **given)
    _, summary = emulate(net_path, split, config.n_steps, config.dt, [mode])
    return {"net": str(net_path), "split": str(split_path), "input_mode": mode,
            "n_steps": config.n_steps, "dt_ms": config.dt, **summary["modes"][mode],
            "n_samples": summary["n_samples"]}


def quantize_export(model_path: str | Path, out_dir: str | Path, bits: int,
                    percentile: float, nir: bool = True) -> dict[str, str]:
    """Quantize a float model and write DIR/quantization.json, DIR/model.net (+ .net.json)
    and, with nir, DIR/model.nir; returns the paths written."""
    from neurokws.deploy.netx import write_netx
    from neurokws.deploy.nir_export import export_nir
    from neurokws.deploy.quantize import quantize, trained_exponents
    from neurokws.model.network import load_model
    from neurokws.utils.atomic import write_json
    from neurokws.utils.provenance import file_sha256, provenance

    net, weights, prov = load_model(model_path)
    qmodel = quantize(net, weights, bits=bits, percentile=percentile, source=model_path,
                      exponents=trained_exponents(prov, bits, percentile, str(model_path)))
    record = provenance(tool="neurokws quantize", source_model=str(model_path),
                        source_model_sha256=file_sha256(model_path), bits=bits,
                        percentile=percentile)
    out = Path(out_dir)
    paths = {"quantization": str(out / "quantization.json"), "net": str(out / "model.net")}
    write_json(paths["quantization"], {"quantization": qmodel.summary(), "provenance": record})
    write_netx(paths["net"], qmodel, record)
    if nir:
        paths["nir"] = str(out / "model.nir")
        export_nir(paths["nir"], net, weights, provenance=record, source=str(model_path))
    return paths


def _print(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    for key, value in record.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for sub, item in value.items():
                print(f"  {sub}: {json.dumps(item, default=str)}")
        elif isinstance(value, list):
            print(f"{key}:")
            for item in value:
                print(f"  - {json.dumps(item, default=str)}")
        else:
            print(f"{key}: {value}")


def parser() -> argparse.ArgumentParser:
    from neurokws.config import schema_default
    from neurokws.fixedpoint.inputs import INPUT_MODES

    top = argparse.ArgumentParser(prog="neurokws", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="sizes, scales and provenance of a model or NetX file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("emulate", help="bit-exact Loihi 2 emulator accuracy on an HDF5 split")
    p.add_argument("net", help="NetX .net file")
    p.add_argument("split", help="Heidelberg-format split: .h5, .h5.gz or .h5.zip")
    p.add_argument("--mode", choices=INPUT_MODES,
                   default=schema_default("fixed_point.input_modes")[0],
                   help="input mode (docs/fixedpoint.md#input-modes)")
    p.add_argument("--max-samples", type=int, help="first N samples only")
    p.add_argument("--n-steps", type=int, help="trial length, for NetX files of other tools")
    p.add_argument("--dt-ms", type=float, help="time step, for NetX files of other tools")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("quantize", help="quantize a float model and export NetX and NIR")
    p.add_argument("model", help="float model .npz (train rule output)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--bits", type=int, default=schema_default("deploy.bits")[0])
    p.add_argument("--percentile", type=float, default=schema_default("deploy.percentile"))
    p.add_argument("--no-nir", action="store_true", help="skip the NIR export")
    sub.add_parser("golden", help="run the golden pipeline: are this machine's bits the "
                                  "reference's? (exit 1 if not; neurokws/golden.py)")
    p = sub.add_parser("plan", help="the grid's jobs, requests, core-hours and wall time "
                                    "before submission (docs/resources.md#planning-the-grid)")
    p.add_argument("--configfile", nargs="+", metavar="FILE",
                   help="the run's config file(s), as given to snakemake (later ones merged "
                   "over earlier ones; default: the embedded config/config.yaml)")
    p.add_argument("--max-runtime", type=_positive, metavar="MIN",
                   help="the partition's time limit: replaces resources.max_runtime")
    p.add_argument("--max-mem-mb", type=_positive, metavar="MB",
                   help="a node's memory: replaces resources.max_mem_mb")
    p.add_argument("--nodes", type=_positive, metavar="M", help="nodes for the wall time")
    p.add_argument("--cores-per-node", type=_positive, metavar="K",
                   help="cores per node for the wall time")
    p.add_argument("--jobs", type=_positive, metavar="N",
                   help="jobs in flight at once (default: the SLURM profile's jobs)")
    p.add_argument("--workdir", default=".", help="where the workflow runs: data prepared "
                   "there give the requests their own sizes (default: .)")
    p.add_argument("--profile", default=None, help="SLURM profile whose default-resources "
                   "the rules without a request get (default: profiles/slurm)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("job-costs", help="jobs, wall and CPU seconds per rule of a finished "
                                         "run, from its logs")
    p.add_argument("results", nargs="?", default="results", help="the run's results folder")
    return top


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def plan_grid(args: argparse.Namespace) -> int:
    """Print the plan of a config (neurokws.plan); 1 where the workflow would refuse a job."""
    from neurokws import plan
    from neurokws.config import DEFAULT_CONFIG_PATH

    configfile = args.configfile or [str(DEFAULT_CONFIG_PATH)]
    extra = {} if args.profile is None else {"profile": args.profile}
    summary = plan.run(configfile, max_runtime=args.max_runtime,
                       max_mem_mb=args.max_mem_mb, nodes=args.nodes,
                       cores_per_node=args.cores_per_node, max_in_flight=args.jobs,
                       workdir=args.workdir, **extra)
    print(json.dumps(summary, indent=2, default=str) if args.json
          else plan.render(summary, configfile))
    return 1 if summary["refused"] else 0


def golden_check() -> int:
    """Run the golden pipeline, print each stage's SHA-256 against the reference's; 0 if
    all match, else 1 (the first differing stage is where this machine's bits part)."""
    from neurokws import golden
    from neurokws.utils import target

    hashes = golden.run()
    differ = golden.compare(hashes)
    for stage, digest in hashes.items():
        print(f"{stage:9s} {digest} {'differs' if stage in differ else 'ok'}")
    print(f"target: {json.dumps(target.describe(), default=str)}")
    if differ:
        print(f"neurokws golden: the bits differ from the reference from stage "
              f"'{differ[0]}' on (same lock file? docs/model.md#portable-bits)", file=sys.stderr)
        return 1
    return 0


def print_job_costs(results: Path) -> int:
    """Print the per-rule cost table of the run under `results`."""
    from neurokws.utils import job_costs

    if not results.is_dir():
        raise NeurokwsError(f"{results}: no such folder (give the run's results folder)")
    costs = job_costs.job_costs(results)
    if not costs:
        raise NeurokwsError(f"{results}: no rule log with a 'job cost' line (logs of rules "
                            "run before neurokws logged job costs have none: rerun them)")
    print(job_costs.markdown(job_costs.by_rule(costs)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "golden":
            return golden_check()
        if args.command == "plan":
            return plan_grid(args)
        if args.command == "job-costs":
            return print_job_costs(Path(args.results))
        if args.command == "inspect":
            _print(inspect_file(args.file), args.json)
        elif args.command == "emulate":
            result = emulate_split(args.net, args.split, args.mode, args.max_samples,
                                   args.n_steps, args.dt_ms)
            _print(result, args.json)
            if result["output_spikes"]:
                print(f"warning: {result['output_spikes']} output-layer spikes in "
                      f"{result['samples_with_output_spikes']} samples: the readout of those "
                      "samples was reset (docs/fixedpoint.md#output-threshold)",
                      file=sys.stderr)
        else:
            paths = quantize_export(args.model, args.out, args.bits, args.percentile,
                                    nir=not args.no_nir)
            _print({"written": paths}, False)
    except (NeurokwsError, ValueError) as exc:
        print(f"neurokws {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
