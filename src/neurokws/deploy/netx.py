"""NetX HDF5 export of a QuantizedModel for lava-dl netx, and a checking reader.

Layout (docs/quantization.md#netx-layout), as ml_genn_netx wrote it for the paper and lava-dl
0.6 netx reads it:

    /layer/0  type b"input" (S10), shape int64 [n_in]            (optional, no neuron group)
    /layer/1  type b"dense_rec" (S10), shape int64 [N],
              weight float32 [N, n_in], weight_rec float32 [N, N],
              neuron/{type "CUBA" (variable-length str), iDecay, vDecay, vThMant, refDelay 0
                      (int32 scalars), gradedSpike False}
              delay int32 [N, n_in], delay_rec int32 [N, N]   (models with delays only)
    /layer/2  type b"dense" (S10), shape int64 [C], weight float32 [C, N],
              neuron/{... vThMant 65536}
    /neurokws/{format_version, network_config, quantization, provenance}   (JSON strings)

Why these details: netx's NetDict decodes ``type`` from bytes (scalar or 1-element array),
reads weights with ``astype(int)`` (truncation, so we store exact integers), numbers layers
``0..k-1`` (no gaps), and only ever opens ``/layer``, so the ``/neurokws`` group is ignored.
``neuron/messageBits`` is not written: netx would then send graded spikes.
Delays (steps, (targets, sources), int32) are written as genn-team/ml_genn_netx writes them:
``delay`` for the feed-forward and ``delay_rec`` for the recurrent synapses, each only for a
connection that has delays (max_delay_in/_rec > 0). Stock lava-dl 0.6 netx reads ``delay``
only and applies it to both synapses of its RecurrentDense, without their weight exponent;
such files run in our own Lava graph (fixedpoint/lava_graph.py) instead.
A JSON summary ``<file>.json`` (`summary_path`) repeats the provenance with the .net's SHA-256.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurokws.deploy.quantize import QuantizedModel, decay_mantissa, int_range
from neurokws.model.network import NetworkConfig
from neurokws.utils import netx_layers
from neurokws.utils.atomic import atomic_path, write_json
from neurokws.utils.errors import ModelFormatError
from neurokws.utils.loihi import (
    I_DECAY_RANGE,
    MAX_VTH_MANT,
    NETX_DELAY_KEYS,
    V_DECAY_RANGE,
    check_delay_steps,
)
from neurokws.utils.provenance import file_sha256

NETX_FORMAT_VERSION = 1
META_GROUP = "neurokws"
NETX_WEIGHT_BITS = 8              # netx's weight optimisation is lossless only within int8
LAYER_TYPE_DTYPE = "S10"


def summary_path(path: str | os.PathLike) -> Path:
    """The JSON summary next to a .net file: ``model.net`` -> ``model.net.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_netx(path: str | os.PathLike, qmodel: QuantizedModel, provenance: dict[str, Any],
               include_input_layer: bool = True) -> Path:
    """Atomically write `qmodel` as a NetX .net file plus its JSON summary; return the path."""
    path = Path(path)
    check_deployable(qmodel, source=str(path))
    provenance = json.loads(json.dumps(provenance, default=_json_default))  # fail before writing
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        _write_layers(handle, qmodel, include_input_layer)
        _write_metadata(handle, qmodel, provenance)
    write_json(summary_path(path), {"netx_file": path.name, "netx_sha256": file_sha256(path),
                                    "format_version": NETX_FORMAT_VERSION,
                                    "quantization": qmodel.summary(), "provenance": provenance})
    return path


