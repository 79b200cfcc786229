"""Helpers of the reporting stage (report.smk): settings, optional inputs and targets."""

from neurokws.reports.published import paper_dataset  # noqa: E402

TRAINING_COST = config.get("training_cost", {})
# The Spyx venv is shared by all runs of this checkout, like .venv-lava.
SPYX_VENV = str(Path(workflow.basedir) / ".venv-spyx")
SPYX_STAMP = f"{SPYX_VENV}/.neurokws-spyx-stamp"
SPYX_RECIPE = [
    str(Path(workflow.basedir) / "envs" / "spyx" / name)
    for name in ("setup_spyx_env.sh", "requirements.txt")
] + [str(Path(workflow.basedir) / "envs" / "lib" / "build_venv.sh")]
TABLE2_CSV = "results/tables/table2.csv"  # written by the profiling stage
TABLE2_MD = "results/tables/table2.md"


def training_cost_enabled():
    return bool(TRAINING_COST.get("enabled", True))


def produced(path):
    """Whether some rule of this workflow writes `path` (stages may be left out)."""
    return any(path in map(str, rule.output) for rule in workflow.rules)


def report_bits():
    """The weight bit width Figure 4 shows: 8 if quantized to 8 bit, else the widest."""
    bits = bit_widths()
    return 8 if 8 in bits else max(bits)


def spyx_env_input(wildcards):
    """The Spyx venv stamp when the BPTT baseline is measured."""
    methods = TRAINING_COST.get("methods", ["eventprop", "bptt_spyx"])
    return [SPYX_STAMP] if "bptt_spyx" in methods else []


def summary_inputs(wildcards):
    """Everything summary.md reports on; optional stages only where they run."""
    inputs = {"accuracy": "results/tables/accuracy_summary.csv"}
    if training_cost_enabled():
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
    if training_cost_enabled():
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
