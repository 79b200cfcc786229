"""Rule `cochlea_chunk`: one chunk of a corpus' clips through the cochlea (docs/cochlea.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.convert import cochlea_from_settings, convert_chunk, read_plan, save_chunk
from neurokws.data.corpus import renderer
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
plan = read_plan(snakemake.input.plan)
where = f"datasets.{snakemake.wildcards.dataset}.cochlea"
cochlea = cochlea_from_settings(snakemake.params.cochlea, where)
events = convert_chunk(plan, int(snakemake.wildcards.chunk), int(snakemake.params.chunks),
                       cochlea, renderer(plan, snakemake.params.settings), log=log.info)
save_chunk(snakemake.output[0], events)
