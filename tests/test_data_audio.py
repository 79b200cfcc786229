"""Audio dataset source: layouts, speaker-disjoint splits, loading/resampling, clear errors."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import soundfile as sf

from neurokws.data.sources.audio import (
    AudioItem,
    AudioSourceError,
    check_consistent,
    load,
    scan,
    speaker_split,
    validate,
)
from neurokws.utils.errors import DataFormatError

SR = 16000


def _tone(path, freq=440.0, seconds=0.1, sr=SR, channels=1, subtype=None, amp=0.5):
    """Write a sine tone (optionally several channels) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t)
    data = x if channels == 1 else np.stack([x * (c + 1) / channels for c in range(channels)],
                                            axis=1)
    sf.write(path, data, sr, subtype=subtype)
    return path


def _speech_commands(root, classes=("no", "yes"), speakers=("aa", "bb", "cc", "dd"), n=2):
    """<root>/<class>/<speaker>_nohash_<i>.wav, plus noise folder and clutter to be skipped."""
    for c, key in enumerate(classes):
        for s in speakers:
            for i in range(n):
                _tone(root / key / f"{s}_nohash_{i}.wav", freq=300 + 100 * c)
    _tone(root / "_background_noise_" / "white_noise.wav")
    (root / "README.md").write_text("not audio")
    (root / classes[0] / "notes.txt").write_text("not audio")
    (root / classes[0] / "._aa_nohash_0.wav").write_bytes(b"\x00\x05\x16\x07")  # macOS fork
    return root


