"""Reporting stage: Figure 4 (accuracy), Figure 3 (training cost), Table II figure, summary.

`snakemake --report results/report.html` collects every report() output below plus the
rasters (data.smk), accuracy tables (train.smk, fixedpoint.smk) and Table II
(profiling.smk) with their captions. Include this file after the other stages.
"""


include: "report_common.smk"


report: "../report/workflow.rst"


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
    log:
        "results/logs/figure_accuracy.log",
    conda:
        "../../envs/neurokws.yaml"
    params:
        paper_names={d: paper.paper_dataset(d, source_of(d)) for d in DATASETS},
        bits=DEPLOYED_BITS,
    script:
        "../scripts/report_accuracy.py"


rule figure_bits_sweep:
    """Accuracy and cost of every deployed model per method (ptq, qat) and bit width."""
    input:
        "results/tables/accuracy_fixed.csv",
    output:
        png=report(
            "results/figures/bits_sweep.png",
            caption="../report/bits_sweep.rst",
            category="Accuracy",
            labels={"figure": "bit-width sweep"},
        ),
        pdf="results/figures/bits_sweep.pdf",
        table=report(
            SWEEP_CSV,
            caption="../report/bits_sweep_table.rst",
            category="Accuracy",
            labels={"figure": "bit-width sweep: data"},
        ),
        seeds=report(
            SWEEP_SEEDS_CSV,
            caption="../report/bits_sweep_seeds.rst",
            category="Accuracy",
            labels={"figure": "bit-width sweep: per seed"},
        ),
    log:
        "results/logs/figure_bits_sweep.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/report_bits_sweep.py"


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
    log:
        "results/logs/training_cost.log",
    conda:
        "../../envs/neurokws.yaml"
    threads: workflow.cores
    params:
        settings=TRAINING_COST,
        model=DELAY_FREE_MODEL,   # Figure 3 measures the paper's delay-free network
        training=PLAIN_TRAINING,
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
    log:
        "results/logs/summary.log",
    conda:
        "../../envs/neurokws.yaml"
    params:
        config=config,
        figures=lambda wildcards: report_figures(),
    script:
        "../scripts/report_summary.py"
