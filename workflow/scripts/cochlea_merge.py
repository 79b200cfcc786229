"""Rule `cochlea_merge`: one split of a converted corpus in the Heidelberg HDF5 layout."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.convert import merge_split, read_plan
from neurokws.data.heidelberg import write_split
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
plan = read_plan(snakemake.input.plan)
split = merge_split(plan, list(snakemake.input.chunks), snakemake.wildcards.split)
if len(split) == 0:
    raise ValueError(f"{snakemake.input.plan}: the corpus has no '{snakemake.wildcards.split}' "
                     "clips; check the dataset's split settings")
# Speaker names go into the file's attributes while they fit (HDF5 keeps attributes in the
# object header, 64 KB); the plan always has them.
names = json.dumps(plan["speakers"])
speakers = plan["speakers"] if len(names) < 48_000 else f"see {snakemake.input.plan}"
write_split(snakemake.output[0], split, attrs={
    "source": plan["source"], "speakers": speakers, "cochlea": snakemake.params.cochlea,
    "corpus": {k: v for k, v in plan["info"].items() if k != "provenance"},
    "provenance": rule_provenance(snakemake)})
log.info("%s: %d samples, %d events", snakemake.output[0], len(split), split.n_events)