def check_deployable(qmodel: QuantizedModel, source: str = "quantized model") -> None:
    """Raise ModelFormatError unless netx/Loihi 2 can run `qmodel` exactly as quantized."""
    cfg = qmodel.config
    shapes = {"w_in": (cfg.n_hidden, cfg.n_in), "w_rec": (cfg.n_hidden, cfg.n_hidden),
              "w_out": (cfg.n_out, cfg.n_hidden)}
    lo, hi = int_range(NETX_WEIGHT_BITS)
    for name, array in qmodel.arrays().items():
        if array.shape != shapes[name]:
            raise ModelFormatError(f"{source}: {name} has shape {array.shape}, expected "
                                   f"{shapes[name]} (targets, sources) for {cfg}.")
        if array.size and (array.min() < lo or array.max() > hi):
            raise ModelFormatError(
                f"{source}: {name} holds weights outside [{lo}, {hi}]; netx/Lava would clip or "
                f"silently zero them - quantize with bits <= {NETX_WEIGHT_BITS}.")
    if not 1 <= qmodel.v_th_mant <= MAX_VTH_MANT:
        raise ModelFormatError(
            f"{source}: hidden vThMant {qmodel.v_th_mant} is outside [1, {MAX_VTH_MANT}] "
            "(Loihi 2's 17-bit field): the hidden weights are tiny relative to the threshold "
            "(scale too fine) - check the checkpoint or quantize with fewer bits.")
    if not 1 <= qmodel.out_v_th_mant <= MAX_VTH_MANT:
        raise ModelFormatError(f"{source}: output vThMant {qmodel.out_v_th_mant} is outside "
                               f"[1, {MAX_VTH_MANT}].")
    for name, (lo, hi) in (("i_decay", I_DECAY_RANGE), ("v_decay", V_DECAY_RANGE)):
        if not lo <= getattr(qmodel, name) <= hi:
            raise ModelFormatError(f"{source}: {name} {getattr(qmodel, name)} is outside "
                                   f"[{lo}, {hi}] (utils/loihi.py); check tau_syn/tau_mem/dt "
                                   "in the config.")
    for name, array in qmodel.delay_arrays().items():
        _check_delays(array, shapes["w" + name[1:]], cfg.delay_maxima[name],
                      f"{source}: {name}")


def _check_delays(array: np.ndarray, shape: tuple[int, int], top: int, where: str) -> None:
    """Delays must be whole steps in [0, min(top, Loihi 2's 62)] of the weights' shape."""
    check_delay_steps(array, shape, where)
    if array.size and array.max() > top:
        raise ModelFormatError(f"{where} has delays up to {array.max():g} steps, above the "
                               f"model's own maximum {top} (its model.delays): the delays do "
                               "not belong to this model (altered file, or another config's) - "
                               "re-export from the trained model (nothing was clipped).")


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays as Python values, anything else as its str()."""
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    return str(obj)


def _write_layers(handle: h5py.File, qmodel: QuantizedModel, include_input: bool) -> None:
    """Write /layer/<i> groups in netx's layout (see module docstring)."""
    layers = handle.create_group("layer")
    index = 0
    if include_input:
        _layer_header(layers.create_group(str(index)), "input", qmodel.config.n_in)
        index += 1
    hidden = layers.create_group(str(index))
    _layer_header(hidden, "dense_rec", qmodel.config.n_hidden)
    hidden.create_dataset("weight", data=qmodel.w_in.astype(np.float32))
    hidden.create_dataset("weight_rec", data=qmodel.w_rec.astype(np.float32))
    for name, array in qmodel.delay_arrays().items():
        if qmodel.config.delay_maxima[name] > 0:   # a connection without delays: none written
            hidden.create_dataset(NETX_DELAY_KEYS[name], data=array.astype(np.int32))
    _write_neuron(hidden, qmodel.v_th_mant, qmodel)
    output = layers.create_group(str(index + 1))
    _layer_header(output, "dense", qmodel.config.n_out)
    output.create_dataset("weight", data=qmodel.w_out.astype(np.float32))
    _write_neuron(output, qmodel.out_v_th_mant, qmodel)


def _layer_header(group: h5py.Group, layer_type: str, size: int) -> None:
    """Layer type as fixed-length bytes and shape as an int64 vector, like ml_genn_netx."""
    group.create_dataset("type", data=np.array(layer_type.encode("ascii"),
                                               dtype=LAYER_TYPE_DTYPE))
    group.create_dataset("shape", data=np.array([size], dtype=np.int64))


def _write_neuron(group: h5py.Group, v_th_mant: int, qmodel: QuantizedModel) -> None:
    """CUBA neuron parameters: type as a variable-length string, integers as int32 scalars."""
    neuron = group.create_group("neuron")
    neuron.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
    for key, value in (("iDecay", qmodel.i_decay), ("vDecay", qmodel.v_decay),
                       ("vThMant", v_th_mant), ("refDelay", 0)):
        neuron.create_dataset(key, data=np.int32(value))
    neuron.create_dataset("gradedSpike", data=np.bool_(False))


def _write_metadata(handle: h5py.File, qmodel: QuantizedModel, provenance: dict) -> None:
    """Our own records in /neurokws (netx never opens it)."""
    meta = handle.create_group(META_GROUP)
    meta.create_dataset("format_version", data=np.int32(NETX_FORMAT_VERSION))
    for key, obj in (("network_config", qmodel.config.to_dict()),
                     ("quantization", qmodel.summary()), ("provenance", provenance)):
        meta.create_dataset(key, data=json.dumps(obj, sort_keys=True, default=str),
                            dtype=h5py.string_dtype())


