"""The paper's Shift and Blend augmentations: bounds, drops, class, density, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.data.augment import (
    apply_shift,
    augment_epoch,
    blend,
    coin_uniform,
    coin_uniforms,
    draw_blend_pairs,
    draw_shifts,
    shift,
)
from neurokws.data.formats.events import EventSplit
from neurokws.data.sources.synthetic import generate_split

N_STEPS, DT_MS = 1000, 1.0


@pytest.fixture(scope="module")
def data() -> EventSplit:
    return generate_split(60, 4, seed=5, speakers=[0, 1, 2])


def _same(a: EventSplit, b: EventSplit) -> bool:
    return all(np.array_equal(getattr(a, n), getattr(b, n))
               for n in ("times_us", "units", "offsets", "labels"))


def test_shift_draws_cover_closed_range():
    s = draw_shifts(np.random.default_rng(0), 20000, 40)
    assert s.min() == -40 and s.max() == 40
    assert len(np.unique(s)) == 81
    paper_code = draw_shifts(np.random.default_rng(0), 20000, 40, include_max=False)
    assert paper_code.min() == -40 and paper_code.max() == 39


def test_shift_moves_all_channels_together_and_counts_drops(data):
    shifts = np.random.default_rng(1).integers(-40, 41, len(data))
    out = apply_shift(data, shifts)
    assert out.units.min() >= 0 and out.units.max() < data.n_channels
    expected_dropped = 0
    for i in range(len(data)):
        t, u = data.sample(i)
        moved = u.astype(int) + shifts[i]
        keep = (moved >= 0) & (moved < data.n_channels)
        expected_dropped += int((~keep).sum())
        ot, ou = out.sample(i)
        np.testing.assert_array_equal(ot, t[keep])  # times untouched, order kept
        np.testing.assert_array_equal(ou, moved[keep])
    assert data.n_events - out.n_events == expected_dropped
    np.testing.assert_array_equal(out.labels, data.labels)


def test_shift_extreme_drops_everything_outside():
    s = EventSplit(np.array([1, 2, 3]), np.array([0, 350, 699]), np.array([0, 3]),
                   np.array([0]))
    np.testing.assert_array_equal(apply_shift(s, np.array([40])).units, [40, 390])
    np.testing.assert_array_equal(apply_shift(s, np.array([-40])).units, [310, 659])


def test_shift_reproducible_and_seed_dependent(data):
    a = shift(data, np.random.default_rng(7), 40)
    b = shift(data, np.random.default_rng(7), 40)
    c = shift(data, np.random.default_rng(8), 40)
    assert _same(a, b) and not _same(a, c)


def test_blend_pairs_same_class():
    labels = np.array([0, 1, 1, 2, 2, 2, 0])
    first, second = draw_blend_pairs(labels, np.random.default_rng(0), 500)
    np.testing.assert_array_equal(labels[first], labels[second])
    assert set(first.tolist()) == set(range(7))  # first partner uniform over the split


def _reference_blend(split, first, second, u, t_max_us, p=0.5):
    """Direct port of the paper's Blend.blend for one pair (numpy, per example)."""
    def crop(i):
        t, x = split.sample(i)
        keep = t <= t_max_us
        return t[keep].astype(np.int64), x[keep].astype(np.int64)
    t1, x1 = crop(first)
    t2, x2 = crop(second)
    dx = int((x2.mean() - x1.mean()) / 2)
    dt = int((t2.mean() - t1.mean()) / 2)
    out = []
    for t, x, sx, st, uu, pp in ((t1, x1, dx, dt, u[0], p), (t2, x2, -dx, -dt, u[1], 1 - p)):
        t, x = t + st, x + sx
        ok = (x >= 0) & (x < split.n_channels) & (t >= 0) & (t < t_max_us)
        ok &= uu[: len(t)] < pp
        out.append((t[ok], x[ok]))
    t = np.concatenate([out[0][0], out[1][0]])
    x = np.concatenate([out[0][1], out[1][1]])
    order = np.argsort(t, kind="stable")
    return t[order], x[order]


def test_blend_matches_reference_port_of_paper_code(data):
    n_new = 25
    out = blend(data, np.random.default_rng(3), n_new, N_STEPS, DT_MS)
    # Replay the same random stream: the pairs, then the key of the per-event coin flips.
    rng = np.random.default_rng(3)
    first, second = draw_blend_pairs(data.labels, rng, n_new)
    key = np.uint64(rng.integers(0, 2**63))
    for b in range(n_new):
        ua = coin_uniforms(key, 2 * b, data.counts[first[b]])
        ub = coin_uniforms(key, 2 * b + 1, data.counts[second[b]])
        t, x = _reference_blend(data, first[b], second[b], (ua, ub), N_STEPS * DT_MS * 1000)
        ot, ou = out.sample(b)
        np.testing.assert_array_equal(ot, t)
        np.testing.assert_array_equal(ou, x)
    np.testing.assert_array_equal(out.labels, data.labels[first])


