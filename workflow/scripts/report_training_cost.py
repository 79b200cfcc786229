"""Rule `training_cost`: Eventprop vs Spyx BPTT, one child process per method and T."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.profiling.training.training_cost import CostSettings, run_benchmark, settings_record
from neurokws.utils.atomic import write_csv
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
settings = CostSettings.from_config(snakemake.params.settings, snakemake.params.model,
                                    snakemake.params.training)
log.info("settings: %s", json.dumps(settings_record(settings)))
write_csv(snakemake.output[0], run_benchmark(settings))
