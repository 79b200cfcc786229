"""Rule `eval_fixed`: bit-exact Loihi 2 emulator accuracy on the whole test set, the float
engine's accuracy on the same integers, and the model's NeuroBench-style cost metrics
(stages.fixedpoint)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import quant_method
from neurokws.stages.fixedpoint import eval_fixed
from neurokws.utils.records import CellKey
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
eval_fixed(snakemake.input.net, snakemake.input.test, snakemake.output.summary,
           snakemake.output.predictions, cell=CellKey.from_wildcards(snakemake.wildcards),
           method=quant_method(snakemake.wildcards.quant), modes=list(snakemake.params.modes),
           provenance=provenance_of(snakemake))
