"""Load NetX files in lava-dl's netx.hdf5.Network and report what it built (inside .venv-lava).

    neurokws.utils.sidecar.run_module("lava", "neurokws.deploy.netx_lava_inspect",
                                      {"nets": [...], "reset_interval": 1000,
                                       "input_message_bits": 0}).data

Returns one JSON object: for each file, the Network's layer count, its in/out port shapes
and, per layer, the block and neuron process types, the neuron Vars' initial values (du, dv,
vth, bias_mant, bias_exp), the reset parameters, and each synapse's weights as netx handed
them to Lava (after its bit optimisation) with weight_exp, num_weight_bits and
num_message_bits. Nothing is run. Imports lava and numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SYNAPSES = ("synapse", "synapse_rec")


def _value(x: Any) -> Any:
    """A Var's init (or a proc param) as a JSON value."""
    array = np.asarray(x)
    return array.item() if array.size == 1 else array.tolist()


def _synapse(proc: Any) -> dict[str, Any]:
    """Weights and fixed-point parameters of one Dense synapse process."""
    params = proc.proc_params
    return {"type": type(proc).__name__, "weights": np.asarray(proc.weights.init).tolist(),
            "weight_exp": _value(params["weight_exp"]),
            "num_weight_bits": _value(params["num_weight_bits"]),
            "num_message_bits": _value(proc.num_message_bits.init)}


def _layer(block: Any) -> dict[str, Any]:
    """Block type/shape, neuron parameters and synapses of one netx layer."""
    neuron = block.neuron
    params = neuron.proc_params
    return {"type": type(block).__name__, "shape": [int(n) for n in block.shape],
            "neuron_type": type(neuron).__name__,
            **{k: _value(getattr(neuron, k).init)
               for k in ("du", "dv", "vth", "bias_mant", "bias_exp")},
            **{k: _value(params._parameters.get(k)) for k in ("reset_interval", "reset_offset")},
            "output_message_bits": int(block.output_message_bits),
            "synapses": {name: _synapse(getattr(block, name)) for name in SYNAPSES
                         if hasattr(block, name)}}


def inspect(path: str, reset_interval: int, input_message_bits: int = 0) -> dict[str, Any]:
    """Build netx.hdf5.Network for `path` and describe it."""
    from lava.lib.dl import netx

    net = netx.hdf5.Network(net_config=path, reset_interval=reset_interval,
                            input_message_bits=input_message_bits)
    return {"n_layers": len(net), "inp_shape": [int(n) for n in net.inp.shape],
            "out_shape": [int(n) for n in net.out.shape],
            "layers": [_layer(b) for b in net.layers]}


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> dict[str, Any]:
    """Side-environment entry: {path: description} for every file in request["nets"]."""
    return {p: inspect(p, int(request["reset_interval"]), int(request["input_message_bits"]))
            for p in request["nets"]}
