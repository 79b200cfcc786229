"""Rule `table2`: Table II from all profile rows plus the paper's reference rows."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.reports.table2 import read_rows, write_table2
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
write_table2(read_rows(list(snakemake.input)), snakemake.output.csv, snakemake.output.md,
             snakemake.output.tex)
