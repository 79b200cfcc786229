"""Rule `export_netx`: the quantized model as a lava-dl NetX HDF5 file (stages.deploy)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.stages.deploy import export_netx
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
export_netx(snakemake.input.quantized, snakemake.output.net)
