"""Rule `quantize`: one float (or QAT) model at `bits`-bit integers (stages.deploy)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.deploy import quantize
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
quantize(snakemake.input.model, snakemake.output.quantized, snakemake.output.summary,
         hidden=int(snakemake.wildcards.hidden), precision=snakemake.wildcards.bits,
         percentile=float(snakemake.params.percentile), model_section=snakemake.params.model,
         delays=bool(snakemake.params.delays),
         provenance=provenance_of(snakemake, source_model=snakemake.input.model))
