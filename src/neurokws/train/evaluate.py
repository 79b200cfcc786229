"""Float evaluation: predictions, accuracy and confusion matrix of a trained model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neurokws.data.formats.binning import BinnedSplit, bin_events
from neurokws.data.formats.events import EventSplit
from neurokws.model.engine import infer
from neurokws.model.network import Delays, NetworkConfig, Weights

# pandas only for the frames: the training loop imports this module, and pandas would add
# about 30 MB to every job that trains or profiles (their memory requests: resources.py)
if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Evaluation:
    """Per-sample predictions and the summary numbers derived from them."""

    labels: np.ndarray
    predictions: np.ndarray
    readout: np.ndarray
    hidden_spikes_per_sample: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predictions)) if len(self.labels) else np.nan

    def confusion(self, n_classes: int) -> np.ndarray:
        """Counts[true, predicted]."""
        matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix

    def predictions_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({"sample": np.arange(len(self.labels)), "label": self.labels,
                             "prediction": self.predictions,
                             "correct": self.labels == self.predictions,
                             "hidden_spikes": self.hidden_spikes_per_sample})


def evaluate(config: NetworkConfig, weights: Weights, data: BinnedSplit | EventSplit,
             block_samples: int = 4096, delays: Delays | None = None) -> Evaluation:
    """Run the float engine on every sample of `data` (with the model's integer `delays`,
    if it has them) and classify by argmax of the readout; events are binned
    `block_samples` at a time (memory bounded by the block)."""
    if isinstance(data, BinnedSplit):
        blocks = [data]
    else:
        blocks = (bin_events(data.subset(np.arange(lo, min(lo + block_samples, len(data)))),
                             config.dt, config.n_steps)
                  for lo in range(0, len(data), block_samples))
    readouts, counts, labels = [], [], []
    for block in blocks:
        readout, count = infer(config, weights, block.steps, block.channels, block.offsets,
                               delays=delays)
        readouts.append(readout)
        counts.append(count.sum(axis=1))
        labels.append(np.asarray(block.labels, dtype=np.int64))
    readout = np.concatenate(readouts) if readouts else np.zeros((0, config.n_out))
    return Evaluation(labels=np.concatenate(labels) if labels else np.zeros(0, np.int64),
                      predictions=np.argmax(readout, axis=1).astype(np.int64),
                      readout=readout,
                      hidden_spikes_per_sample=np.concatenate(counts) if counts else
                      np.zeros(0, np.int64))


def confusion_frame(matrix: np.ndarray) -> pd.DataFrame:
    """A labelled confusion matrix for CSV output."""
    import pandas as pd

    n = matrix.shape[0]
    return pd.DataFrame(matrix, index=pd.Index(range(n), name="true"),
                        columns=[f"pred_{k}" for k in range(n)])
