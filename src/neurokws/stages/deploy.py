"""Deployment stage (workflow/rules/deploy.smk): quantization and the NetX file."""

from __future__ import annotations

import logging
import os
from typing import Any

from neurokws.config import network_config, parse_precision
from neurokws.deploy.netx import write_netx
from neurokws.deploy.quantize import QuantizedModel, trained_exponents
from neurokws.deploy.quantize import quantize as quantize_model
from neurokws.deploy.store import load_quantized, save_quantized
from neurokws.model.network import load_network, with_delay_bits
from neurokws.utils.atomic import write_json
from neurokws.utils.provenance import Provenance, file_sha256

PathLike = str | os.PathLike


def quantize(model: PathLike, quantized: PathLike, summary: PathLike, *, hidden: int,
             precision: str, percentile: float, model_section: dict[str, Any], delays: bool,
             provenance: Provenance) -> QuantizedModel:
    """Rule `quantize`: the float model (or its QAT model) at `precision` (config.
    precision_tag: weight bits, and delay bits where narrower than the model's), at the
    paper's per-layer power-of-two scales (or the scales QAT trained at); `quantized` (npz)
    and its `summary` (JSON). A model trained under another `model` section (T, tau, the
    largest delays) is refused; one deployed with fewer delay bits has its delays clipped."""
    log = logging.getLogger("neurokws.rule.quantize")
    bits, delay_bits = parse_precision(precision)
    net, _, _, _ = load_network(model)
    expected = with_delay_bits(network_config(
        {"model": model_section}, hidden, n_out=net.n_out, n_in=net.n_in, delays=delays),
        delay_bits)
    net, weights, learned, prov = load_network(model, expected=expected, narrow=True)
    qmodel = quantize_model(net, weights, bits=bits, percentile=float(percentile),
                            source=str(model),
                            delays=learned,   # integer delays are carried over as they are
                            exponents=trained_exponents(prov, bits, float(percentile),
                                                        str(model)))
    record = provenance()
    save_quantized(quantized, qmodel, record)
    write_json(summary, {"quantization": qmodel.summary(), "provenance": record})
    log.info("hidden scale 2^%d, output scale 2^%d, clipped %s", qmodel.hidden_exponent,
             qmodel.output_exponent, qmodel.clipped_fraction)
    return qmodel


def export_netx(quantized: PathLike, net: PathLike) -> dict[str, Any]:
    """Rule `export_netx`: the quantized model as a lava-dl NetX HDF5 file (and the JSON
    beside it); the record it carries (the quantization's provenance and the quantized
    file's SHA-256)."""
    qmodel, record = load_quantized(quantized)
    record["quantized_sha256"] = file_sha256(quantized)
    write_netx(net, qmodel, record)
    return record