def read_netx(path: str | os.PathLike, expected: NetworkConfig | None = None) -> QuantizedModel:
    """Read and validate a NetX file of our 700 -> recurrent N -> C topology."""
    source = str(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ModelFormatError(f"{source}: cannot open as a NetX HDF5 file ({exc}); delete it "
                               "and rerun the export rule.") from exc
    with handle:
        hidden, output, n_in = _find_layers(handle, source)
        w_in, w_rec = (_read_weight(hidden, key, source) for key in ("weight", "weight_rec"))
        w_out = _read_weight(output, "weight", source)
        stored_delays = {name: hidden[key][()] for name, key in NETX_DELAY_KEYS.items()
                         if key in hidden}
        hid_neuron = _read_neuron(hidden, source)
        out_neuron = _read_neuron(output, source)
        meta = _read_metadata(handle, source)
        shapes = _check_shapes(hidden, output, w_in, w_rec, w_out, n_in, source)
    config = _config(meta, shapes, source, expected)
    if hid_neuron[:2] != out_neuron[:2]:
        raise ModelFormatError(f"{source}: hidden and output layers have different decays "
                               f"{hid_neuron[:2]} vs {out_neuron[:2]}; not a neurokws export.")
    if expected is not None:
        _check_expected(expected, config, shapes, hid_neuron, meta is not None, source)
    delays = _delays(stored_delays, config, w_in.shape, w_rec.shape, source, bool(meta))
    quant = meta.get("quantization", {}) if meta else {}
    return QuantizedModel(
        config=config, w_in=w_in, w_rec=w_rec, w_out=w_out, v_th_mant=hid_neuron[2],
        i_decay=hid_neuron[0], v_decay=hid_neuron[1], out_v_th_mant=out_neuron[2],
        # another tool's file records no bit width: netx stores 8-bit weights
        bits=int(quant["bits"]) if "bits" in quant else NETX_WEIGHT_BITS,
        percentile=quant.get("percentile"),
        hidden_exponent=quant.get("hidden_exponent"),
        output_exponent=quant.get("output_exponent"), weight_fold=quant.get("weight_fold"),
        clipped_fraction=dict(quant.get("clipped_fraction", {})), **delays)


def _delays(stored: dict[str, Any], config: NetworkConfig, ff_shape: tuple, rec_shape: tuple,
            source: str, ours: bool) -> dict[str, np.ndarray]:
    """The hidden layer's checked delays for a model with delays (a missing dataset = zeros
    where the connection's maximum is 0, or in another tool's file); an error if the file's
    delays and the model's config disagree, or if our own export (`ours`: it has our
    metadata, and always writes the dataset of a connection with delays) lacks one."""
    if not config.has_delays:
        if stored:
            raise ModelFormatError(
                f"{source}: the hidden layer has {sorted(NETX_DELAY_KEYS[k] for k in stored)}, but "
                f"the model it belongs to has no delays (max {config.delay_maxima}); pass the "
                "config with model.delays that trained it, or re-export.")
        return {}
    out = {}
    for name, shape in (("d_in", ff_shape), ("d_rec", rec_shape)):
        if ours and name not in stored and config.delay_maxima[name] > 0:
            raise ModelFormatError(
                f"{source}: the hidden layer has no '{NETX_DELAY_KEYS[name]}' dataset, but the "
                f"model it stores has delays up to {config.delay_maxima[name]} steps on that "
                "connection: the file was altered or truncated - rerun its export.")
        array = np.asarray(stored.get(name, np.zeros(shape, np.int32)))
        _check_delays(array, shape, config.delay_maxima[name],
                      f"{source}: /layer hidden {NETX_DELAY_KEYS[name]}")
        out[name] = array.astype(np.int32)
    return out


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record stored inside a .net file ({} if it has none)."""
    with h5py.File(path, "r") as handle:
        meta = _read_metadata(handle, str(path))
    return meta.get("provenance", {}) if meta else {}


def _find_layers(handle: h5py.File, source: str) -> tuple[h5py.Group, h5py.Group, int | None]:
    """Check /layer numbering and types; return (dense_rec, dense, input size or None)."""
    walked = netx_layers.layers(handle, source)
    types = [kind for kind, _ in walked]
    groups = [group for _, group in walked]
    n_in = None
    if types and types[0] == "input":
        if "neuron" in groups[0]:
            raise ModelFormatError(f"{source}: /layer/0 (input) has a neuron group; netx would "
                                   "insert an input neuron block that our model does not have.")
        for key in NETX_DELAY_KEYS.values():
            if key in groups[0]:
                raise ModelFormatError(f"{source}: /layer/0 (input) has '{key}', but an input "
                                       "layer has no synapses to delay; delays belong to the "
                                       "dense_rec layer - re-export the file.")
        n_in = _read_shape(groups[0], source)
        types, groups = types[1:], groups[1:]
    if types != ["dense_rec", "dense"]:
        raise ModelFormatError(
            f"{source}: layer types {types} (after the optional input layer); expected "
            "['dense_rec', 'dense'] for the recurrent hidden + readout network.")
    for group, keys in ((groups[0], ("bias", "weight/imag")),
                        (groups[1], ("delay", "delay_rec", "bias", "weight/imag"))):
        for key in keys:
            if key in group:
                raise ModelFormatError(f"{source}: {group.name} has '{key}', which our model "
                                       "does not have (its readout synapses carry no delays); "
                                       "not a neurokws export.")
    return groups[0], groups[1], n_in


def _read_shape(group: h5py.Group, source: str) -> int:
    """The single neuron count in a layer's 'shape' vector."""
    if "shape" not in group:
        raise ModelFormatError(f"{source}: {group.name} has no 'shape'; re-export the file.")
    shape = np.atleast_1d(group["shape"][()])
    if shape.ndim != 1 or shape.size < 1 or np.any(shape < 1):
        raise ModelFormatError(f"{source}: {group.name}/shape is {shape!r}; expected [n] - "
                               "re-export the file.")
    return int(np.prod(shape))


def _read_weight(group: h5py.Group, key: str, source: str) -> np.ndarray:
    """A 2-D weight matrix that must hold finite integers in netx's int8 range."""
    if key not in group or not isinstance(group[key], h5py.Dataset):
        raise ModelFormatError(f"{source}: {group.name} has no '{key}' dataset; re-export.")
    data = group[key][()]
    where = f"{source}: {group.name}/{key}"
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.dtype.kind not in "fiu":
        raise ModelFormatError(f"{where} must be a 2-D numeric matrix, got {data!r:.60}.")
    data = data.astype(np.float64)
    if not np.all(np.isfinite(data)):
        raise ModelFormatError(f"{where} holds NaN/inf; the export is corrupt - re-export.")
    if not np.array_equal(data, np.rint(data)):
        raise ModelFormatError(f"{where} holds non-integer weights; netx would truncate them "
                               "(astype(int)) - re-export with neurokws.deploy.write_netx.")
    lo, hi = int_range(NETX_WEIGHT_BITS)
    if data.size and (data.min() < lo or data.max() > hi):
        raise ModelFormatError(f"{where} has weights in [{data.min():g}, {data.max():g}], "
                               f"outside [{lo}, {hi}]; Lava could clip or zero them.")
    return data.astype(np.int32)


def _read_neuron(group: h5py.Group, source: str) -> tuple[int, int, int]:
    """(iDecay, vDecay, vThMant) of a CUBA neuron group, validated."""
    where = f"{source}: {group.name}/neuron"
    if "neuron" not in group or not isinstance(group["neuron"], h5py.Group):
        raise ModelFormatError(f"{where} is missing; re-export the file.")
    neuron = group["neuron"]
    for key in ("type", "iDecay", "vDecay", "vThMant"):
        if key not in neuron:
            raise ModelFormatError(f"{where} has no '{key}'; re-export the file.")
    kind = netx_layers.text(neuron["type"])
    if kind != "CUBA":
        raise ModelFormatError(f"{where}/type is {kind!r}, expected 'CUBA'; not a neurokws "
                               "export - re-export the model.")
    if "messageBits" in neuron:
        raise ModelFormatError(f"{where} has messageBits; netx would send graded spikes, "
                               "which our model does not use - re-export.")
    values = []
    for key, lo, hi in (("iDecay", *I_DECAY_RANGE), ("vDecay", *V_DECAY_RANGE),
                        ("vThMant", 1, MAX_VTH_MANT),
                        ("refDelay", 0, 0)):
        if key not in neuron:
            continue
        value = np.asarray(neuron[key][()])
        if value.size != 1 or value.dtype.kind not in "iuf" or value.item() != int(value.item()):
            raise ModelFormatError(f"{where}/{key} must be one integer, got {value!r}; "
                                   "re-export the model.")
        if not lo <= int(value.item()) <= hi:
            raise ModelFormatError(f"{where}/{key} = {int(value.item())} is outside [{lo}, {hi}] "
                                   "(Loihi 2 field range); re-export the model.")
        values.append(int(value.item()))
    return values[0], values[1], values[2]


def _read_metadata(handle: h5py.File, source: str) -> dict[str, Any] | None:
    """Our /neurokws records as dicts, or None for a NetX file from another exporter."""
    if META_GROUP not in handle:
        return None
    meta = handle[META_GROUP]
    out: dict[str, Any] = {}
    try:
        for key in ("network_config", "quantization", "provenance"):
            if key in meta:
                out[key] = json.loads(_as_str_utf8(meta[key]))
    except ValueError as exc:
        raise ModelFormatError(f"{source}: /{META_GROUP} metadata is not valid JSON ({exc}); "
                               "the file is corrupt - re-export it.") from exc
    return out


def _as_str_utf8(dataset: h5py.Dataset) -> str:
    """A scalar string dataset as str (UTF-8)."""
    value = dataset[()]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_shapes(hidden: h5py.Group, output: h5py.Group, w_in: np.ndarray, w_rec: np.ndarray,
                  w_out: np.ndarray, n_in: int | None, source: str) -> tuple[int, int, int]:
    """Check the layers agree with each other; return (n_in, n_hidden, n_out)."""
    n_hidden, n_out = _read_shape(hidden, source), _read_shape(output, source)
    expected = {"dense_rec weight": (n_hidden, n_in if n_in is not None else w_in.shape[1]),
                "dense_rec weight_rec": (n_hidden, n_hidden),
                "dense weight": (n_out, n_hidden)}
    actual = {"dense_rec weight": w_in.shape, "dense_rec weight_rec": w_rec.shape,
              "dense weight": w_out.shape}
    for name, shape in expected.items():
        if actual[name] != shape:
            raise ModelFormatError(
                f"{source}: {name} has shape {actual[name]}, but the layer shapes imply {shape} "
                f"(input {n_in}, hidden {n_hidden}, output {n_out}); the layers are "
                "inconsistent - re-export the file.")
    return w_in.shape[1], n_hidden, n_out


def _config(meta: dict | None, shapes: tuple[int, int, int], source: str,
            expected: NetworkConfig | None) -> NetworkConfig:
    """The stored NetworkConfig (checked against the arrays); for a file written by another
    tool (no neurokws metadata) the caller's `expected` one, whose sizes and decays are then
    checked against the file (a NetX file does not record the trial length or dt)."""
    if not meta or "network_config" not in meta:
        if expected is None:
            raise ModelFormatError(
                f"{source}: no neurokws metadata (a NetX file from another tool), so its trial "
                "length, dt and time constants are unknown; pass the model they belong to "
                "(read_netx(path, expected=NetworkConfig(...)), or --n-steps/--dt-ms on the "
                "command line).")
        return expected
    try:
        config = NetworkConfig.from_dict(meta["network_config"])
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{source}: stored network_config is invalid ({exc}); "
                               "re-export the file.") from exc
    if (config.n_in, config.n_hidden, config.n_out) != shapes:
        raise ModelFormatError(f"{source}: stored config {config} disagrees with the weight "
                               f"shapes {shapes}; the file is corrupt - re-export it.")
    return config


def _check_expected(expected: NetworkConfig, config: NetworkConfig, shapes: tuple[int, int, int],
                    neuron: tuple[int, int, int], has_meta: bool, source: str) -> None:
    """Raise if the file was exported from a model with another config than `expected`."""
    fix = "it comes from another model - rerun the quantize/export rule for this config."
    want = (expected.n_in, expected.n_hidden, expected.n_out)
    if shapes != want:
        raise ModelFormatError(f"{source}: sizes (n_in, n_hidden, n_out) = {shapes}, expected "
                               f"{want}; {fix}")
    decays = (decay_mantissa(expected.tau_syn, expected.dt),
              decay_mantissa(expected.tau_mem, expected.dt))
    if neuron[:2] != decays:
        raise ModelFormatError(f"{source}: (iDecay, vDecay) = {neuron[:2]}, expected {decays} "
                               f"for tau_syn={expected.tau_syn}, tau_mem={expected.tau_mem}; {fix}")
    if has_meta and config != expected:
        raise ModelFormatError(f"{source}: exported for {config}, expected {expected}; {fix}")
