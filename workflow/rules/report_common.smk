"""Helpers of the reporting stage (report.smk): optional inputs and targets."""

TABLE2_CSV = "results/tables/table2.csv"  # written by the profiling stage
TABLE2_MD = "results/tables/table2.md"
SWEEP_CSV = "results/tables/bits_sweep.csv"  # figure_bits_sweep
SWEEP_SEEDS_CSV = "results/tables/bits_sweep_seeds.csv"  # figure_bits_sweep


def produced(path):
    """Whether some rule of this workflow writes `path` (stages may be left out)."""
    return any(path in map(str, rule.output) for rule in workflow.rules)


def spyx_env_input(wildcards):
    """The Spyx venv stamp when the BPTT baseline is measured."""
    return [side_env_stamp("spyx")] if "bptt_spyx" in TRAINING_COST["methods"] else []


def summary_inputs(wildcards):
    """Everything summary.md reports on; optional stages only where they run."""
    inputs = {"accuracy": "results/tables/accuracy_summary.csv",
              "fixed": "results/tables/accuracy_fixed.csv", "sweep": SWEEP_CSV,
              "floats": "results/tables/accuracy_float.csv"}
    if TRAINING_COST["enabled"]:
        inputs["cost"] = "results/training_cost/training_cost.csv"
    if produced(TABLE2_CSV):
        inputs["table2"] = TABLE2_CSV
    if produced(TABLE2_MD):
        inputs["table2_md"] = TABLE2_MD
    return inputs


def report_figures():
    """The figure files of this run (listed in summary.md)."""
    figures = [f"results/{d}/figures/rasters.png" for d in DATASETS]
    figures.append("results/figures/accuracy.png")
    figures.append("results/figures/bits_sweep.png")
    if TRAINING_COST["enabled"]:
        figures.append("results/figures/training_cost.png")
    if produced(TABLE2_CSV):
        figures.append("results/figures/inference_cost.png")
    return figures


def report_targets():
    """Targets of the reporting stage (for rule all)."""
    return [
        *report_figures()[len(DATASETS) :],
        "results/summary.md",
        "results/summary.html",
    ]
