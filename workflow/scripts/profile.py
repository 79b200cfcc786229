"""Rule `profile`: latency/energy rows for one model on one device at one batch size."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.events import load_npz
from neurokws.profiling.profile import ProfileJob, ProfileOptions, profile, write_rows
from neurokws.utils.provenance import file_sha256
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
wc = snakemake.wildcards
job = ProfileJob(model_path=snakemake.input.model, net_path=snakemake.input.net,
                 test=load_npz(snakemake.input.test),
                 model_name=f"{wc.dataset}/h{wc.hidden}{wc.delays}/seed{wc.seed}",
                 dataset=wc.dataset,
                 paper_dataset=snakemake.params.paper_dataset,
                 extra={"model_sha256": file_sha256(snakemake.input.model)})
rows = profile(wc.device, job, int(wc.batch), ProfileOptions.from_dict(snakemake.params.options))
write_rows(snakemake.output[0], rows)
for row in rows:
    log.info("%s %s b=%s: %s ms/sample (%s) %s", row.hardware, row.status, row.batch_size,
             row.latency_sample_ms, row.method, row.notes)
