"""results/summary.md: what ran, on what hardware, key numbers next to the paper's, provenance."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import yaml

from neurokws import paper
from neurokws.config import QUANT_DIRS, deployed_bits
from neurokws.profiling.training.training_cost import METHOD_LABELS
from neurokws.reports.accuracy import comparison_table
from neurokws.reports.delays import delay_effect, effect_rows, learned_rows
from neurokws.reports.inference_cost import normalise
from neurokws.reports.markdown import markdown_table
from neurokws.utils.provenance import config_hash, git_commit, package_versions

REPORT_PACKAGES = ("neurokws", "numpy", "numba", "h5py", "pandas", "matplotlib", "seaborn",
                   "snakemake", "tonic", "nir")


def _read(path: str, key: str) -> str | None:
    """The first value of `key:` in a /proc style file, else None."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.split(":")[0].strip() == key:
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def gpus() -> list[str]:
    """NVIDIA GPUs as 'name, memory' strings from nvidia-smi (empty when none)."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def hardware() -> dict[str, Any]:
    """CPU model, logical/usable cores, memory, GPUs, OS of this machine."""
    mem_kib = _read("/proc/meminfo", "MemTotal")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": _read("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
            "logical_cores": os.cpu_count(), "usable_cores": usable,
            "memory_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
            "gpus": gpus(), "platform": platform.platform(),
            "python": platform.python_version()}


def _what_ran(config: Mapping[str, Any], accuracy: pd.DataFrame) -> list[str]:
    """Bullet list of the grid and the stages that produced results."""
    model = config["model"]
    lines = ["## What ran", ""]
    for name, ds in config["datasets"].items():
        augment = ", ".join(ds["augmentations"]) or "none"
        lines.append(f"- Dataset **{name}**: source `{ds['source']}`, "
                     f"{ds['epochs']} epochs, augmentation {augment}.")
    lines.append(f"- Hidden sizes {list(config['hidden_sizes'])}, seeds "
                 f"{list(config['seeds'])}; T = {model['n_steps']} steps "
                 f"of {model['dt_ms']} ms, tau_mem {model['tau_mem_ms']} "
                 f"ms, tau_syn {model['tau_syn_ms']} ms.")
    if not accuracy.empty:
        ours = accuracy[accuracy["source"] == "ours"]
        stages = list(dict.fromkeys(ours["stage"]))
        lines.append(f"- Accuracy stages with results: {', '.join(stages)}.")
    lines.append("")
    return lines


def _hardware_lines(info: Mapping[str, Any]) -> list[str]:
    """The hardware section."""
    gpu = "; ".join(info["gpus"]) if info["gpus"] else "none detected (nvidia-smi)"
    return ["## Hardware", "",
            f"- CPU: {info['cpu']} ({info['logical_cores']} logical cores, "
            f"{info['usable_cores']} usable by this run)",
            f"- Memory: {info['memory_gib']} GiB",
            f"- GPU: {gpu}",
            f"- OS: {info['platform']}, Python {info['python']}", ""]


def _accuracy_lines(accuracy: pd.DataFrame, fixed: pd.DataFrame | None) -> list[str]:
    """Own accuracies next to the paper's (test accuracy in %, mean ± sd over seeds), and a
    warning for every model whose output layer spiked in fixed point."""
    lines = ["## Accuracy (%, mean ± sd over seeds; paper: 5 seeds, Loihi 2: 1 model)", ""]
    if accuracy.empty:
        return [*lines, "No accuracy results.", ""]
    lines.append(markdown_table(comparison_table(accuracy)))
    if accuracy["paper_dataset"].isna().all():
        lines.append("The paper has no values for these datasets (only SHD and SSC).")
    lines.append("")
    spiking = [c for c in ([] if fixed is None else fixed.columns)
               if c.endswith("_output_spikes")]
    for column in spiking:
        for rec in fixed[fixed[column].fillna(0) > 0].itertuples(index=False):
            rec = rec._asdict()
            lines.append(f"- **Warning**: {rec['dataset']} N={rec['hidden']} seed "
                         f"{rec['seed']} {QUANT_DIRS[rec.get('method', 'ptq')]}"
                         f"{rec['bits']}: {int(rec[column])} output-layer "
                         f"spikes ({column.removesuffix('_output_spikes')}); the readout of "
                         "those samples was reset (docs/fixedpoint.md#output-threshold).")
    if spiking:
        lines.append("")
    return lines


def _delay_lines(config: Mapping[str, Any], fixed: pd.DataFrame | None,
                 floats: pd.DataFrame | None) -> list[str]:
    """Learned delays (reports/delays.py): how the cells with delays were trained, each
    stage with and without them (paired over seeds), and what they learned."""
    if True not in [bool(d) for d in config["delays"]]:
        return []
    maxima = config["model"]["delays"]
    spec = config["training"]["delays"]
    what = ", ".join(f"{label} 0..{maxima[key]} steps" for key, label in
                     (("max_in", "input"), ("max_rec", "recurrent")) if maxima[key] > 0)
    if spec["start"] == "delay_free":
        how = (f"fine-tuned from each seed's delay-free model (its weights, every delay 0) for "
               f"{spec['epochs']} epochs, weights at rate {spec['weight_lr']:g} "
               f"(cosine), delays at {spec['lr']:g} steps per update "
               "(training.delays.start delay_free)")
    else:   # train/delays.py init_delays: uniform on [0, init], clipped to the maximum
        starts = []
        for key, label in (("in", "input"), ("rec", "recurrent")):
            top, init = maxima[f"max_{key}"], spec[f"init_{key}"]
            if top > 0:
                starts.append(f"{label} 0" if init == 0 else
                              f"{label} uniform on [0, {init:g}]"
                              + (f" clipped to {top}" if init > top else ""))
        how = (f"trained from the paper's initialisation like the delay-free cells, initial "
               f"delays {' and '.join(starts)} steps, delays at {spec['lr']:g} steps "
               "per update (training.delays.start scratch)")
    bits = deployed_bits(config)
    lines = ["## Learned delays", "",
             f"Cells with delays: per-synapse delays ({what}; model.delays), {how}. "
             f"Accuracy in % (mean ± sd over the seeds that have both cells; {bits}-bit "
             "post-training quantization for the emulator and Lava, the same Lava subset "
             "in both cells); the difference is paired by seed.", ""]
    effect = delay_effect(fixed, bits)
    lines += ([markdown_table(effect_rows(effect)), ""] if len(effect) else
              ["No seed has results with and without delays yet.", ""])
    learned = learned_rows(floats)
    if len(learned):
        lines += ["What the cells learned (the trained model's rounded delays):", "",
                  markdown_table(learned), ""]
    return lines


def _sweep_lines(sweep: pd.DataFrame | None) -> list[str]:
    """The bit-width sweep (reports/bits_sweep.py): accuracy and cost per method and bits."""
    if sweep is None or sweep.empty:
        return []

    def pm(row: Mapping[str, Any], name: str) -> str:
        mean, sd = row.get(f"{name}_mean"), row.get(f"{name}_sd")
        if mean is None or pd.isna(mean):
            return ""
        return f"{mean:.1f}" + ("" if sd is None or pd.isna(sd) else f" ± {sd:.1f}")

    rows = [{"dataset": r["dataset"], "N": r["hidden"], "delays": bool(r["delays"]),
             "method": r["method"], "bits": r["bits"],
             "delay bits": (int(r["delay_bits"]) or "none") if "delay_bits" in r else "",
             "seeds": r["n_seeds"],
             "float": pm(r, "float"), "float, quantized": pm(r, "float_quantized"),
             "emulator": pm(r, "emulator"),
             "footprint (kB)": f"{r['footprint_bytes'] / 1000:.1f}",
             "zero weights": f"{r['connection_sparsity']:.3f}",
             "effective SynOps / sample": f"{r['effective_synaptic_ops_aligned']:.3g}",
             "activation sparsity": f"{r['activation_sparsity_aligned']:.4f}"}
            for r in sweep.to_dict("records")]
    return ["## Weight bits: post-training quantization (ptq) vs quantization-aware training "
            "(qat)", "",
            "Test accuracy in % (mean ± sd over seeds): the float model, the float engine on "
            "the deployed integers, the bit-exact emulator (aligned input). Cost metrics as "
            "NeuroBench defines them, footprint at the deployed bit width "
            "(src/neurokws/deploy/metrics.py).", "",
            markdown_table(pd.DataFrame(rows)), ""]


def _training_cost_lines(cost: pd.DataFrame | None) -> list[str]:
    """Figure 3 numbers: time per epoch and training memory per method and T."""
    lines = ["## Training cost (Figure 3)", ""]
    if cost is None or cost.empty:
        return [*lines, "Not run (config `training_cost.enabled: false`).", ""]
    shown = pd.DataFrame({
        "Method": cost["method"].map(lambda m: METHOD_LABELS.get(m, m)),
        "T (steps)": cost["n_steps"].astype(int),
        "Batch time, best (s)": cost["batch_min_s"].map(lambda v: f"{v:.3f}"),
        "Batch time, median (s)": cost["batch_median_s"].map(lambda v: f"{v:.3f}"),
        "Time per epoch (s)": cost["time_per_epoch_s"].map(lambda v: f"{v:.1f}"),
        "Training memory (MiB)": cost["train_mem_mib"].map(lambda v: f"{v:.0f}"),
        "First batch incl. JIT (s)": cost["first_batch_s"].map(lambda v: f"{v:.2f}")})
    first = cost.iloc[0]
    lines += [f"N = {int(first['hidden'])}, batch {int(first['batch_size'])}, "
              f"{int(first['batches_per_epoch'])} batches per epoch (SHD's 8156 training "
              "samples, no augmentation), random SHD-like input with "
              f"{int(first['events_per_sample'])} events per sample.", "",
              markdown_table(shown)]
    wide = cost.pivot_table(index="n_steps", columns="method", values="time_per_epoch_s")
    if {"eventprop", "bptt_spyx"} <= set(wide.columns):
        ratio = (wide["bptt_spyx"] / wide["eventprop"]).round(1)
        lines.append("BPTT / Eventprop time per epoch: " + ", ".join(
            f"T={int(t)}: {r}x" for t, r in ratio.items()) + ".")
    lines += [f"Paper: {paper.FIGURE3_NOTES}", ""]
    return lines


def _table2_lines(table2: pd.DataFrame | None, table2_md: str | None) -> list[str]:
    """Table II: the profiling stage's Markdown if given, else a compact table."""
    lines = ["## Inference cost (Table II)", ""]
    if table2_md:
        return [*lines, table2_md.strip(), ""]
    if table2 is None or table2.empty:
        return [*lines, "Not available in this run.", ""]
    frame = normalise(table2)
    shown = pd.DataFrame({"Source": frame["source"], "Hardware": frame["hardware"],
                          "N": frame["hidden_size"].astype(int),
                          "B": frame["batch_size"].astype(int),
                          "Latency per batch (ms)": frame["latency_batch_ms"].round(3),
                          "Energy per sample (mJ)": frame["energy_total_mJ"].round(3)})
    return [*lines, markdown_table(shown)]


