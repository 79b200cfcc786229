"""Data layer: Heidelberg-format I/O, binning onto the dt grid, the paper's augmentations,
synthetic SHD-like data, dataset download and the raster figure.

Core names are re-exported here; `download` (imports tonic) and `rasters` (imports
matplotlib) are left to explicit imports so that importing the package stays cheap.
"""

from neurokws.data.augment import augment_epoch, blend, shift
from neurokws.data.binning import BinnedSplit, bin_events
from neurokws.data.events import EventSplit, concatenate, load_npz, save_npz
from neurokws.data.heidelberg import read_split, write_split
from neurokws.data.synthetic import generate_split, write_synthetic_dataset

__all__ = [
    "BinnedSplit",
    "EventSplit",
    "augment_epoch",
    "bin_events",
    "blend",
    "concatenate",
    "generate_split",
    "load_npz",
    "read_split",
    "save_npz",
    "shift",
    "write_split",
    "write_synthetic_dataset",
]
