"""Rule `figure_inference_cost`: Table II as a figure (latency, energy; paper rows marked)."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from neurokws.reports.inference_cost import plot_inference_cost
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
logging.getLogger("fontTools").setLevel(logging.WARNING)
plot_inference_cost(pd.read_csv(snakemake.input[0]), snakemake.output.png,
                    snakemake.output.pdf)
