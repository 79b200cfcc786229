"""Deployment stage: 8-bit (or swept) quantization (post-training or of QAT models), NetX
and NIR export."""


rule quantize:
    """Quantization of the float model (int<b>/: post-training, the paper's per-layer
    power-of-two scales) or of its QAT model (qat<b>/: the same quantization); at
    <b>d<db>/ the delays are held in db bits (the float model's clipped to 2^db - 1)."""
    input:
        model=deployed_model,
    output:
        quantized=f"{CELL}/{{quant}}{{bits}}/quantized.npz",
        summary=f"{CELL}/{{quant}}{{bits}}/quantization.json",
    params:
        percentile=config["deploy"]["percentile"],
        model=cell_model,
        delays=cell_has_delays,
    log:
        f"{CELL}/logs/quantize_{{quant}}{{bits}}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/quantize.py"


rule export_netx:
    """Lava-dl NetX HDF5 (dense_rec hidden layer, dense output layer) for Loihi 2."""
    input:
        quantized=f"{CELL}/{{quant}}{{bits}}/quantized.npz",
    output:
        net=f"{CELL}/{{quant}}{{bits}}/model.net",
        summary=f"{CELL}/{{quant}}{{bits}}/model.net.json",
    log:
        f"{CELL}/logs/export_netx_{{quant}}{{bits}}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/export_netx.py"


rule export_nir:
    """The float model as a NIR graph for other neuromorphic frameworks."""
    input:
        model=f"{CELL}/model.npz",
    output:
        f"{CELL}/model.nir",
    log:
        f"{CELL}/logs/export_nir.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/export_nir.py"
