"""Model files: round trip, provenance, and clear errors for bad or mismatched files."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.model.init import init_weights
from neurokws.model.network import load_model, save_model
from neurokws.utils.errors import ModelFormatError

CONFIG = default_network(n_hidden=16, n_out=4, n_steps=200)


@pytest.fixture
def model_file(tmp_path):
    weights = init_weights(CONFIG, np.random.default_rng(0))
    path = tmp_path / "model.npz"
    save_model(path, CONFIG, weights, {"seed": 0})
    return path, weights


def test_round_trip_keeps_weights_config_and_provenance(model_file):
    path, weights = model_file
    config, loaded, prov = load_model(path, expected=CONFIG)
    assert config == CONFIG and prov == {"seed": 0}
    np.testing.assert_array_equal(loaded.w_rec, weights.w_rec)


def test_model_from_a_different_config_names_the_file(model_file):
    path, _ = model_file
    other = default_network(n_hidden=16, n_out=4, n_steps=1000)
    with pytest.raises(ModelFormatError, match=r"model\.npz.*different config"):
        load_model(path, expected=other)


def test_nan_weights_are_refused_on_save_and_load(tmp_path, model_file):
    path, weights = model_file
    weights.w_out[0, 0] = np.nan
    with pytest.raises(ModelFormatError, match="NaN"):
        save_model(tmp_path / "bad.npz", CONFIG, weights, {})
    assert not (tmp_path / "bad.npz").exists()
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["w_in"] = arrays["w_in"].copy()
    arrays["w_in"][3, 3] = np.inf
    np.savez(tmp_path / "inf.npz", **arrays)
    with pytest.raises(ModelFormatError, match=r"inf\.npz.*w_in.*NaN/inf"):
        load_model(tmp_path / "inf.npz")


def test_wrong_shape_and_garbage_files(tmp_path, model_file):
    path, _ = model_file
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["w_rec"] = np.zeros((16, 15), np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ModelFormatError, match=r"shape\.npz: w_rec has shape \(16, 15\)"):
        load_model(tmp_path / "shape.npz")
    (tmp_path / "junk.npz").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFormatError, match=r"junk\.npz: cannot read model file"):
        load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ModelFormatError, match="not a neurokws model file"):
        load_model(tmp_path / "other.npz")
