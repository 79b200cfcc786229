"""Rule `merge_lava`: Lava accuracy on its subset and agreement with the emulator
(stages.fixedpoint)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import quant_method
from neurokws.stages.fixedpoint import merge_lava
from neurokws.utils.records import CellKey
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
merge_lava(list(snakemake.input.chunks), snakemake.input.emulator, snakemake.input.net,
           snakemake.output[0], cell=CellKey.from_wildcards(snakemake.wildcards),
           method=quant_method(snakemake.wildcards.quant), mode=snakemake.wildcards.mode,
           provenance=provenance_of(snakemake))