def _manifest(path, rows, header=("path", "label", "speaker", "split")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _many_speakers(root, n_speakers=20, classes=("a", "b")):
    for key in classes:
        for s in range(n_speakers):
            _tone(root / key / f"spk{s:02d}_nohash_0.wav")
    return root


# --------------------------------------------------------------------------- layouts

def test_folder_layout_labels_speakers_and_order(tmp_path):
    root = _speech_commands(tmp_path / "sc")
    _tone(root / "yes" / "ee_nohash_0.flac")
    items = scan(root, test_fraction=0.25, valid_fraction=0.25, seed=1)
    assert len(items) == 17   # 2 classes x 4 speakers x 2 + one flac; clutter skipped
    assert all(isinstance(i, AudioItem) and os.path.isabs(i.path) for i in items)
    assert {(i.key, i.label) for i in items} == {("no", 0), ("yes", 1)}
    assert all(os.path.basename(os.path.dirname(i.path)) == i.key for i in items)
    assert {i.speaker for i in items} == {"aa", "bb", "cc", "dd", "ee"}
    assert all(os.path.basename(i.path).startswith(i.speaker + "_") for i in items)
    assert not any("_background_noise_" in i.path or "._" in i.path for i in items)
    order = ("train", "valid", "test")
    keys = [(order.index(i.split), i.label, i.path) for i in items]
    assert keys == sorted(keys)
    assert {i.split for i in items} == set(order)


def test_classes_give_order_and_subset(tmp_path):
    root = _speech_commands(tmp_path / "sc", classes=("go", "no", "yes"))
    items = scan(root, classes=["yes", "no"], seed=0, valid_fraction=0.0, test_fraction=0.25)
    assert {(i.key, i.label) for i in items} == {("yes", 0), ("no", 1)}
    with pytest.raises(AudioSourceError, match=r"stop"):
        scan(root, classes=["yes", "stop"])


def test_speaker_pattern_and_stem_fallback(tmp_path):
    root = tmp_path / "d"
    for key in ("a", "b"):
        for s in ("p1", "p2", "p3"):
            _tone(root / key / f"take{key}-{s}.wav")
        _tone(root / key / f"odd{key}.wav")
    items = scan(root, speaker_pattern=r"-(?P<speaker>p\d)\.", valid_fraction=0.0,
                 test_fraction=0.3)
    assert {i.speaker for i in items} == {"p1", "p2", "p3", "odda", "oddb"}
    default = scan(root, valid_fraction=0.0, test_fraction=0.3)   # no '_': stem per file
    assert {i.speaker for i in default} == {os.path.splitext(os.path.basename(i.path))[0]
                                            for i in default}
    with pytest.raises(AudioSourceError, match=r"speaker_pattern"):
        scan(root, speaker_pattern="(")


def test_speaker_split_is_disjoint_deterministic_and_proportional(tmp_path):
    root = _many_speakers(tmp_path / "d", n_speakers=20)
    a = scan(root, test_fraction=0.2, valid_fraction=0.1, seed=5)
    b = scan(root, test_fraction=0.2, valid_fraction=0.1, seed=5)
    assert a == b
    split_of: dict[str, set[str]] = {}
    for item in a:
        split_of.setdefault(item.speaker, set()).add(item.split)
    assert all(len(s) == 1 for s in split_of.values())       # a speaker's files stay together
    n = {s: sum(1 for v in split_of.values() if v == {s}) for s in ("train", "valid", "test")}
    assert n == {"train": 14, "valid": 2, "test": 4}
    c = scan(root, test_fraction=0.2, valid_fraction=0.1, seed=6)
    assert {i.path: i.split for i in c} != {i.path: i.split for i in a}   # seed matters

    speakers = [f"s{i}" for i in range(1000)]
    big = speaker_split(speakers, test_fraction=0.1, valid_fraction=0.15, seed=0)
    assert big == speaker_split(reversed(speakers), test_fraction=0.1, valid_fraction=0.15,
                                seed=0)   # independent of input order
    counts = {s: list(big.values()).count(s) for s in ("train", "valid", "test")}
    assert counts == {"train": 750, "valid": 150, "test": 100}
    small = speaker_split(["x", "y", "z"], test_fraction=0.05, valid_fraction=0.05, seed=0)
    assert sorted(small.values()) == ["test", "train", "valid"]   # at least one each


def test_manifest_with_split(tmp_path):
    _tone(tmp_path / "wav" / "a1.wav")
    _tone(tmp_path / "wav" / "a2.flac")
    _tone(tmp_path / "wav" / "b1.wav")
    _tone(tmp_path / "wav" / "b2.wav")
    _tone(tmp_path / "wav" / "b3.wav")
    meta = tmp_path / "meta"
    meta.mkdir()
    _manifest(meta / "m.csv", [("../wav/a1.wav", "up", "s1", "train"),
                               ("../wav/a2.flac", "down", "s2", "test"),
                               ("../wav/b1.wav", "down", "s1", "Validation"),
                               ("../wav/b2.wav", "up", "s3", "test"),
                               (str(tmp_path / "wav" / "b3.wav"), "down", "", "training")])
    items = scan(tmp_path, manifest="meta/m.csv")   # relative to root
    by_name = {os.path.basename(i.path): i for i in items}
    assert {k: (v.key, v.label, v.split) for k, v in by_name.items()} == {
        "a1.wav": ("up", 1, "train"), "a2.flac": ("down", 0, "test"),
        "b1.wav": ("down", 0, "valid"), "b2.wav": ("up", 1, "test"),
        "b3.wav": ("down", 0, "train")}
    assert by_name["b3.wav"].speaker == "b3"   # empty speaker cell -> file stem
    assert [i.split for i in items] == ["train", "train", "valid", "test", "test"]
    ordered = scan(tmp_path, manifest=meta / "m.csv", classes=["up", "down"])
    assert {os.path.basename(i.path): i.label for i in ordered}["a1.wav"] == 0


def test_manifest_without_split_splits_by_speaker(tmp_path):
    rows = []
    for s in range(10):
        for c in range(3):
            _tone(tmp_path / f"f{s}_{c}.wav")
            rows.append((f"f{s}_{c}.wav", str(c), f"spk{s}"))
    _manifest(tmp_path / "m.csv", rows, header=("Path", "label", "speaker", "extra"))
    items = scan(tmp_path, manifest=tmp_path / "m.csv", test_fraction=0.2, valid_fraction=0.2,
                 seed=3)
    assert items == scan(tmp_path, manifest=tmp_path / "m.csv", test_fraction=0.2,
                         valid_fraction=0.2, seed=3)
    assert {i.key for i in items} == {"0", "1", "2"}
    assert all(i.key == str(i.label) for i in items)
    splits = {}
    for i in items:
        splits.setdefault(i.speaker, set()).add(i.split)
    assert all(len(v) == 1 for v in splits.values())
    assert sorted(len([v for v in splits.values() if v == {s}]) for s in
                  ("train", "valid", "test")) == [2, 2, 6]


def test_speech_commands_lists(tmp_path):
    root = _speech_commands(tmp_path / "sc", classes=("no", "off", "yes"))
    (root / "testing_list.txt").write_text("no/aa_nohash_0.wav\nyes/aa_nohash_0.wav\n"
                                           "yes/aa_nohash_1.wav\n\n")
    (root / "validation_list.txt").write_text("no/bb_nohash_0.wav\noff/bb_nohash_0.wav\n")
    items = scan(root, classes=["no", "yes"], seed=0)   # 'off' entries are ignored
    got = {os.path.relpath(i.path, root).replace(os.sep, "/"): i.split for i in items}
    assert len(got) == 16
    assert {k for k, v in got.items() if v == "test"} == {
        "no/aa_nohash_0.wav", "yes/aa_nohash_0.wav", "yes/aa_nohash_1.wav"}
    assert {k for k, v in got.items() if v == "valid"} == {"no/bb_nohash_0.wav"}

    (root / "validation_list.txt").write_text("no/zz_nohash_9.wav\n")
    with pytest.raises(AudioSourceError, match=r"validation_list\.txt.*line 1.*zz_nohash_9"):
        scan(root)
    (root / "validation_list.txt").unlink()
    with pytest.raises(AudioSourceError, match=r"validation_list\.txt"):
        scan(root)


# --------------------------------------------------------------------------- loading

def _peak_hz(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr)[int(np.argmax(spectrum))]


def test_resampling_keeps_frequency_and_duration(tmp_path):
    path = _tone(tmp_path / "t.wav", freq=1000.0, seconds=0.25, subtype="FLOAT")
    native = load(path, SR)
    assert native.dtype == np.float64 and native.shape == (4000,)
    out = load(path, 22050)
    assert out.dtype == np.float64 and out.ndim == 1
    assert len(out) == int(np.ceil(4000 * 441 / 320))     # exact rational factor 441/320
    assert len(out) / 22050 == pytest.approx(0.25, abs=1 / 22050)
    assert abs(_peak_hz(out, 22050) - 1000.0) <= 22050 / len(out)
    assert np.max(np.abs(out[200:-200])) == pytest.approx(0.5, rel=0.02)
    down = load(path, 8000)
    assert len(down) == 2000 and abs(_peak_hz(down, 8000) - 1000.0) <= 8000 / 2000


def test_int16_and_float_files_agree(tmp_path):
    a = load(_tone(tmp_path / "i16.wav", subtype="PCM_16"), SR)
    b = load(_tone(tmp_path / "f32.wav", subtype="FLOAT"), SR)
    c = load(_tone(tmp_path / "i24.flac", subtype="PCM_24"), SR)
    assert a.dtype == b.dtype == c.dtype == np.float64
    assert np.max(np.abs(a)) <= 1.0 and np.max(np.abs(a)) == pytest.approx(0.5, abs=1e-3)
    np.testing.assert_allclose(a, b, atol=1.5 / 32768)
    np.testing.assert_allclose(c, b, atol=1e-6)
    full = tmp_path / "full.wav"
    sf.write(full, np.array([-32768, 0, 32767], dtype=np.int16), SR, subtype="PCM_16")
    np.testing.assert_allclose(load(full, SR), [-1.0, 0.0, 32767 / 32768])


def test_mix_to_mono(tmp_path):
    path = _tone(tmp_path / "st.wav", channels=2, subtype="FLOAT")
    x = load(path, SR, mix_to_mono=True)
    mono = load(_tone(tmp_path / "m.wav", subtype="FLOAT"), SR)
    np.testing.assert_allclose(x, 0.75 * mono, atol=1e-7)   # mean of 0.5x and 1.0x


# --------------------------------------------------------------------------- checks

def test_validate_summary(tmp_path):
    root = _speech_commands(tmp_path / "sc")
    _tone(root / "yes" / "ee_nohash_0.flac", sr=22050, seconds=0.2)
    items = scan(root, test_fraction=0.25, valid_fraction=0.25, seed=1)
    summary = validate(items, sample_rate=SR)
    assert summary["n_items"] == 17
    assert sum(summary["n_per_split"].values()) == 17
    assert summary["n_per_class"] == {"no": 8, "yes": 9}
    assert summary["classes"] == ["no", "yes"]
    assert summary["sample_rates"] == {16000: 16, 22050: 1}
    assert summary["sample_rate"] == SR and summary["channels"] == {1: 17}
    assert summary["duration_s"] == pytest.approx(16 * 0.1 + 0.2)
    assert summary["n_speakers"] == 5 and summary["speakers_in_several_splits"] == 0
    assert summary["max_duration_s"] == pytest.approx(0.2)
    with pytest.raises(AudioSourceError, match=r"mixed sample rates.*ee_nohash_0\.flac"):
        validate(items)                                    # no target rate
    with pytest.raises(AudioSourceError, match=r"mixed sample rates"):
        validate(items, sample_rate=SR, allow_mixed_rates=False)
    assert validate(items, allow_mixed_rates=True)["sample_rate"] is None
    assert check_consistent(items, allow_mixed_rates=True) == {16000: 16, 22050: 1}
    with pytest.raises(AudioSourceError, match=r"ee_nohash_0\.flac"):
        check_consistent(items)


def test_error_type():
    assert issubclass(AudioSourceError, ValueError)
    assert issubclass(AudioSourceError, DataFormatError)


def test_missing_root_and_empty_class_folder(tmp_path):
    with pytest.raises(AudioSourceError, match=r"nowhere.*not found"):
        scan(tmp_path / "nowhere")
    root = _speech_commands(tmp_path / "sc")
    (root / "silence").mkdir()
    (root / "silence" / "readme.txt").write_text("x")
    with pytest.raises(AudioSourceError, match=r"silence.*no audio files"):
        scan(root)
    with pytest.raises(AudioSourceError, match=r"no class subfolders"):
        scan(tmp_path / "sc" / "no")


def _items_with(tmp_path, bad):
    """A valid small dataset (3 speakers) plus one extra train item at `bad`."""
    good = [_tone(tmp_path / f"g{s}_{split}.wav") for s, split in
            enumerate(("train", "valid", "test"))]
    items = [AudioItem(str(p), 0, "a", f"s{k}", split)
             for k, (p, split) in enumerate(zip(good, ("train", "valid", "test"), strict=True))]
    return [*items, AudioItem(str(bad), 0, "a", "s9", "train")]


def test_corrupt_and_truncated_files(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00garbage" * 20)
    with pytest.raises(AudioSourceError, match=r"junk\.wav.*cannot be read as audio"):
        load(junk, SR)
    with pytest.raises(AudioSourceError, match=r"junk\.wav"):
        validate(_items_with(tmp_path, junk))
    cut = _tone(tmp_path / "cut.flac", seconds=1.0)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    items = _items_with(tmp_path, cut)
    validate(items)                                   # header looks fine ...
    with pytest.raises(AudioSourceError, match=r"cut\.flac"):
        validate(items, check_content=True)           # ... decoding fails
    with pytest.raises(AudioSourceError, match=r"cut\.flac.*could not decode"):
        load(cut, SR)


def test_empty_and_silent_files(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), SR, subtype="PCM_16")
    with pytest.raises(AudioSourceError, match=r"empty\.wav.*no samples"):
        load(empty, SR)
    with pytest.raises(AudioSourceError, match=r"empty\.wav.*no samples"):
        validate(_items_with(tmp_path, empty))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(800), SR, subtype="PCM_16")
    with pytest.raises(AudioSourceError, match=r"silent\.wav.*all zeros"):
        load(silent, SR)
    with pytest.raises(AudioSourceError, match=r"silent\.wav.*all zeros"):
        validate(_items_with(tmp_path, silent), check_content=True)


