"""Rule `profile`: latency/energy rows for one model on one device at one batch size."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.binning import bin_events
from neurokws.data.events import load_npz
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.evaluation import split_inputs
from neurokws.model.network import load_model
from neurokws.profiling.mlgenn_timers import mlgenn_kernel_rows
from neurokws.profiling.profile import (
    ProfileOptions,
    profile_float_model,
    profile_loihi,
    write_rows,
)
from neurokws.utils.provenance import file_sha256
from neurokws.utils.rule_support import start_rule

WORKFLOW_DEVICES = {"cpu": ("cpu",), "gpu": ("gpu",), "loihi": ("loihi_hw", "loihi_estimate"),
                    "mlgenn": ()}

log = start_rule(snakemake)
device, batch = snakemake.wildcards.device, int(snakemake.wildcards.batch)
settings = {k: v for k, v in dict(snakemake.params.options).items() if k != "devices"}
options = ProfileOptions.from_dict({**settings, "devices": WORKFLOW_DEVICES[device],
                                    "batch_sizes": [batch]})
net, weights, _ = load_model(snakemake.input.model)
test = load_npz(snakemake.input.test)
if options.max_samples is not None and options.max_samples < len(test):
    test = test.subset(range(options.max_samples))
wc = snakemake.wildcards
model_name = f"{wc.dataset}/h{wc.hidden}/seed{wc.seed}"
extra = {"model_sha256": file_sha256(snakemake.input.model), "n_test_samples": len(test)}
if device == "loihi":
    inputs = split_inputs(test, "aligned", net.n_steps, net.dt)
    activity = FixedPointNetwork.from_netx(snakemake.input.net).classify(inputs).activity
    rows = profile_loihi(snakemake.input.net, inputs, activity, net, options, model=model_name,
                         **extra)
elif device == "mlgenn":
    rows = mlgenn_kernel_rows(snakemake.input.model, test, net, batch, model=model_name)
else:
    rows = profile_float_model(net, weights, bin_events(test, net.dt, net.n_steps), options,
                               model=model_name, **extra)
write_rows(snakemake.output[0], rows)
for row in rows:
    log.info("%s %s b=%s: %s ms/sample (%s) %s", row.hardware, row.status, row.batch_size,
             row.latency_sample_ms, row.method, row.notes)
