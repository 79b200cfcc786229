"""Reporting stage: Figure 4 (accuracy), Figure 3 (training cost), Table II figure, summary.

`snakemake --report results/report.html` collects every report() output below plus the
rasters (data.smk) and accuracy tables (train.smk, fixedpoint.smk) with their captions.
"""

from neurokws.reports.published import paper_dataset  # noqa: E402


report: "../report/workflow.rst"


TRAINING_COST = config.get("training_cost", {})
SPYX_VENV = str(Path(workflow.basedir) / ".venv-spyx")  # shared by all runs of this checkout
SPYX_STAMP = f"{SPYX_VENV}/.neurokws-spyx-stamp"
SPYX_RECIPE = [
    str(Path(workflow.basedir) / "envs" / "spyx" / name)
    for name in ("setup_spyx_env.sh", "requirements.txt")
]
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
    return [*report_figures()[len(DATASETS) :], "results/summary.md", "results/summary.html"]


rule figure_accuracy:
    """Figure 4: accuracy per stage (mean ± sd over seeds) next to the paper's values."""
    input:
        float_table="results/tables/accuracy_float.csv",
        fixed_table="results/tables/accuracy_fixed.csv",
    output:
        png=report(
            "results/figures/accuracy.png",
            caption="../report/accuracy_figure.rst",
            category="Accuracy",
            labels={"figure": "Figure 4: accuracy"},
        ),
        pdf="results/figures/accuracy.pdf",
        summary=report(
            "results/tables/accuracy_summary.csv",
            caption="../report/accuracy_summary.rst",
            category="Accuracy",
            labels={"figure": "Figure 4: data"},
        ),
    params:
        paper_names={d: paper_dataset(d, source_of(d)) for d in DATASETS},
        bits=report_bits(),
    log:
        "results/logs/figure_accuracy.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_accuracy.py"


rule spyx_env:
    """Build .venv-spyx once (spyx 1.0.0, CPU JAX 0.10.2, Python 3.11) for the BPTT baseline."""
    input:
        script=SPYX_RECIPE[0],
        recipe=SPYX_RECIPE[1:],
    output:
        stamp=SPYX_STAMP,
    params:
        venv=lambda wildcards, output: os.path.dirname(output.stamp),
    log:
        "results/logs/spyx_env.log",
    conda:
        "../../envs/neurokws.yaml"
    shell:
        "bash {input.script} {params.venv} > {log} 2>&1"


rule training_cost:
    """Figure 3 data: Eventprop vs Spyx BPTT time per epoch and memory over T (whole machine)."""
    input:
        spyx_env_input,
    output:
        report(
            "results/training_cost/training_cost.csv",
            caption="../report/training_cost_table.rst",
            category="Training cost",
            labels={"figure": "Figure 3: data"},
        ),
    params:
        settings=TRAINING_COST,
        spyx_python=f"{SPYX_VENV}/bin/python",
    log:
        "results/logs/training_cost.log",
    threads: workflow.cores
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_training_cost.py"


rule figure_training_cost:
    """Figure 3: training memory and time per epoch against the number of timesteps."""
    input:
        "results/training_cost/training_cost.csv",
    output:
        png=report(
            "results/figures/training_cost.png",
            caption="../report/training_cost.rst",
            category="Training cost",
            labels={"figure": "Figure 3: training cost"},
        ),
        pdf="results/figures/training_cost.pdf",
    log:
        "results/logs/figure_training_cost.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_training_cost_figure.py"


rule figure_inference_cost:
    """Table II as a figure: latency and energy per sample, the paper's rows marked."""
    input:
        TABLE2_CSV,
    output:
        png=report(
            "results/figures/inference_cost.png",
            caption="../report/inference_cost.rst",
            category="Inference cost",
            labels={"figure": "Table II: figure"},
        ),
        pdf="results/figures/inference_cost.pdf",
    log:
        "results/logs/figure_inference_cost.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_inference_cost.py"


rule summary:
    """results/summary.md (+ HTML): what ran, hardware, key numbers vs the paper, provenance."""
    input:
        unpack(summary_inputs),
    output:
        md=report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="Summary",
            labels={"file": "summary.md"},
        ),
        html=report(
            "results/summary.html",
            caption="../report/summary_html.rst",
            category="Summary",
            labels={"file": "summary (page)"},
        ),
    params:
        config=config,
        figures=lambda wildcards: report_figures(),
    log:
        "results/logs/summary.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_summary.py"
