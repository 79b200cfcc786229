"""Rule `evaluate_float`: float test accuracy, predictions and confusion matrix
(stages.train)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.train import evaluate_float
from neurokws.utils.records import CellKey
from neurokws.utils.rule_support import provenance_of, start_rule

start_rule(snakemake)
evaluate_float(snakemake.input.model, snakemake.input.test, snakemake.output.metrics,
               snakemake.output.predictions, snakemake.output.confusion,
               cell=CellKey.from_wildcards(snakemake.wildcards),
               provenance=provenance_of(snakemake))