def test_stereo_and_missing_file(tmp_path):
    stereo = _tone(tmp_path / "stereo.wav", channels=2)
    for call in (lambda: load(stereo, SR), lambda: validate(_items_with(tmp_path, stereo))):
        with pytest.raises(AudioSourceError, match=r"stereo\.wav.*2 channels") as info:
            call()
        assert "sox in.wav -c 1 out.wav" in str(info.value)
        assert "mix_to_mono" in str(info.value)
    assert validate(_items_with(tmp_path, stereo), mix_to_mono=True)["channels"] == {1: 3, 2: 1}
    gone = tmp_path / "gone.wav"
    with pytest.raises(AudioSourceError, match=r"gone\.wav.*not found"):
        load(gone, SR)
    with pytest.raises(AudioSourceError, match=r"(?s)1 of 4 files.*gone\.wav"):
        validate(_items_with(tmp_path, gone))
    with pytest.raises(AudioSourceError, match=r"sample_rate"):
        load(stereo, 0)


def test_manifest_errors(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        _tone(tmp_path / name)
    rows = [("a.wav", "up", "s1", "train"), ("b.wav", "down", "s2", "test")]
    _manifest(tmp_path / "m.csv", [*rows, ("missing.wav", "up", "s3", "test")])
    with pytest.raises(AudioSourceError, match=r"m\.csv: row 3 \(line 4\).*missing\.wav"):
        scan(tmp_path, manifest="m.csv")
    _manifest(tmp_path / "m.csv", rows, header=("path", "label", "split"))
    with pytest.raises(AudioSourceError, match=r"m\.csv.*lacks column.*speaker"):
        scan(tmp_path, manifest="m.csv")
    _manifest(tmp_path / "m.csv", [*rows, ("c.wav", "left", "s3", "train")])
    with pytest.raises(AudioSourceError,
                       match=r"m\.csv: row 3 \(line 4\) \(c\.wav\).*unknown label 'left'"):
        scan(tmp_path, manifest="m.csv", classes=["up", "down"])
    _manifest(tmp_path / "m.csv", [*rows, ("c.wav", "5", "s3", "test")])
    with pytest.raises(AudioSourceError, match=r"row 3 \(line 4\) \(c\.wav\).*unknown label '5'"):
        scan(tmp_path, manifest="m.csv", classes=["up", "down"])
    _manifest(tmp_path / "m.csv", [*rows, ("c.wav", "up", "s3", "holdout")])
    with pytest.raises(AudioSourceError, match=r"row 3 \(line 4\) \(c\.wav\).*split 'holdout'"):
        scan(tmp_path, manifest="m.csv")
    _manifest(tmp_path / "m.csv", [*rows, ("a.wav", "up", "s1", "test")])
    with pytest.raises(AudioSourceError, match=r"row 3 \(line 4\) repeats.*a\.wav.*line 2"):
        scan(tmp_path, manifest="m.csv")
    _manifest(tmp_path / "m.csv", [("a.wav", "up", "s1", "train"), ("b.wav", "up", "s2", "")])
    with pytest.raises(AudioSourceError, match=r"row 2 \(line 3\) \(b\.wav\).*split ''"):
        scan(tmp_path, manifest="m.csv")
    with pytest.raises(AudioSourceError, match=r"nope\.csv.*manifest not found"):
        scan(tmp_path, manifest="nope.csv")


def test_split_with_no_items(tmp_path):
    for name in ("a.wav", "b.wav"):
        _tone(tmp_path / name)
    _manifest(tmp_path / "m.csv", [("a.wav", "up", "s1", "train"), ("b.wav", "down", "s2",
                                                                    "valid")])
    with pytest.raises(AudioSourceError, match=r"m\.csv.*split 'test' has no items"):
        scan(tmp_path, manifest="m.csv")
    root = _speech_commands(tmp_path / "sc", speakers=("aa", "bb"))
    with pytest.raises(AudioSourceError, match=r"sc.*only 2 speaker"):
        scan(root, test_fraction=0.2, valid_fraction=0.2)
    assert {i.split for i in scan(root, test_fraction=0.5, valid_fraction=0.0)} == {
        "train", "test"}      # valid_fraction 0: no valid split, no error
    (root / "testing_list.txt").write_text("")
    (root / "validation_list.txt").write_text("no/aa_nohash_0.wav\n")
    with pytest.raises(AudioSourceError, match=r"split 'test' has no items"):
        scan(root)
    with pytest.raises(AudioSourceError, match=r"test_fraction"):
        scan(root, test_fraction=0.0)
