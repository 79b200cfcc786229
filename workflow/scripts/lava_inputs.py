"""Rule `lava_inputs`: the Lava subset of a test split as Loihi inputs (+ labels, indices)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import numpy as np

from neurokws.data.events import load_npz
from neurokws.fixedpoint.evaluation import lava_subset, split_inputs
from neurokws.utils.atomic import write_npz
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
model = snakemake.config.get("model", {})
test = load_npz(snakemake.input.test)
indices = lava_subset(len(test), snakemake.params.n_subset)
inputs = split_inputs(test.subset(indices), snakemake.wildcards.mode,
                      int(model.get("n_steps", 1000)), float(model.get("dt_ms", 1.0)))
write_npz(snakemake.output[0], **inputs.arrays(), labels=np.asarray(test.labels)[indices],
          sample_indices=indices)
