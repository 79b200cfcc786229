"""Rule `quantize`: post-training quantization of one float model to `bits`-bit integers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from neurokws.config import network_config, parse_precision
from neurokws.deploy.quantize import quantize, trained_exponents
from neurokws.deploy.store import save_quantized
from neurokws.model.network import load_network, with_delay_bits
from neurokws.utils.atomic import write_json
from neurokws.utils.rule_support import rule_provenance, start_rule

log = start_rule(snakemake)
bits, delay_bits = parse_precision(snakemake.wildcards.bits)
net, _, _, _ = load_network(snakemake.input.model)
# Refuse a model trained under a different `model` section (e.g. another T, tau or max
# delay); a float model deployed with fewer delay bits has its delays clipped.
expected = with_delay_bits(network_config(
    {"model": snakemake.params.model}, int(snakemake.wildcards.hidden), n_out=net.n_out,
    n_in=net.n_in, delays=bool(snakemake.params.delays)), delay_bits)
net, weights, delays, prov = load_network(snakemake.input.model, expected=expected,
                                          narrow=True)
qmodel = quantize(net, weights, bits=bits, percentile=float(snakemake.params.percentile),
                  source=snakemake.input.model,
                  delays=delays,   # integer delays are carried over as they are
                  exponents=trained_exponents(prov, bits, float(snakemake.params.percentile),
                                              snakemake.input.model))
record = rule_provenance(snakemake, source_model=snakemake.input.model)
save_quantized(snakemake.output.quantized, qmodel, record)
write_json(snakemake.output.summary, {"quantization": qmodel.summary(), "provenance": record})
log.info("hidden scale 2^%d, output scale 2^%d, clipped %s", qmodel.hidden_exponent,
         qmodel.output_exponent, qmodel.clipped_fraction)
