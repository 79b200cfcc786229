"""Data stage: generate or download the Heidelberg-format splits, prepare them, draw rasters."""


rule generate_synthetic:
    """Write a synthetic cochlea-like keyword dataset in the SHD HDF5 format."""
    output:
        train="results/{dataset}/data/train.h5",
        test="results/{dataset}/data/test.h5",
    wildcard_constraints:
        dataset=datasets_of("synthetic"),
    params:
        settings=lambda wildcards: config["datasets"][wildcards.dataset]["synthetic"],
    log:
        "results/{dataset}/logs/generate_synthetic.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/generate_synthetic.py"


rule generate_sequence:
    """Write the sequence-detection task (ordered pattern pairs a gap apart) as HDF5."""
    output:
        train="results/{dataset}/data/train.h5",
        test="results/{dataset}/data/test.h5",
    wildcard_constraints:
        dataset=datasets_of("sequence"),
    params:
        settings=lambda wildcards: config["datasets"][wildcards.dataset]["sequence"],
    log:
        "results/{dataset}/logs/generate_sequence.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/generate_sequence.py"


rule plan_corpus:
    """List a speech corpus' clips (labels, speakers, splits, how to make the audio)."""
    output:
        "results/{dataset}/cochlea/plan.json",
    wildcard_constraints:
        dataset=datasets_of(*COCHLEA_SOURCES),
    params:
        source=lambda wildcards: source_of(wildcards.dataset),
        settings=lambda wildcards: config["datasets"][wildcards.dataset][
            source_of(wildcards.dataset)
        ],
    log:
        "results/{dataset}/logs/plan_corpus.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/plan_corpus.py"


rule cochlea_chunk:
    """Render one chunk of a corpus' clips and turn them into spikes with the cochlea."""
    input:
        plan="results/{dataset}/cochlea/plan.json",
    output:
        "results/{dataset}/cochlea/chunk{chunk}.npz",
    wildcard_constraints:
        dataset=datasets_of(*COCHLEA_SOURCES),
    params:
        chunks=lambda wildcards: len(cochlea_chunks(wildcards.dataset)),
        cochlea=lambda wildcards: config["datasets"][wildcards.dataset]["cochlea"],
        settings=lambda wildcards: config["datasets"][wildcards.dataset][
            source_of(wildcards.dataset)
        ],
    log:
        "results/{dataset}/logs/cochlea_chunk{chunk}.log",
    threads: 1
    resources:
        mem_mb=mem_mb("cochlea_chunk"),
        runtime=runtime("cochlea_chunk"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/cochlea_chunk.py"


rule cochlea_merge:
    """Write one split of a converted corpus in the Heidelberg HDF5 layout."""
    input:
        plan="results/{dataset}/cochlea/plan.json",
        chunks=lambda wildcards: cochlea_chunks(wildcards.dataset),
    output:
        "results/{dataset}/data/{split}.h5",
    wildcard_constraints:
        dataset=datasets_of(*COCHLEA_SOURCES),
    params:
        cochlea=lambda wildcards: config["datasets"][wildcards.dataset]["cochlea"],
    log:
        "results/{dataset}/logs/cochlea_merge_{split}.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/cochlea_merge.py"


rule download:
    """Download one SHD/SSC split with tonic's download code (verifies the md5)."""
    output:
        "resources/{corpus}/{stem}_{split}.h5",
    wildcard_constraints:
        corpus="SHD|SSC",
        stem="shd|ssc",
    log:
        "resources/{corpus}/download_{stem}_{split}.log",
    retries: 2
    resources:
        downloads=1,
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/download.py"


checkpoint prepare:
    """Validate a raw split and store it as compact flat event arrays (+ summary JSON). A
    checkpoint: under resources.max_runtime the training jobs of a cell (how many segments)
    are planned from the prepared split's size (common.smk cell_segments)."""
    input:
        raw_split_input,
    output:
        events="results/{dataset}/prepared/{split}.npz",
        summary="results/{dataset}/prepared/{split}.summary.json",
    params:
        allow_empty=lambda wildcards: config["datasets"][wildcards.dataset][
            "allow_empty_samples"
        ],
    log:
        "results/{dataset}/logs/prepare_{split}.log",
    resources:
        mem_mb=mem_mb("prepare"),
        runtime=runtime("prepare"),
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/prepare.py"


rule rasters:
    """Spike rasters of example samples per dataset (the paper's Figure 2)."""
    input:
        train="results/{dataset}/prepared/train.npz",
        test="results/{dataset}/prepared/test.npz",
    output:
        png=report(
            "results/{dataset}/figures/rasters.png",
            caption="../report/rasters.rst",
            category="Datasets",
        ),
        pdf="results/{dataset}/figures/rasters.pdf",
    params:
        n_examples=config["rasters"]["n_examples"],
    log:
        "results/{dataset}/logs/rasters.log",
    conda:
        "../../envs/neurokws.yaml"
    script:
        "../scripts/rasters.py"
