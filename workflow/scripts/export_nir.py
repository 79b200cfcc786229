"""Rule `export_nir`: write the float model as a NIR graph."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.deploy.nir_export import export_nir
from neurokws.model.network import load_network
from neurokws.utils.rule_support import rule_provenance, start_rule

start_rule(snakemake)
net, weights, delays, _ = load_network(snakemake.input.model)
export_nir(snakemake.output[0], net, weights, provenance=rule_provenance(snakemake),
           delays=delays)   # with delays: the equivalent graph with Delay nodes
