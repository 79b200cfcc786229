"""The layers of a NetX HDF5 file as lava-dl's netx walks them (``netx.hdf5.Network``:
/layer/0 .. /layer/k-1, each a group with a ``type``), shared by the emulator's raw reader
(``neurokws.fixedpoint.netx_file``, values as netx reads them) and the validating reader
(``neurokws.deploy.netx.read_netx``, which adds its checks). numpy and h5py only: the Lava
side environment imports it too."""

from __future__ import annotations

import h5py
import numpy as np

from neurokws.utils.errors import ModelFormatError


def text(dataset: h5py.Dataset) -> str:
    """A string dataset ('type' and the like) as netx's NetDict decodes it: bytes, a scalar
    or a one-element array."""
    value = dataset[()]
    if isinstance(value, np.ndarray):
        value = value.flat[0] if value.size == 1 else value
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return str(value)


def layers(handle: h5py.File, source: str) -> list[tuple[str, h5py.Group]]:
    """(type, group) of every layer in netx's order; a file without /layer, with layers not
    numbered 0..k-1 or a layer without a type is refused (ModelFormatError naming it)."""
    if "layer" not in handle or not isinstance(handle["layer"], h5py.Group):
        raise ModelFormatError(f"{source}: no /layer group - not a NetX file; rerun the export.")
    group = handle["layer"]
    keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise ModelFormatError(f"{source}: /layer holds {sorted(group.keys())}; netx needs "
                               "layers numbered 0..k-1 - the file is corrupt, re-export it.")
    out = []
    for key in keys:
        layer = group[key]
        if not isinstance(layer, h5py.Group) or "type" not in layer:
            raise ModelFormatError(f"{source}: /layer/{key} has no 'type'; re-export the file.")
        out.append((text(layer["type"]), layer))
    return out
