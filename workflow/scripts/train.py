"""Rules `train` and `train_segment`: Eventprop training of one cell, or one segment of its
epochs under resources.max_runtime (stages.train)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.train import train_model
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
inputs, outputs, wildcards = snakemake.input, snakemake.output, snakemake.wildcards
segment = ((int(wildcards.first), int(wildcards.stop)) if "marker" in outputs.keys()
           else None)
train_model(inputs.train, snakemake.params.cell_dir, hidden=int(wildcards.hidden),
            seed=int(wildcards.seed), model_section=snakemake.params.model,
            settings=snakemake.params.settings, delays=snakemake.params.delays,
            backend=snakemake.params.backend,
            provenance=provenance_of(snakemake, dataset=wildcards.dataset,
                                       hidden=int(wildcards.hidden)),
            valid=inputs.get("valid"), init=inputs.get("init"),
            model=outputs.get("model"), log_csv=outputs.get("log_csv"),
            marker=outputs.get("marker"), segment=segment, previous=inputs.get("previous"))
