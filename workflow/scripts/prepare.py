"""Rule `prepare`: a raw split checked and stored as compact event arrays (stages.data)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.data import prepare
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
prepare(snakemake.input[0], snakemake.output.events, snakemake.output.summary,
        allow_empty=bool(snakemake.params.allow_empty), provenance=provenance_of(snakemake))
