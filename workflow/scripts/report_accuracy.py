"""Rule `figure_accuracy`: Figure 4 and its per-stage summary table (ours + the paper's)."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from neurokws.reports.accuracy import per_seed, summarise, to_csv_frame, with_paper
from neurokws.reports.figures import plot_accuracy
from neurokws.utils.atomic import write_csv
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
logging.getLogger("fontTools").setLevel(logging.WARNING)
float_table = pd.read_csv(snakemake.input.float_table)
fixed_table = pd.read_csv(snakemake.input.fixed_table)
bits = int(snakemake.params.bits)   # the deployed bit width (neurokws.config.deployed_bits)
long = per_seed(float_table, fixed_table, bits=bits)
full = with_paper(summarise(long), dict(snakemake.params.paper_names))
log.info("%d per-seed results, %d summary rows", len(long), len(full))
write_csv(snakemake.output.summary, to_csv_frame(full))
plot_accuracy(full, snakemake.output.png, snakemake.output.pdf, bits=bits)
