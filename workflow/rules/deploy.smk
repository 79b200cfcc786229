"""Deployment stage: 8-bit (or swept) post-training quantization, NetX and NIR export."""


rule quantize:
    """Post-training quantization of the float model (paper's per-layer power-of-two scales)."""
    input:
        model=f"{CELL}/model.npz",
    output:
        quantized=f"{CELL}/int{{bits}}/quantized.npz",
        summary=f"{CELL}/int{{bits}}/quantization.json",
    params:
        percentile=config["deploy"]["percentile"],
        model=config["model"],
        delays=cell_has_delays,
    log:
        f"{CELL}/logs/quantize_int{{bits}}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/quantize.py"


rule export_netx:
    """Lava-dl NetX HDF5 (dense_rec hidden layer, dense output layer) for Loihi 2."""
    input:
        quantized=f"{CELL}/int{{bits}}/quantized.npz",
    output:
        net=f"{CELL}/int{{bits}}/model.net",
        sidecar=f"{CELL}/int{{bits}}/model.net.json",
    log:
        f"{CELL}/logs/export_netx_int{{bits}}.log",
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
