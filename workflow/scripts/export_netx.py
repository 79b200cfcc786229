"""Rule `export_netx`: write the quantized model as a lava-dl NetX HDF5 file."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.deploy.netx import write_netx
from neurokws.deploy.store import load_quantized
from neurokws.utils.provenance import file_sha256
from neurokws.utils.rule_support import start_rule

start_rule(snakemake)
qmodel, record = load_quantized(snakemake.input.quantized)
record["quantized_sha256"] = file_sha256(snakemake.input.quantized)
write_netx(snakemake.output.net, qmodel, record)