def test_coin_uniform_is_uniform_and_stream_dependent():
    key = np.uint64(12345)
    u = coin_uniforms(key, 0, 20000)
    assert u[7] == coin_uniform(key, 0, 7)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(np.mean(u < 0.5) - 0.5) < 0.015
    v = coin_uniforms(key, 1, 20000)
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.03


def test_blend_keeps_class_bounds_and_halves_density(data):
    rng = np.random.default_rng(0)
    out = blend(data, rng, 200, N_STEPS, DT_MS)
    assert len(out) == 200
    assert out.times_us.min() >= 0 and out.times_us.max() < N_STEPS * DT_MS * 1000
    assert out.units.min() >= 0 and out.units.max() < data.n_channels
    for i in range(len(out)):  # time-sorted within each blend
        assert np.all(np.diff(out.sample(i)[0]) >= 0)
    # Replay the pairs to compare against the partners' event counts.
    first, second = draw_blend_pairs(data.labels, np.random.default_rng(0), 200)
    np.testing.assert_array_equal(out.labels, data.labels[first])
    ratio = out.counts.sum() / (data.counts[first] + data.counts[second]).sum()
    assert 0.42 < ratio < 0.52  # half of the sum, minus the events moved out of range


def test_blend_reproducible_and_seed_dependent(data):
    a = blend(data, np.random.default_rng(1), 20, N_STEPS, DT_MS)
    b = blend(data, np.random.default_rng(1), 20, N_STEPS, DT_MS)
    c = blend(data, np.random.default_rng(2), 20, N_STEPS, DT_MS)
    assert _same(a, b) and not _same(a, c)


def test_blend_of_identical_partners_keeps_about_half():
    t = np.arange(0, 500_000, 50, dtype=np.int32)
    s = EventSplit(t, np.full(len(t), 300), np.array([0, len(t)]), np.array([0]))
    out = blend(s, np.random.default_rng(0), 1, N_STEPS, DT_MS)  # pair (0, 0): no move
    assert set(out.units.tolist()) == {300}
    assert abs(out.n_events - len(t)) < 4 * np.sqrt(len(t))  # 0.5 + 0.5 of the same events


def test_augment_epoch_sizes(data):
    rng = np.random.default_rng(0)
    ep = augment_epoch(data, rng, ["shift", "blend"], N_STEPS, DT_MS, shift_max=40,
                       blend_n_new=30)
    assert len(ep) == len(data) + 30
    assert len(augment_epoch(data, rng, ["blend"], N_STEPS, DT_MS, shift_max=40,
                             blend_n_new=None)) == 120
    same = augment_epoch(data, rng, [], N_STEPS, DT_MS, shift_max=40, blend_n_new=None)
    assert same is data
    with pytest.raises(ValueError, match="unknown"):
        augment_epoch(data, rng, ["mixup"], N_STEPS, DT_MS, shift_max=40, blend_n_new=None)


def test_blend_with_partner_empty_before_T_does_not_move():
    # Sample 0 has events only beyond T; sample 1 normal. Both class 0.
    s = EventSplit(np.array([1_200_000, 1_300_000, 100_000, 200_000]),
                   np.array([10, 20, 600, 650]), np.array([0, 2, 4]), np.array([0, 0]))
    out = blend(s, np.random.default_rng(0), 50, N_STEPS, DT_MS, p_blend=0.0)
    # p_blend=0: only the second partner's events survive; they must be unmoved.
    for i in range(len(out)):
        t, u = out.sample(i)
        assert set(zip(t.tolist(), u.tolist(), strict=True)) <= {(100_000, 600),
                                                                 (200_000, 650)}


def test_an_epoch_built_block_by_block_equals_the_whole_epoch(data):
    """Every epoch sample's events depend only on the plan: blocks in shuffled order give
    the same events as the whole epoch, and the draws leave the generator where
    augment_epoch leaves it."""
    from neurokws.data.augment import plan_epoch
    from neurokws.data.formats.events import concatenate

    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    whole = augment_epoch(data, rng_a, ["shift", "blend"], N_STEPS, DT_MS, shift_max=40,
                          blend_n_new=30)
    plan = plan_epoch(data, rng_b, ["shift", "blend"], N_STEPS, DT_MS, 40, 30)
    assert rng_a.integers(1 << 30) == rng_b.integers(1 << 30)
    order = np.random.default_rng(1).permutation(len(plan))
    blocks = concatenate([plan.events(order[i:i + 7]) for i in range(0, len(plan), 7)])
    expected = whole.subset(order)
    for name in ("times_us", "units", "offsets", "labels"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(expected, name))
    assert (order >= len(data)).any() and (order < len(data)).any()   # blends and originals
