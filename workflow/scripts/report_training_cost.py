"""Rule `training_cost`: Eventprop vs Spyx BPTT, one child process per method and T."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.reports.training_cost import CostSettings, run_benchmark, settings_record
from neurokws.utils.atomic import write_csv
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
settings = CostSettings.from_config(snakemake.params.settings)
log.info("settings: %s", json.dumps(settings_record(settings)))
table = run_benchmark(settings, spyx_python=snakemake.params.spyx_python)
write_csv(snakemake.output[0], table)
