"""Float evaluation (neurokws.train.evaluate): predictions are the readout's argmax, the
same for events binned block by block as for the split binned at once, and the
confusion matrix counts them."""

from __future__ import annotations

import numpy as np

from neurokws.config import default_network
from neurokws.data.formats.binning import bin_events
from neurokws.data.sources.synthetic import generate_split
from neurokws.model.engine import infer
from neurokws.model.init import init_weights
from neurokws.train.evaluate import confusion_frame, evaluate


def setup():
    split = generate_split(10, 3, seed=5, duration_ms=60.0)
    net = default_network(n_hidden=8, n_out=3, n_in=split.n_channels, n_steps=60)
    weights = init_weights(net, np.random.default_rng(3))
    return net, weights, split


def test_predictions_are_the_readouts_argmax_in_blocks_or_at_once():
    net, weights, split = setup()
    whole = evaluate(net, weights, bin_events(split, net.dt, net.n_steps))
    blocks = evaluate(net, weights, split, block_samples=3)   # 4 blocks of events
    assert np.array_equal(whole.predictions, blocks.predictions)
    assert np.array_equal(whole.readout, blocks.readout)
    binned = bin_events(split, net.dt, net.n_steps)
    readout, _ = infer(net, weights, binned.steps, binned.channels, binned.offsets,
                       np.arange(len(split)))
    assert np.array_equal(whole.predictions, np.argmax(readout, axis=1))
    assert whole.accuracy == np.mean(whole.predictions == split.labels)


def test_the_confusion_matrix_counts_true_against_predicted():
    net, weights, split = setup()
    result = evaluate(net, weights, split)
    matrix = result.confusion(3)
    assert matrix.sum() == len(split)
    assert np.trace(matrix) == int(np.sum(result.predictions == split.labels))
    for true, pred in zip(split.labels, result.predictions, strict=True):
        assert matrix[true, pred] >= 1
    frame = confusion_frame(matrix)
    assert list(frame.columns) == ["pred_0", "pred_1", "pred_2"] and frame.index.name == "true"
    frame_rows = result.predictions_frame()
    assert frame_rows["correct"].sum() == np.trace(matrix)
