"""Rule `cochlea_merge`: one split of a converted corpus in the Heidelberg HDF5 layout
(stages.data)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.data import cochlea_merge
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
cochlea_merge(snakemake.input.plan, list(snakemake.input.chunks), snakemake.output[0],
              split_name=snakemake.wildcards.split, cochlea=snakemake.params.cochlea,
              provenance=provenance_of(snakemake))
