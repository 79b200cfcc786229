"""Rule `plan_corpus`: list a speech corpus' clips (source audio or spoken_digits)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.sources.convert import write_plan
from neurokws.data.sources.corpus import plan
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
corpus = plan(snakemake.params.source, snakemake.params.settings)
corpus["info"]["provenance"] = rule_provenance(snakemake)
write_plan(snakemake.output[0], **corpus)
splits = {}
for clip in corpus["clips"]:
    splits[clip["split"]] = splits.get(clip["split"], 0) + 1
log.info("%s: %d clips %s, %d classes, %d speakers", snakemake.params.source,
         len(corpus["clips"]), splits, len(corpus["keys"]), len(corpus["speakers"]))
