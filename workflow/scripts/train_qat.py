"""Rule `train_qat`: quantization-aware fine-tuning of a cell's float model at one bit
width (stages.train)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.train import train_qat
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
wildcards = snakemake.wildcards
train_qat(snakemake.input.train, snakemake.input.get("init"), snakemake.output.model,
          snakemake.output.log_csv, snakemake.params.cell_dir, hidden=int(wildcards.hidden),
          seed=int(wildcards.seed), precision=wildcards.bits,
          model_section=snakemake.params.model, settings=snakemake.params.settings,
          qat=snakemake.params.qat, delays=snakemake.params.delays,
          holdout=float(snakemake.params.holdout), valid=snakemake.input.get("valid"),
          provenance=provenance_of(snakemake, dataset=wildcards.dataset,
                                     hidden=int(wildcards.hidden)))
