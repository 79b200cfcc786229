"""Rule `aggregate_fixed`: the float / emulator / Lava accuracy table across the grid."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.reports.tables import fixed_accuracy_table
from neurokws.utils.atomic import write_csv
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
write_csv(snakemake.output[0], fixed_accuracy_table(snakemake.input.float_metrics,
                                                    snakemake.input.fixed, snakemake.input.lava))
