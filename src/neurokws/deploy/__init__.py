"""Deployment: 8-bit quantization, NetX (Lava/Loihi 2) export and NIR export.

NIR functions live in ``neurokws.deploy.nir_export`` / ``nir_reference`` (they import ``nir``).
"""

from neurokws.deploy.netx import check_deployable, read_netx, read_provenance, write_netx
from neurokws.deploy.quantize import QuantizedModel, quantize

__all__ = ["QuantizedModel", "check_deployable", "quantize", "read_netx", "read_provenance",
           "write_netx"]
