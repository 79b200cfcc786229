"""NetX writer/reader: layout and dtypes (docs/quantization.md#netx-layout), netx-style
reading, round trip, atomicity."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.deploy import netx
from neurokws.deploy.netx import read_netx, read_provenance, summary_path, write_netx
from neurokws.deploy.quantize import QuantizedModel, quantize
from neurokws.model.network import NetworkConfig, Weights
from neurokws.utils.errors import ModelFormatError
from neurokws.utils.provenance import file_sha256

CONFIG = default_network(n_hidden=24, n_out=5, n_in=40)
PROV = {"run": "test", "seed": 7, "nested": {"a": [1, 2]}}


def random_weights(config: NetworkConfig = CONFIG, seed: int = 0) -> Weights:
    rng = np.random.default_rng(seed)
    return Weights(rng.normal(0.5, 0.8, (config.n_in, config.n_hidden)).astype(np.float32),
                   rng.normal(0.0, 0.6, (config.n_hidden, config.n_hidden)).astype(np.float32),
                   rng.normal(0.0, 1.0, (config.n_hidden, config.n_out)).astype(np.float32))


@pytest.fixture
def qmodel() -> QuantizedModel:
    return quantize(CONFIG, random_weights(), bits=8, percentile=99.0)


@pytest.fixture
def net_file(tmp_path: Path, qmodel: QuantizedModel) -> Path:
    return write_netx(tmp_path / "model.net", qmodel, PROV)


def netx_like(path: Path) -> list[dict]:
    """What lava-dl 0.6 netx (NetDict + Network._create) extracts from the file, re-implemented.

    Strings: value[0] if the dataset has a shape else value[()], then bytes.decode('ascii');
    weights: [()].astype(int); layers indexed 0..len-1; neuron du = iDecay - 1.
    """
    def text(ds: h5py.Dataset) -> str:
        value = ds[0] if len(ds.shape) > 0 else ds[()]
        return value.decode("ascii")

    blocks = []
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        for i in range(len(layers)):
            layer = layers[f"{i}"]
            kind = text(layer["type"])
            if kind == "input":
                assert "neuron" not in layer.keys()
                blocks.append({"type": kind, "input_shape": tuple(layer["shape"][()][::-1])})
                continue
            neuron = layer["neuron"]
            assert "messageBits" not in neuron.keys()
            block = {"type": kind, "shape": (int(np.prod(layer["shape"][()])),),
                     "neuron_type": text(neuron["type"]), "vth": neuron["vThMant"][()],
                     "du": neuron["iDecay"][()] - 1, "dv": neuron["vDecay"][()],
                     "weight": layer["weight"][()].astype(int).copy()}
            if kind == "dense_rec":
                block["weight_rec"] = layer["weight_rec"][()].astype(int).copy()
                assert np.hstack((block["weight"], block["weight_rec"])).shape[0] == block[
                    "shape"][0]
            blocks.append(block)
    return blocks


def test_layout_and_dtypes_match_spec(net_file: Path, qmodel: QuantizedModel):
    with h5py.File(net_file, "r") as f:
        assert set(f.keys()) == {"layer", "neurokws"}
        assert sorted(f["layer"].keys()) == ["0", "1", "2"]
        expected = {"0": ("input", 40), "1": ("dense_rec", 24), "2": ("dense", 5)}
        for key, (kind, size) in expected.items():
            layer = f["layer"][key]
            info = h5py.check_string_dtype(layer["type"].dtype)
            assert info is not None and info.length == 10           # fixed-length bytes S10
            assert layer["type"][()] == kind.encode()
            assert layer["shape"].dtype == np.int64 and layer["shape"][()].tolist() == [size]
        assert set(f["layer/0"].keys()) == {"type", "shape"}
        hidden, output = f["layer/1"], f["layer/2"]
        assert set(hidden.keys()) == {"type", "shape", "weight", "weight_rec", "neuron"}
        assert set(output.keys()) == {"type", "shape", "weight", "neuron"}
        for ds, shape in ((hidden["weight"], (24, 40)), (hidden["weight_rec"], (24, 24)),
                          (output["weight"], (5, 24))):
            data = ds[()]
            assert ds.dtype == np.float32 and data.shape == shape
            assert np.array_equal(data, np.rint(data))
            assert data.min() >= -128 and data.max() <= 127
        np.testing.assert_array_equal(hidden["weight"][()], qmodel.w_in)
        np.testing.assert_array_equal(hidden["weight_rec"][()], qmodel.w_rec)
        np.testing.assert_array_equal(output["weight"][()], qmodel.w_out)
        for layer, vth in ((hidden, qmodel.v_th_mant), (output, 65536)):
            neuron = layer["neuron"]
            assert set(neuron.keys()) == {"type", "iDecay", "vDecay", "vThMant", "refDelay",
                                          "gradedSpike"}
            info = h5py.check_string_dtype(neuron["type"].dtype)
            assert info is not None and info.length is None          # variable-length string
            assert neuron["type"][()] == b"CUBA"
            for key, value in (("iDecay", 742), ("vDecay", 200), ("vThMant", vth),
                               ("refDelay", 0)):
                assert neuron[key].shape == () and neuron[key].dtype == np.int32
                assert neuron[key][()] == value
            assert not neuron["gradedSpike"][()]


def test_netx_style_reading_sees_our_integers(net_file: Path, qmodel: QuantizedModel):
    blocks = netx_like(net_file)
    assert [b["type"] for b in blocks] == ["input", "dense_rec", "dense"]
    assert blocks[0]["input_shape"] == (40,)
    hidden, output = blocks[1], blocks[2]
    assert hidden["neuron_type"] == output["neuron_type"] == "CUBA"
    assert (hidden["du"], hidden["dv"], hidden["vth"]) == (741, 200, qmodel.v_th_mant)
    assert output["vth"] == 65536
    np.testing.assert_array_equal(hidden["weight"], qmodel.w_in)
    np.testing.assert_array_equal(hidden["weight_rec"], qmodel.w_rec)
    np.testing.assert_array_equal(output["weight"], qmodel.w_out)


def test_round_trip_identical_integers(net_file: Path, qmodel: QuantizedModel):
    back = read_netx(net_file, expected=CONFIG)
    assert back.same_integers(qmodel)
    assert back.config == CONFIG
    assert back.summary() == qmodel.summary()
    assert read_provenance(net_file) == PROV
    for a, b in zip(back.arrays().values(), qmodel.arrays().values(), strict=True):
        assert a.dtype == np.int32 and np.array_equal(a, b)


def test_without_input_layer(tmp_path: Path, qmodel: QuantizedModel):
    path = write_netx(tmp_path / "m.net", qmodel, PROV, include_input_layer=False)
    assert [b["type"] for b in netx_like(path)] == ["dense_rec", "dense"]
    assert read_netx(path, expected=CONFIG).same_integers(qmodel)


def test_summary_json(net_file: Path, qmodel: QuantizedModel):
    side = json.loads(summary_path(net_file).read_text())
    assert summary_path(net_file).name == "model.net.json"
    assert side["netx_sha256"] == file_sha256(net_file)
    assert side["provenance"] == PROV
    assert side["quantization"]["hidden_exponent"] == qmodel.hidden_exponent


def test_foreign_file_without_metadata(net_file: Path, qmodel: QuantizedModel):
    with h5py.File(net_file, "a") as f:
        del f["neurokws"]
    back = read_netx(net_file, expected=CONFIG)      # sizes and decays still checked
    assert back.same_integers(qmodel)
    assert back.hidden_exponent is None and read_provenance(net_file) == {}
    with pytest.raises(ModelFormatError, match="re-export"):
        back.dequantize()


def _edit(path: Path, edit) -> None:
    with h5py.File(path, "a") as f:
        edit(f)


def _replace(f: h5py.File, name: str, data) -> None:
    del f[name]
    f.create_dataset(name, data=data)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda f: f.__delitem__("layer"), "no /layer group"),
    (lambda f: f.__delitem__("layer/1/neuron"), "neuron is missing"),
    (lambda f: f.__delitem__("layer/1/weight_rec"), "no 'weight_rec'"),
    (lambda f: f.move("layer/2", "layer/5"), "numbered 0..k-1"),
    (lambda f: _replace(f, "layer/2/type", np.array(b"conv", dtype="S10")), "layer types"),
    (lambda f: _replace(f, "layer/1/neuron/type", "LOIHI"), "expected 'CUBA'"),
    (lambda f: f["layer/1/neuron"].create_dataset("messageBits", data=np.int32(8)),
     "messageBits"),
    (lambda f: f["layer/1/weight"].__setitem__((0, 0), 3.5), "non-integer"),
    (lambda f: f["layer/1/weight_rec"].__setitem__((1, 2), 200.0), "outside"),
    (lambda f: f["layer/2/weight"].__setitem__((0, 0), np.nan), "NaN"),
    (lambda f: _replace(f, "layer/2/weight", np.zeros((5, 23), np.float32)), "inconsistent"),
    (lambda f: _replace(f, "layer/1/weight_rec", np.zeros((24, 20), np.float32)),
     "inconsistent"),
    (lambda f: _replace(f, "layer/0/shape", np.array([41])), "inconsistent"),
    (lambda f: _replace(f, "layer/1/neuron/vThMant", np.int32(1 << 17)), "vThMant"),
    (lambda f: _replace(f, "layer/2/neuron/vDecay", np.int32(100)), "different decays"),
    # iDecay 0 has no Lava equivalent (netx passes du = iDecay - 1; utils/loihi.py)
    (lambda f: _replace(f, "layer/1/neuron/iDecay", np.int32(0)), "iDecay"),
    (lambda f: f["layer/1"].create_dataset("delay", data=np.zeros((24, 40))), "'delay'"),
])
def test_reader_rejects_bad_files(net_file: Path, edit, message: str):
    _edit(net_file, edit)
    with pytest.raises(ModelFormatError, match=message) as info:
        read_netx(net_file)
    assert str(net_file) in str(info.value)


def test_reader_rejects_non_hdf5(tmp_path: Path):
    path = tmp_path / "junk.net"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ModelFormatError, match=r"junk\.net"):
        read_netx(path)


@pytest.mark.parametrize(("expected", "message"), [
    (default_network(n_hidden=32, n_out=5, n_in=40), "sizes"),
    (default_network(n_hidden=24, n_out=5, n_in=40, tau_mem=30.0), "iDecay, vDecay"),
    (default_network(n_hidden=24, n_out=5, n_in=40, n_steps=500), "exported for"),
])
def test_reader_rejects_other_model(net_file: Path, expected: NetworkConfig, message: str):
    with pytest.raises(ModelFormatError, match=message) as info:
        read_netx(net_file, expected=expected)
    assert str(net_file) in str(info.value) and "another model" in str(info.value)


def test_writer_refuses_undeployable(tmp_path: Path, qmodel: QuantizedModel):
    wide = quantize(CONFIG, random_weights(), bits=10, percentile=99.0)        # integers up to 511
    with pytest.raises(ModelFormatError, match=r"outside \[-128, 127\]"):
        write_netx(tmp_path / "wide.net", wide, PROV)
    tiny = random_weights()
    tiny = Weights(tiny.w_in * 1e-6, tiny.w_rec * 1e-6, tiny.w_out)
    with pytest.raises(ModelFormatError, match="vThMant"):
        write_netx(tmp_path / "tiny.net", quantize(CONFIG, tiny, bits=8, percentile=99.0), PROV)
    with pytest.raises(ModelFormatError, match=r"i_decay 0 is outside \[1, 4096\]"):
        write_netx(tmp_path / "still.net", dataclasses.replace(qmodel, i_decay=0), PROV)
    assert not any(tmp_path.iterdir())


def test_failed_write_leaves_no_partial_file(tmp_path: Path, qmodel: QuantizedModel,
                                             monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "model.net"

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(netx, "_write_metadata", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_netx(target, qmodel, PROV)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_netx(target, qmodel, PROV)
    before = target.read_bytes()
    monkeypatch.setattr(netx, "_write_metadata", boom)
    with pytest.raises(RuntimeError):
        write_netx(target, quantize(CONFIG, random_weights(seed=1), bits=8, percentile=99.0), PROV)
    assert target.read_bytes() == before                       # old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.net", "model.net.json"]


KILLED_WRITER = """
import pathlib, sys, time
import numpy as np
from neurokws.deploy import netx, quantize
from neurokws.config import default_network
from neurokws.model.network import Weights
target, marker = sys.argv[1], pathlib.Path(sys.argv[2])
rng = np.random.default_rng(0)
config = default_network(n_hidden=8, n_out=3, n_in=10)
q = quantize(config, Weights(rng.normal(size=(10, 8)), rng.normal(size=(8, 8)),
                             rng.normal(size=(8, 3))), bits=8, percentile=99.0)
def stall(*args, **kwargs):
    marker.write_text("writing")
    time.sleep(120)
netx._write_neuron = stall
netx.write_netx(target, q, {})
"""


def test_killed_write_leaves_no_file_under_final_name(tmp_path: Path):
    target, marker = tmp_path / "out" / "model.net", tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "writer never reached the middle of the write"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not target.exists() and not summary_path(target).exists()
    leftovers = [p.name for p in target.parent.iterdir()]
    assert all(name.startswith(".model.net.") for name in leftovers)    # only the temp file


def test_provenance_with_odd_types_is_stored_as_text(tmp_path: Path, qmodel: QuantizedModel):
    path = write_netx(tmp_path / "m.net", qmodel, {"where": tmp_path, "n": np.int64(3)})
    assert read_provenance(path) == {"where": str(tmp_path), "n": 3}
    assert json.loads(summary_path(path).read_text())["provenance"]["where"] == str(tmp_path)
