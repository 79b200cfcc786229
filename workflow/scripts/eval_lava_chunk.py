"""Rule `eval_lava_chunk`: one chunk of the seeded Lava subset, run in the Lava side venv
(stages.fixedpoint)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.fixedpoint import eval_lava_chunk
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
eval_lava_chunk(snakemake.input.net, snakemake.input.test, snakemake.output[0],
                mode=snakemake.wildcards.mode, chunk=int(snakemake.wildcards.chunk),
                n_subset=snakemake.params.n_subset, n_chunks=int(snakemake.params.n_chunks))
