"""Rule `generate_synthetic`: cochlea-like synthetic keyword data in the SHD HDF5 format."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.data.sources.synthetic import write_synthetic_dataset
from neurokws.utils.rule_support import start_rule

log = start_rule(snakemake)
summary = write_synthetic_dataset(snakemake.output.train, snakemake.output.test,
                                  **snakemake.params.settings)
log.info("generated %s", summary["splits"])
