"""Rule `cochlea_chunk`: one chunk of a corpus' clips through the cochlea (docs/cochlea.md;
stages.data)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.data import cochlea_chunk
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
cochlea_chunk(snakemake.input.plan, snakemake.output[0], chunk=int(snakemake.wildcards.chunk),
              chunks=int(snakemake.params.chunks), cochlea=snakemake.params.cochlea,
              settings=snakemake.params.settings,
              where=f"datasets.{snakemake.wildcards.dataset}.cochlea")
