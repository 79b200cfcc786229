"""Rule `merge_lava`: Lava accuracy on its subset and agreement with the emulator."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import numpy as np
import pandas as pd

from neurokws.fixedpoint.evaluation import merge_lava_chunks
from neurokws.utils.atomic import write_json
from neurokws.utils.provenance import provenance
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
mode = snakemake.wildcards.mode
with np.load(snakemake.input.inputs) as archive:
    sample_indices = archive["sample_indices"]
chunks = []
for path in snakemake.input.chunks:
    with np.load(path) as archive:
        chunk = {k: archive[k] for k in ("indices", "pred", "labels", "wall_s")}
    chunk["indices"] = sample_indices[chunk["indices"]]   # subset position -> test index
    chunks.append(chunk)
emulator = pd.read_csv(snakemake.input.emulator)
result = merge_lava_chunks(chunks, emulator[f"pred_{mode}"].to_numpy()
                           if f"pred_{mode}" in emulator else None)
write_json(snakemake.output[0], {
    **result, "input_mode": mode, "dataset": snakemake.wildcards.dataset,
    "hidden": int(snakemake.wildcards.hidden), "seed": int(snakemake.wildcards.seed),
    "bits": int(snakemake.wildcards.bits),
    "provenance": provenance(config=snakemake.config, seed=int(snakemake.wildcards.seed))})
log.info("Lava accuracy %.4f on %d samples, agreement %s", result["accuracy"],
         result["n_samples"], result.get("agreement_with_emulator"))
