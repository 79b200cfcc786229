"""Quantized models on disk between the `quantize` and `export_*` rules (.npz + provenance)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from neurokws.deploy.quantize import QuantizedModel
from neurokws.model.network import NetworkConfig
from neurokws.utils.atomic import write_npz
from neurokws.utils.errors import ModelFormatError

SCALARS = ("v_th_mant", "i_decay", "v_decay", "out_v_th_mant", "bits", "percentile",
           "hidden_exponent", "output_exponent", "weight_fold", "clipped_fraction")


def save_quantized(path: str | os.PathLike, qmodel: QuantizedModel,
                   provenance: dict[str, Any]) -> None:
    """Atomically write integer weights, neuron constants, config and provenance."""
    meta = {k: getattr(qmodel, k) for k in SCALARS}
    meta["config"] = qmodel.config.to_dict()
    write_npz(path, **qmodel.arrays(), **qmodel.delay_arrays(), meta=np.array(json.dumps(meta)),
              provenance=np.array(json.dumps(provenance, default=str)))


def load_quantized(path: str | os.PathLike) -> tuple[QuantizedModel, dict[str, Any]]:
    """Read a file written by `save_quantized`; returns the model and its provenance."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: np.array(archive[k], dtype=np.int32) for k in QuantizedModel.NAMES}
            arrays.update({k: np.array(archive[k], dtype=np.int32)
                           for k in QuantizedModel.DELAY_NAMES if k in archive})
            meta = json.loads(str(archive["meta"]))
            provenance = json.loads(str(archive["provenance"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(f"{path}: unreadable quantized model ({exc}); delete it and "
                               "rerun the `quantize` rule.") from exc
    config = NetworkConfig.from_dict(meta.pop("config"))
    if config.has_delays != ("d_in" in arrays):
        raise ModelFormatError(f"{path}: delays {sorted(set(arrays) - set(QuantizedModel.NAMES))}"
                               f" disagree with the config's max delays {config.delay_maxima}; "
                               "delete it and rerun the `quantize` rule.")
    return QuantizedModel(config=config, **arrays, **meta), provenance
