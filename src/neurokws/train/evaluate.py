"""Float evaluation: predictions, accuracy and confusion matrix of a trained model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurokws.data.binning import BinnedSplit
from neurokws.model.engine import infer
from neurokws.model.network import NetworkConfig, Weights


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
        return pd.DataFrame({"sample": np.arange(len(self.labels)), "label": self.labels,
                             "prediction": self.predictions,
                             "correct": self.labels == self.predictions,
                             "hidden_spikes": self.hidden_spikes_per_sample})


def evaluate(config: NetworkConfig, weights: Weights, data: BinnedSplit) -> Evaluation:
    """Run the float engine on every sample of `data` and classify by argmax of the readout."""
    readout, counts = infer(config, weights, data.steps, data.channels, data.offsets)
    return Evaluation(labels=np.asarray(data.labels, dtype=np.int64),
                      predictions=np.argmax(readout, axis=1).astype(np.int64),
                      readout=readout, hidden_spikes_per_sample=counts.sum(axis=1))


def confusion_frame(matrix: np.ndarray) -> pd.DataFrame:
    """A labelled confusion matrix for CSV output."""
    n = matrix.shape[0]
    return pd.DataFrame(matrix, index=pd.Index(range(n), name="true"),
                        columns=[f"pred_{k}" for k in range(n)])
