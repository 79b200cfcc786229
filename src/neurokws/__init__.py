"""neurokws: Eventprop training of recurrent SNNs for keyword spotting, deployed to Loihi 2."""

__version__ = "0.1.0"

# Every float result is computed for one machine target (utils/target.py): set before any
# kernel compiles, and inherited by the workflow's jobs.
from neurokws.utils import target as _target

_target.apply()
