"""Fixed-point stage: bit-exact emulator on the whole test set, Lava Loihi2SimCfg on chunks."""

rule lava_env:
    """Build .venv-lava once (lava-nc 0.10 / lava-dl 0.6 on Python 3.11, two small fixes)."""
    input:
        script=LAVA_RECIPE[0],
        recipe=LAVA_RECIPE[1:],
    output:
        stamp=LAVA_STAMP,
    params:
        venv=lambda wildcards, output: os.path.dirname(output.stamp),
    log:
        "results/logs/lava_env.log",
    conda:
        "../../envs/neurokws.yaml"
    shell:
        "bash {input.script} {params.venv} > {log} 2>&1"


rule eval_fixed:
    """Emulator accuracy of the NetX model on the whole test set, both input modes."""
    input:
        net=f"{CELL}/int{{bits}}/model.net",
        test="results/{dataset}/prepared/test.npz",
    output:
        summary=f"{CELL}/int{{bits}}/eval_fixed.json",
        predictions=f"{CELL}/int{{bits}}/predictions_fixed.csv",
    params:
        modes=config.get("fixed_point", {}).get("input_modes", ["aligned", "paper"]),
    log:
        f"{CELL}/logs/eval_fixed_int{{bits}}.log",
    threads: config.get("training", {}).get("threads", 2)
    resources:
        mem_mb=4000,
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/eval_fixed.py"


rule lava_inputs:
    """The Lava subset of a test set as Loihi inputs (one file per input mode)."""
    input:
        test="results/{dataset}/prepared/test.npz",
    output:
        "results/{dataset}/lava_inputs/{mode}.npz",
    params:
        n_subset=LAVA.get("n_samples"),
    log:
        "results/{dataset}/logs/lava_inputs_{mode}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/lava_inputs.py"


rule eval_lava_chunk:
    """One chunk of the Lava subset in Loihi2SimCfg(select_tag='fixed_pt')."""
    input:
        lava_env_input,
        net=f"{CELL}/int{{bits}}/model.net",
        inputs="results/{dataset}/lava_inputs/{mode}.npz",
    output:
        f"{CELL}/int{{bits}}/lava/{{mode}}_chunk{{chunk}}.npz",
    params:
        python=lava_python(),
        src=str(Path(workflow.basedir) / "src"),
        n_chunks=LAVA_CHUNKS,
    log:
        f"{CELL}/logs/eval_lava_int{{bits}}_{{mode}}_chunk{{chunk}}.log",
    resources:
        mem_mb=3000,
        # about 12 s per sample (Lava takes 1-6 s per 1000-step sample here)
        runtime=lambda wildcards: 30 + int(LAVA.get("n_samples") or 20400) // (5 * LAVA_CHUNKS),
    conda:
        "../../envs/lava.yaml"
    shell:
        "PYTHONPATH={params.src} {params.python} -m neurokws.fixedpoint.lava_runner"
        " --net {input.net} --inputs {input.inputs} --out {output}"
        " --chunk {wildcards.chunk}/{params.n_chunks} --stream-len 1 --no-voltages > {log} 2>&1"


rule merge_lava:
    """Lava accuracy on its subset and agreement with the emulator's predictions."""
    input:
        chunks=expand(
            f"{CELL}/int{{bits}}/lava/{{mode}}_chunk{{chunk}}.npz",
            chunk=range(LAVA_CHUNKS),
            allow_missing=True,
        ),
        emulator=f"{CELL}/int{{bits}}/predictions_fixed.csv",
        inputs="results/{dataset}/lava_inputs/{mode}.npz",
    output:
        f"{CELL}/int{{bits}}/eval_lava_{{mode}}.json",
    log:
        f"{CELL}/logs/merge_lava_int{{bits}}_{{mode}}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/merge_lava.py"


rule aggregate_fixed:
    """Float vs emulator (both input modes) vs Lava accuracy per model: the fixed-point table."""
    input:
        float_metrics=cell_paths("eval_float.json"),
        fixed=fixed_paths("eval_fixed.json"),
        lava=[p for m in LAVA_MODES for p in fixed_paths(f"eval_lava_{m}.json")],
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
