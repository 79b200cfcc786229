"""Fixed-point stage: bit-exact emulator on the whole test set, Lava Loihi2SimCfg on chunks."""


rule eval_fixed:
    """Emulator accuracy of the NetX model on the whole test set, both input modes."""
    input:
        net=f"{CELL}/{{quant}}{{bits}}/model.net",
        test="results/{dataset}/prepared/test.npz",
    output:
        summary=f"{CELL}/{{quant}}{{bits}}/eval_fixed.json",
        predictions=f"{CELL}/{{quant}}{{bits}}/predictions_fixed.csv",
    params:
        modes=config["fixed_point"]["input_modes"],
    log:
        f"{CELL}/logs/eval_fixed_{{quant}}{{bits}}.log",
    threads: train_threads
    resources:
        mem_mb=mem_mb("eval_fixed"),
        runtime=runtime("eval_fixed"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/eval_fixed.py"


rule eval_lava_chunk:
    """One chunk of the seeded Lava subset in Loihi2SimCfg(select_tag='fixed_pt')."""
    input:
        lava=side_env_stamp("lava"),
        net=f"{CELL}/{{quant}}{{bits}}/model.net",
        test="results/{dataset}/prepared/test.npz",
    output:
        f"{CELL}/{{quant}}{{bits}}/lava/{{mode}}_chunk{{chunk}}.npz",
    params:
        n_subset=LAVA["n_samples"],
        n_chunks=LAVA_CHUNKS,
    log:
        f"{CELL}/logs/eval_lava_{{quant}}{{bits}}_{{mode}}_chunk{{chunk}}.log",
    resources:
        mem_mb=mem_mb("eval_lava_chunk"),
        runtime=runtime("eval_lava_chunk"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/eval_lava_chunk.py"


rule merge_lava:
    """Lava accuracy on its subset and agreement with the emulator's predictions."""
    input:
        chunks=expand(
            f"{CELL}/{{quant}}{{bits}}/lava/{{mode}}_chunk{{chunk}}.npz",
            chunk=range(LAVA_CHUNKS),
            allow_missing=True,
        ),
        emulator=f"{CELL}/{{quant}}{{bits}}/predictions_fixed.csv",
        net=f"{CELL}/{{quant}}{{bits}}/model.net",
    output:
        f"{CELL}/{{quant}}{{bits}}/eval_lava_{{mode}}.json",
    log:
        f"{CELL}/logs/merge_lava_{{quant}}{{bits}}_{{mode}}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/merge_lava.py"


rule aggregate_fixed:
    """Float vs emulator (both input modes) vs Lava accuracy per model: the fixed-point table."""
    input:
        float_metrics=cell_paths("eval_float.json"),
        fixed=fixed_paths("eval_fixed.json"),
        # Lava checks the deployed bit width's models (a subset, seconds per sample).
        lava=[p for m in LAVA_MODES for p in fixed_paths(f"eval_lava_{m}.json", DEPLOYED_BITS)],
    output:
        report(
            "results/tables/accuracy_fixed.csv",
            caption="../report/accuracy_fixed.rst",
            category="Accuracy",
        ),
    log:
        "results/logs/aggregate_fixed.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/aggregate_fixed.py"
