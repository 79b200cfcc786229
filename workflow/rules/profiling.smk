"""Profiling stage: latency/energy per sample on CPU, GPU/Jetson and Loihi 2; Table II."""


rule profile:
    """One tidy CSV of measurements for (model, device, batch size); unavailable -> reason."""
    input:
        model=f"{CELL}/model.npz",
        net=f"{CELL}/int{DEPLOYED_BITS}/model.net",
        test="results/{dataset}/prepared/test.npz",
    output:
        f"{CELL}/profile/{{device}}_b{{batch}}.csv",
    params:
        options=PROFILING,
        paper_dataset=lambda wildcards: paper.paper_dataset(
            wildcards.dataset, source_of(wildcards.dataset)
        )
        or "",
    log:
        f"{CELL}/logs/profile_{{device}}_b{{batch}}.log",
    threads: PROFILING["threads"]
    resources:
        mem_mb=mem_mb("profile"),
        runtime=runtime("profile"),
        gpu=lambda wildcards: device_gpus(wildcards.device),
        # Measurements want the machine to themselves: one profiling job at a time.
        profiling_slot=1,
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/profile.py"


rule table2:
    """Table II: measured and estimate rows next to the paper's reference rows."""
    input:
        profile_paths(),
    output:
        csv=report(
            "results/tables/table2.csv",
            caption="../report/table2.rst",
            category="Inference cost",
        ),
        md=report(
            "results/tables/table2.md",
            caption="../report/table2.rst",
            category="Inference cost",
        ),
        tex=report(
            "results/tables/table2.tex",
            caption="../report/table2.rst",
            category="Inference cost",
        ),
    log:
        "results/logs/table2.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/table2.py"
