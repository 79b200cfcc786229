"""Rule `eval_lava_chunk`: one chunk of the seeded Lava subset, run in the Lava side venv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import numpy as np

from neurokws.data.events import load_npz
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import lava_subset, split_inputs
from neurokws.fixedpoint.lava_bridge import run_lava
from neurokws.utils.atomic import write_npz
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
net = read_netx(snakemake.input.net).config   # trial length and dt come from the model
test = load_npz(snakemake.input.test)
subset = lava_subset(len(test), snakemake.params.n_subset)
chunk = np.array_split(subset, int(snakemake.params.n_chunks))[int(snakemake.wildcards.chunk)]
inputs = split_inputs(test.subset(chunk), snakemake.wildcards.mode, net.n_steps, net.dt)
result = run_lava(snakemake.input.net, inputs, labels=np.asarray(test.labels)[chunk],
                  keep_voltages=False)
write_npz(snakemake.output[0], **{k: v for k, v in result.items() if k != "indices"},
          indices=chunk)
log.info("Lava chunk %s: %d samples in %.1f s, accuracy %.4f", snakemake.wildcards.chunk,
         len(chunk), float(result["wall_s"]), float(result.get("accuracy", np.nan)))
