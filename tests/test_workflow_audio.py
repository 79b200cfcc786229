"""Source `audio` end to end through real Snakemake: a folder of generated recordings becomes
Heidelberg-format splits via the cochlea; bad recordings stop the run with the file named and
nothing half written."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import soundfile as sf
import yaml

from workflow_helpers import snakemake

pytestmark = pytest.mark.workflow

CLASSES = ("high", "low", "mid")
FREQ = {"low": 300.0, "mid": 900.0, "high": 2500.0}
RATE = 16000
CHANNELS = 24


def _tone(freq: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * freq * (1 + 0.05 * rng.standard_normal()) * t)
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _corpus(root, n_speakers: int = 4, per_speaker: int = 2) -> None:
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for s in range(n_speakers):
            for i in range(per_speaker):
                sf.write(root / c / f"spk{s}_nohash_{i}.wav",
                         _tone(FREQ[c], 0.12 + 0.02 * i, seed=100 * s + i), RATE)
    (root / "_background_noise_").mkdir()  # skipped, as in Speech Commands


def _config(tmp_path, root, **audio) -> str:
    config = {
        "datasets": {"aud": {
            "source": "audio",
            "audio": {"root": str(root), "sample_rate": 22050, "test_fraction": 0.25, **audio},
            "cochlea": {"chunks": 2, "membrane": {"channels": CHANNELS}},
            "epochs": 1}},
        "hidden_sizes": [8], "seeds": [1], "model": {"n_steps": 200}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


TARGETS = ("results/aud/prepared/train.npz", "results/aud/prepared/test.npz")


def test_audio_folder_becomes_heidelberg_splits(tmp_path):
    root = tmp_path / "recordings"
    _corpus(root)
    work = tmp_path / "work"
    work.mkdir()
    config = _config(tmp_path, root)
    proc = snakemake(*TARGETS, "--configfile", config, "--cores", "2", cwd=work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    speakers = {}
    for split in ("train", "test"):
        with h5py.File(work / f"results/aud/data/{split}.h5") as f:
            keys = [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"][()]]
            assert keys == sorted(CLASSES)
            labels = f["labels"][()]
            units = np.concatenate(list(f["spikes/units"][()]))
            times = np.concatenate(list(f["spikes/times"][()]))
            speakers[split] = set(f["extra/speaker"][()].tolist())
            attrs = json.loads(f.attrs["speakers"])
        assert sorted(set(labels.tolist())) == [0, 1, 2]
        assert units.max() < CHANNELS and times.min() >= 0 and times.max() < 0.2
        assert len(attrs) == 4
    assert len(speakers["test"]) == 1 and not speakers["train"] & speakers["test"]
    # The cochlea's tonotopy: a higher tone excites channels nearer the base (lower index).
    with h5py.File(work / "results/aud/data/train.h5") as f:
        centre = {}
        for label, name in enumerate(sorted(CLASSES)):
            rows = np.flatnonzero(f["labels"][()] == label)
            centre[name] = np.median(np.concatenate([f["spikes/units"][i] for i in rows]))
    assert centre["high"] < centre["mid"] < centre["low"]
    again = snakemake(*TARGETS, "--configfile", config, "--cores", "2", "-n", cwd=work)
    assert "Nothing to be done" in again.stdout + again.stderr

    # Same bits with one chunk on one core: each clip's spikes have their own seed.
    work1 = tmp_path / "work1"
    work1.mkdir()
    one = yaml.safe_load(open(config))
    one["datasets"]["aud"]["cochlea"]["chunks"] = 1
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(one))
    proc = snakemake(TARGETS[0], "--configfile", str(tmp_path / "one.yaml"), "--cores", "1",
                     cwd=work1)
    assert proc.returncode == 0, proc.stderr[-4000:]
    a = np.load(work / TARGETS[0])
    b = np.load(work1 / TARGETS[0])
    for name in ("times_us", "units", "offsets", "labels"):
        assert a[name].tobytes() == b[name].tobytes(), name


def _stereo(root):
    sf.write(root / "mid" / "spk1_nohash_0.wav", np.zeros((1600, 2), np.float32) + 0.1, RATE)
    return "spk1_nohash_0.wav"


def _empty(root):
    sf.write(root / "low" / "spk2_nohash_1.wav", np.zeros(0, np.float32), RATE)
    return "spk2_nohash_1.wav"


def _garbage(root):
    (root / "high" / "spk0_nohash_0.wav").write_bytes(b"RIFF not really audio")
    return "spk0_nohash_0.wav"


def _mixed_rates(root):
    sf.write(root / "low" / "spk3_nohash_0.wav", _tone(300, 0.1, 1), 8000)
    return "8000"


def _empty_class(root):
    for f in (root / "mid").iterdir():
        f.unlink()
    return "mid"


def _silent(root):
    sf.write(root / "low" / "spk0_nohash_1.wav", np.zeros(1600, np.float32), RATE)
    return "spk0_nohash_1.wav"


def _manifest_missing(root):
    rows = ["path,label,speaker"]
    for c in CLASSES:
        rows += [f"{c}/spk{s}_nohash_0.wav,{c},spk{s}" for s in range(4)]
    rows.append("mid/nobody.wav,mid,spk9")
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    return "nobody.wav"


@pytest.mark.parametrize("breaker, audio", [
    (_stereo, {}), (_empty, {}), (_garbage, {}), (_mixed_rates, {"sample_rate": None}),
    (_empty_class, {}), (_silent, {}), (_manifest_missing, {"manifest": "list.csv"})],
    ids=["stereo", "empty", "unreadable", "mixed-rates", "empty-class", "all-zero",
         "manifest-missing-file"])
def test_bad_recordings_stop_with_the_file_named(tmp_path, breaker, audio):
    root = tmp_path / "recordings"
    _corpus(root)
    named = breaker(root)
    work = tmp_path / "work"
    work.mkdir()
    proc = snakemake(TARGETS[0], "--configfile", _config(tmp_path, root, **audio),
                     "--cores", "2", cwd=work)
    assert proc.returncode != 0
    logs = "".join(p.read_text() for p in (work / "results/aud/logs").glob("*.log"))
    assert named in logs + proc.stderr, (logs + proc.stderr)[-3000:]
    assert not list((work / "results/aud").glob("data/*.h5"))
    assert not list((work / "results/aud").glob("prepared/*"))


def test_spoken_digits_corpus_through_snakemake(tmp_path):
    """Source spoken_digits: espeak-ng speech (20 classes) through the cochlea; test speakers
    held out; the same bits again from a fresh directory (seeded synthesis and spikes)."""
    config = {
        "datasets": {"digits": {
            "source": "spoken_digits",
            "spoken_digits": {"n_speakers_train": 2, "n_speakers_test": 1,
                              "per_class_per_speaker": 1, "difficulty": 0.5, "seed": 3},
            "cochlea": {"chunks": 2, "membrane": {"channels": CHANNELS}},
            "epochs": 1}},
        "hidden_sizes": [8], "seeds": [1]}
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = ("results/digits/prepared/train.npz", "results/digits/prepared/test.npz",
               "results/digits/figures/rasters.png")
    arrays = []
    for run in ("a", "b"):
        work = tmp_path / run
        work.mkdir()
        proc = snakemake(*targets, "--configfile", str(path), "--cores", "2", cwd=work)
        assert proc.returncode == 0, proc.stderr[-4000:]
        arrays.append(np.load(work / targets[0]))
    train, test = arrays[0], np.load(tmp_path / "a" / targets[1])
    assert sorted(train["labels"].tolist()) == sorted(list(range(20)) * 2)
    assert len(test["labels"]) == 20 and len(str(train["keys"][13])) > 0
    assert set(train["speakers"].tolist()) == {0, 1} and set(test["speakers"].tolist()) == {2}
    counts = np.diff(train["offsets"])
    assert counts.min() > 0 and train["units"].max() < CHANNELS
    for name in ("times_us", "units", "offsets"):
        assert arrays[0][name].tobytes() == arrays[1][name].tobytes(), name
    assert (tmp_path / "a" / targets[2]).stat().st_size > 1000
    info = json.loads((tmp_path / "a/results/digits/cochlea/plan.json").read_text())["info"]
    assert info["sample_rate"] == 16000   # the schema's default: Speech Commands' rate
