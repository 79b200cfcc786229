"""Rule `merge_lava`: Lava accuracy on its subset and agreement with the emulator."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import numpy as np
import pandas as pd

from neurokws.config import quant_method
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import OUTPUT_SPIKE_WARNING, merge_lava_chunks
from neurokws.utils.atomic import write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
mode = snakemake.wildcards.mode
chunks = []
for path in snakemake.input.chunks:   # indices are test-set indices (eval_lava_chunk)
    with np.load(path) as archive:
        chunks.append({k: archive[k] for k in ("indices", "pred", "labels", "wall_s",
                                               "output_spikes")})
emulator = pd.read_csv(snakemake.input.emulator)
qmodel = read_netx(snakemake.input.net)
result = merge_lava_chunks(chunks, emulator[f"pred_{mode}"].to_numpy()
                           if f"pred_{mode}" in emulator else None)
write_json(snakemake.output[0], {
    **result, "input_mode": mode, "dataset": snakemake.wildcards.dataset,
    "hidden": int(snakemake.wildcards.hidden), "seed": int(snakemake.wildcards.seed),
    "delays": bool(snakemake.params.delays),
    "bits": qmodel.bits, "delay_bits": qmodel.delay_bits,   # the model file's own
    "method": quant_method(snakemake.wildcards.quant),
    "provenance": rule_provenance(snakemake)})
log.info("Lava accuracy %.4f on %d samples, agreement %s", result["accuracy"],
         result["n_samples"], result.get("agreement_with_emulator"))
if result["output_spikes"]:
    log.warning(OUTPUT_SPIKE_WARNING, snakemake.input.emulator, result["output_spikes"],
                result["samples_with_output_spikes"], result["n_samples"], mode)
