"""Rule `rasters`: example spike rasters of a dataset (the paper's Figure 2)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.formats.events import load_npz
from neurokws.reports.rasters import plot_rasters
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
splits = {f"{snakemake.wildcards.dataset} train": load_npz(snakemake.input.train),
          f"{snakemake.wildcards.dataset} test": load_npz(snakemake.input.test)}
plot_rasters(splits, snakemake.output.png, snakemake.output.pdf,
             n_examples=int(snakemake.params.n_examples))
