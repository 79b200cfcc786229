"""Corpus conversion plumbing (neurokws.data.sources.convert): chunks, plans, settings, merging."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurokws.data.cochlea import BasilarMembrane, Cochlea
from neurokws.data.sources import convert
from neurokws.utils.errors import DataFormatError


@pytest.mark.parametrize("n_clips, n_chunks", [(10, 3), (7, 7), (3, 5), (0, 2), (1000, 64)])
def test_chunks_partition_the_plan_in_order(n_clips, n_chunks):
    ranges = [convert.chunk_range(n_clips, n_chunks, k) for k in range(n_chunks)]
    assert [i for r in ranges for i in r] == list(range(n_clips))
    sizes = [len(r) for r in ranges]
    assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="out of range"):
        convert.chunk_range(n_clips, n_chunks, n_chunks)


def test_cochlea_settings_override_the_model_and_name_bad_keys():
    co = convert.cochlea_from_settings({"pad_s": 0.1, "chunks": 8,
                                        "membrane": {"channels": 64, "a": 3000.0}})
    assert co == Cochlea(pad_s=0.1, membrane=BasilarMembrane(channels=64, a=3000.0))
    assert convert.cochlea_from_settings({}) == Cochlea()
    with pytest.raises(ValueError, match=r"'datasets.d.cochlea.hair' has unknown .*'tau'"):
        convert.cochlea_from_settings({"hair": {"tau": 1.0}}, "datasets.d.cochlea")
    with pytest.raises(ValueError, match=r"'cochlea.gain' is not a cochlea setting"):
        convert.cochlea_from_settings({"gain": 2})
    with pytest.raises(ValueError, match="2 to 700"):
        convert.cochlea_from_settings({"membrane": {"channels": 701}})


def test_plan_round_trip_and_bad_plans(tmp_path):
    path = tmp_path / "plan.json"
    clips = [{"label": i % 2, "speaker": i % 3, "split": "test" if i == 4 else "train",
              "path": f"c{i}.wav"} for i in range(5)]
    convert.write_plan(path, source="audio", keys=["a", "b"], speakers=["x", "y", "z"],
                       clips=clips, seed=5, info={"sample_rate": 16000})
    plan = convert.read_plan(path)
    assert [c["index"] for c in plan["clips"]] == list(range(5))
    assert plan["seed"] == 5 and plan["keys"] == ["a", "b"]
    with pytest.raises(ValueError, match="split 'dev'"):
        convert.write_plan(path, source="audio", keys=["a"], speakers=["x"], seed=0,
                           clips=[{"label": 0, "speaker": 0, "split": "dev"}])
    assert convert.read_plan(path)["clips"] == plan["clips"]   # the failed write left it
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({**plan, "version": 0}))
    with pytest.raises(DataFormatError, match=r"old\.json: plan version 0"):
        convert.read_plan(bad)
    (tmp_path / "cut.json").write_text('{"version": 1, "clips": [')
    with pytest.raises(DataFormatError, match=r"cut\.json: cannot read"):
        convert.read_plan(tmp_path / "cut.json")


def _fake_render(clip):
    """A tone whose pitch follows the label (the renderer's contract: audio, rate)."""
    t = np.arange(2205) / 22050
    return np.sin(2 * np.pi * (400 + 600 * clip["label"]) * t), 22050


def test_chunks_merge_to_the_splits_in_plan_order(tmp_path):
    clips = [{"label": i % 2, "speaker": i, "split": "test" if i in (1, 4) else "train"}
             for i in range(6)]
    convert.write_plan(tmp_path / "plan.json", source="audio", keys=["lo", "hi"],
                       speakers=[str(i) for i in range(6)], clips=clips, seed=1)
    plan = convert.read_plan(tmp_path / "plan.json")
    co = Cochlea(membrane=BasilarMembrane(channels=16))
    paths = []
    for k in range(2):
        events = convert.convert_chunk(plan, k, 2, co, _fake_render, log=lambda _: None)
        paths.append(tmp_path / f"chunk{k}.npz")
        convert.save_chunk(paths[-1], events)
    test = convert.merge_split(plan, paths, "test")
    assert list(test.speakers) == [1, 4] and list(test.labels) == [1, 0]
    assert test.keys == ("lo", "hi")
    whole = convert.convert_chunk(plan, 0, 1, co, _fake_render, log=lambda _: None)
    assert np.array_equal(test.sample(0)[0], whole.sample(1)[0])   # same seed per clip
    with pytest.raises(DataFormatError, match="holds 3 clips, the plan gives this chunk 2"):
        convert.merge_split(plan, [*paths, paths[0]], "test")
