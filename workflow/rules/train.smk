"""Training stage: Eventprop training per cell, float evaluation, and the accuracy table."""


rule train_segment:
    """Train epochs first..stop - 1 of a cell whose training does not fit the partition's
    time limit (resources.max_runtime) in one job, from the checkpoint the segment before
    left; the chain's last segment is rule train."""
    input:
        unpack(segment_inputs),
    output:
        marker=f"{CELL}/segments/epochs{{first}}-{{stop}}.json",
    params:
        cell_dir=CELL,
        settings=cell_settings,
        model=cell_model,
        delays=cell_delay_training,
        backend=config["training"]["backend"],
    log:
        f"{CELL}/logs/train_epochs{{first}}-{{stop}}.log",
    threads: train_threads
    resources:
        mem_mb=mem_mb("train_segment"),
        runtime=runtime("train_segment"),
        gpu=training_gpus(config["training"]["backend"]),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/train.py"


rule train:
    """Train one (dataset, hidden, seed) cell with Eventprop; resumes from its checkpoint. A
    cell with delays may fine-tune its delay-free twin's model (training.delays.start). Under
    resources.max_runtime it is the last of a chain of segments (rule train_segment)."""
    input:
        unpack(train_inputs),
    output:
        model=f"{CELL}/model.npz",
        log_csv=f"{CELL}/train_log.csv",
    params:
        cell_dir=CELL,
        # Every value training uses; changing one reruns exactly these jobs.
        settings=cell_settings,
        model=cell_model,
        delays=cell_delay_training,
        backend=config["training"]["backend"],
    log:
        f"{CELL}/logs/train.log",
    threads: train_threads
    resources:
        mem_mb=mem_mb("train"),
        runtime=runtime("train"),
        gpu=training_gpus(config["training"]["backend"]),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/train.py"


rule evaluate_float:
    """Float test accuracy, per-sample predictions and the confusion matrix."""
    input:
        model=f"{CELL}/model.npz",
        test="results/{dataset}/prepared/test.npz",
    output:
        metrics=f"{CELL}/eval_float.json",
        predictions=f"{CELL}/predictions_float.csv",
        confusion=f"{CELL}/confusion_float.csv",
    log:
        f"{CELL}/logs/evaluate_float.log",
    threads: train_threads
    resources:
        mem_mb=mem_mb("evaluate_float"),
        runtime=runtime("evaluate_float"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/evaluate_float.py"


rule aggregate_float:
    """One row per cell: train/test accuracy and activity, for the whole grid."""
    input:
        metrics=cell_paths("eval_float.json"),
    output:
        report(
            "results/tables/accuracy_float.csv",
            caption="../report/accuracy_float.rst",
            category="Accuracy",
        ),
    log:
        "results/logs/aggregate_float.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/aggregate_float.py"


rule train_qat:
    """Quantization-aware training of one cell at one precision (training.qat): the forward
    pass runs the weights (and a cell's rounded delays, which go on learning, within
    2^b - 1 steps at qat<bits>d<b>/) as deployment quantizes them; resumes from its
    checkpoint."""
    input:
        unpack(qat_inputs),
    output:
        model=f"{CELL}/qat{{bits}}/model.npz",
        log_csv=f"{CELL}/qat{{bits}}/train_log.csv",
    params:
        cell_dir=f"{CELL}/qat{{bits}}",
        settings=lambda wildcards: qat_settings(
            config,
            wildcards.dataset,
            int(wildcards.hidden),
            parse_precision(wildcards.bits)[0],
        ).to_dict(),
        qat=lambda wildcards: quant_training(
            config, parse_precision(wildcards.bits)[0]
        ).to_dict(),
        holdout=config["training"]["qat"]["holdout"],
        model=cell_model,
        delays=cell_delay_training,
    log:
        f"{CELL}/logs/train_qat{{bits}}.log",
    threads: train_threads
    resources:
        mem_mb=mem_mb("train_qat"),
        runtime=runtime("train_qat"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/train_qat.py"
