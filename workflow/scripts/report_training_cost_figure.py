"""Rule `figure_training_cost`: Figure 3 (memory and time per epoch against T)."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from neurokws.reports.training_cost_figure import plot_training_cost
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
logging.getLogger("fontTools").setLevel(logging.WARNING)
plot_training_cost(pd.read_csv(snakemake.input[0]), snakemake.output.png, snakemake.output.pdf)
