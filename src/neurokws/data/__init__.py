"""Data layer: Heidelberg-format I/O, binning onto the dt grid, the paper's augmentations,
synthetic SHD-like data, dataset download and the raster figure.

- `formats/`: the storage formats (events.npz, Heidelberg HDF5, the prepared splits) and how
  events become spikes on the dt grid (binning).
- `sources/`: where a dataset comes from: synthetic and sequence-task data, recordings on
  disk (audio), the spoken-digit speech synthesizer, the SHD/SSC download, and the corpus
  plan and conversion through the cochlea.
- `augment`: the paper's augmentations; `cochlea`: the cochlea model file.

Core names are re-exported here; `sources.download` (imports tonic) and the raster figure
(`neurokws.reports.rasters`, imports matplotlib) are left to explicit imports so that
importing the package stays cheap.
"""

from neurokws.data.augment import augment_epoch, blend, shift
from neurokws.data.formats.binning import BinnedSplit, bin_events
from neurokws.data.formats.events import EventSplit, concatenate, load_npz, save_npz
from neurokws.data.formats.heidelberg import read_split, write_split
from neurokws.data.sources.synthetic import generate_split, write_synthetic_dataset

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
