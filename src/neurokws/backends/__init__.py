"""Training backends: our numba Eventprop engine (default) and mlGeNN (optional).

Selected by the config key `training.backend`. The mlGeNN backend imports pygenn/ml_genn only
when it is used, so the package and the numba backend work without GeNN installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neurokws.utils.errors import ConfigError

BACKENDS = ("numba", "mlgenn")


def get_trainer(name: str) -> Callable[..., Any]:
    """The train() function of a backend; each mirrors neurokws.train.loop.train."""
    if name == "numba":
        from neurokws.train.loop import train
        return train
    if name == "mlgenn":
        from neurokws.backends.mlgenn import train
        return train
    raise ConfigError(f"unknown training backend {name!r}; use one of {BACKENDS}")


__all__ = ["BACKENDS", "get_trainer"]
