"""Rule `prepare`: validate a raw Heidelberg-format split and store its flat event arrays."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.events import save_npz
from neurokws.data.heidelberg import read_split
from neurokws.data.prepared import check_nonempty, split_summary
from neurokws.utils.atomic import write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
split = read_split(snakemake.input[0])
check_nonempty(split, str(snakemake.input[0]), bool(snakemake.params.allow_empty))
summary = split_summary(split)
save_npz(snakemake.output.events, split)
write_json(snakemake.output.summary, {
    **summary, "source_file": str(snakemake.input[0]),
    "provenance": rule_provenance(snakemake)})
log.info("%s: %d samples, %.0f events/sample", snakemake.input[0], summary["n_samples"],
         summary["events_per_sample_mean"])
