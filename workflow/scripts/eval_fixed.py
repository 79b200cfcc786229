"""Rule `eval_fixed`: bit-exact Loihi 2 emulator accuracy on the whole test set, the float
engine's accuracy on the same integers, and the model's NeuroBench-style cost metrics."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import quant_method
from neurokws.data.events import load_npz
from neurokws.deploy.metrics import static_metrics, workload_metrics
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import emulate
from neurokws.train.loop import accuracy
from neurokws.train.qat import deployed_forward
from neurokws.utils.atomic import write_csv, write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
qmodel = read_netx(snakemake.input.net)
test = load_npz(snakemake.input.test)
modes = list(snakemake.params.modes)
frame, summary = emulate(snakemake.input.net, test, qmodel.config.n_steps, qmodel.config.dt,
                         modes)
for values in summary["modes"].values():
    values.update(workload_metrics(values["activity_per_sample"], qmodel))
# The float engine on the deployed integers (12-bit decays, quantized threshold: train/qat.py)
q_config, q_weights, _ = deployed_forward(qmodel.config, qmodel)
float_quantized = accuracy(q_config, q_weights, test, delays=qmodel.delays_pre_post())
write_csv(snakemake.output.predictions, frame)
write_json(snakemake.output.summary, {
    **summary, "dataset": snakemake.wildcards.dataset,
    "hidden": int(snakemake.wildcards.hidden), "seed": int(snakemake.wildcards.seed),
    "delays": bool(snakemake.params.delays),
    "bits": qmodel.bits,   # the model file's own bit widths
    "delay_bits": qmodel.delay_bits,
    "method": quant_method(snakemake.wildcards.quant),   # ptq | qat
    "float_quantized_accuracy": float_quantized, "metrics": static_metrics(qmodel),
    "provenance": rule_provenance(snakemake)})
log.info("emulator accuracy %s, float engine on the integers %.4f",
         {m: s["accuracy"] for m, s in summary["modes"].items()}, float_quantized)
