"""Rule `eval_fixed`: bit-exact Loihi 2 emulator accuracy on the whole test set."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.events import load_npz
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import emulate
from neurokws.utils.atomic import write_csv, write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
qmodel = read_netx(snakemake.input.net)
modes = list(snakemake.params.modes)
frame, summary = emulate(snakemake.input.net, load_npz(snakemake.input.test),
                         qmodel.config.n_steps, qmodel.config.dt, modes)
write_csv(snakemake.output.predictions, frame)
write_json(snakemake.output.summary, {
    **summary, "dataset": snakemake.wildcards.dataset,
    "hidden": int(snakemake.wildcards.hidden), "seed": int(snakemake.wildcards.seed),
    "delays": bool(snakemake.params.delays),
    "bits": qmodel.bits,   # the model file's own bit width
    "provenance": rule_provenance(snakemake)})
log.info("emulator accuracy %s", {m: s["accuracy"] for m, s in summary["modes"].items()})
