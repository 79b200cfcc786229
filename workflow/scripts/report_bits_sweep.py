"""Rule `figure_bits_sweep`: accuracy and cost per method and weight bit width."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from neurokws.reports.bits_sweep import plot_sweep, seed_table, sweep_table
from neurokws.utils.atomic import write_csv
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
logging.getLogger("fontTools").setLevel(logging.WARNING)
seeds = seed_table(pd.read_csv(snakemake.input[0]))
write_csv(snakemake.output.seeds, seeds)
write_csv(snakemake.output.table, sweep_table(seeds))
plot_sweep(seeds, snakemake.output.png, snakemake.output.pdf)