def _provenance_lines(config: Mapping[str, Any], cost: pd.DataFrame | None,
                      commit: str | None) -> list[str]:
    """Git commit, config hash, package versions and the config itself."""
    versions = package_versions(REPORT_PACKAGES)
    lines = ["## Provenance", "", f"- Git commit: `{commit or 'unknown'}`",
             f"- Config hash: `{config_hash(dict(config))}`",
             "- Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v)]
    if cost is not None and not cost.empty and "versions" in cost:
        spyx = cost.loc[cost["method"] == "bptt_spyx", "versions"].dropna()
        if len(spyx):
            record = json.loads(spyx.iloc[0]) if isinstance(spyx.iloc[0], str) else spyx.iloc[0]
            lines.append("- Spyx baseline venv: " + ", ".join(f"{k} {v}"
                                                               for k, v in record.items()))
    lines += ["", "Config:", "", "```yaml",
              yaml.safe_dump(json.loads(json.dumps(dict(config), default=str)),
                             sort_keys=False).rstrip(), "```", ""]
    return lines


def build_summary(config: Mapping[str, Any], accuracy: pd.DataFrame,
                  cost: pd.DataFrame | None = None, table2: pd.DataFrame | None = None,
                  table2_md: str | None = None, info: Mapping[str, Any] | None = None,
                  commit: str | None = None, figures: Sequence[str] = (),
                  fixed: pd.DataFrame | None = None,
                  sweep: pd.DataFrame | None = None,
                  floats: pd.DataFrame | None = None) -> str:
    """The whole summary.md text."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = ["# neurokws results summary", "",
             "Reproduction of Shoesmith et al., *Eventprop training for efficient "
             f"neuromorphic applications* (NICE 2025). Generated {stamp}.", ""]
    lines += _what_ran(config, accuracy)
    lines += _hardware_lines(info or hardware())
    lines += _accuracy_lines(accuracy, fixed)
    lines += _delay_lines(config, fixed, floats)
    lines += _sweep_lines(sweep)
    lines += _training_cost_lines(cost)
    lines += _table2_lines(table2, table2_md)
    if figures:
        lines += ["## Figures", "", *[f"- `{f}`" for f in figures], ""]
    lines += _provenance_lines(config, cost, commit if commit is not None else git_commit())
    return "\n".join(lines)
