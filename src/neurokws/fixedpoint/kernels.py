"""numba kernels: Lava's fixed-point LIF/Dense step, event-driven, one stream per thread.

A "stream" is what one Lava run sees: samples back to back, reset_interval = T, Dense
buffers carried across sample boundaries. Streams are independent and run in parallel.
Per Lava timestep ts (1-based from the stream's start; local step t = (ts - 1) mod T):

1. a layer whose reset phase is hit ((t + 1) mod T == phase) zeroes u and v;
2. hidden: a = shifted Dense buffers (input + recurrent) from the previous step;
   u = trunc0(u (4096 - iDecay) / 4096) + (a << 6), wrapped once into 24 bits;
   v = clip(trunc0(v (4096 - vDecay) / 4096) + u + bias, +-(2^23 - 1)); spike if v > vth,
   then v = 0. Output layer likewise from its own buffer;
3. the Dense stages sum the weights of this step's input events and hidden spikes and
   shift the sums by their exponent: these are next step's buffers (one step of delay).

With synaptic delays (input and recurrent connections; Lava's DelayDense, lava-nc 0.10
``PyDelayDenseModelBitAcc``): a delay d arrives d steps later than Dense. DelayDense sums the
weights of this step's spikes per delay value, shifts each of those sums by the exponent on
its own, and adds them to the buffers of steps t + 1 + d; so each connection keeps a ring of
D + 1 buffers (D its largest delay, `n_rows`), indexed (t + 1 + d) mod (D + 1), and a synapse
of delay d adds into row d of a per-step sum array at offset d N + j (`off_*`). Without
delays (n_rows 1) this is the Dense path above.

Where the shift is linear the per-delay sums need not be formed: a left shift always is, and
a right shift by k is exact (a division) on sums of multiples of 2^k, which netx's weights
are (netx shifts them left by k = -weight_exp, and Lava's truncation of low bits keeps them
multiples; weights.py). Then shifting each weight once (`lin_*`, the ring's values) and
adding it straight into the ring row of its arrival gives the same integers as DelayDense,
and a step costs its events, not D + 1 row shifts per connection. The emulator takes this
path only where it has checked the multiples and that no ring entry (the arrivals of up to
D + 1 steps) can leave int32, the linear ring's dtype (emulator._linear_path); otherwise the
per-delay sums above. The linear ring is mirrored (2 (D + 1) rows: a synapse writes row
t + 1 + d unwrapped, a step reads its row and the row D + 1 above) and indexed with unsigned
offsets: without numba's negative-index wraparound and the wrap's compare, the N = 128
emulator with delays 0..62 ran 1.9x faster (benchmarks/bench_fixedpoint.py --max-delay 62).
An input connection without delays (`ff_delayed` False: recurrent delays only, as the
default config's delay cells; NetX files without `delay`) adds each event's whole row to the
buffer of step t + 1 on either path, a contiguous add that vectorises, instead of scattering
zero delays: recurrent delays 0..62 at N = 128 went from 0.34x to 0.53-0.56x the delay-free
emulator (three runs of bench_fixedpoint.py --max-delay 62 --max-delay-in 0).
"""

from __future__ import annotations

import numba
import numpy as np

from neurokws.utils.loihi import DECAY_ONE, DECAY_SHIFT

MAX_UV = 1 << 23          # 24-bit state: u wraps at +-2^23, v saturates at +-(2^23 - 1)


@numba.njit(inline="always")
def _shift(x: int, exp: int) -> int:  # pragma: no cover - compiled
    """Dense output shift: left for a positive exponent, arithmetic right otherwise."""
    return x << exp if exp > 0 else x >> (-exp)


@numba.njit(inline="always")
def _decay(x: int, factor: int) -> int:  # pragma: no cover - compiled
    """trunc0(x * factor / 4096): Lava's decay, truncating toward zero (branch-free)."""
    p = x * factor
    return (p + ((p >> 63) & (DECAY_ONE - 1))) >> DECAY_SHIFT


@numba.njit(inline="always")
def _layer_step(u, v, a, spk, du, dv, vth, bias):  # pragma: no cover - compiled
    """One step of Lava's fixed-point LIF for a whole layer (vectorisable, no branches).

    u, v, a: int64 arrays (a: input activation); spk: uint8 spike flags (output).
    """
    for j in range(u.size):
        x = _decay(u[j], du) + (a[j] << 6)
        x = x - 2 * MAX_UV if x > MAX_UV else x
        x = x + 2 * MAX_UV if x <= -MAX_UV else x
        y = _decay(v[j], dv) + x + bias[j]
        y = min(max(y, 1 - MAX_UV), MAX_UV - 1)
        s = y > vth
        u[j] = x
        v[j] = 0 if s else y
        spk[j] = s


@numba.njit(inline="always")
def _deliver(acc, ring, slot, n_rows, n_hid, exp):  # pragma: no cover - compiled
    """Shift each delay row of this step's sums on its own and add it to the ring buffer
    of step t + 1 + d (slot = t mod n_rows); clears acc."""
    for d in range(n_rows):
        r = slot + 1 + d
        r = (r - n_rows if r >= n_rows else r) * n_hid
        a = d * n_hid
        for j in range(n_hid):
            ring[r + j] += _shift(acc[a + j], exp)
            acc[a + j] = 0


@numba.njit(parallel=True, cache=True)
def run_streams(stream_bounds, offsets, steps, channels, values, graded, n_steps,
                w_ff_t, w_rec_t, w_out_t, exp_hid, exp_out,
                hid_const, hid_bias, out_const, out_bias, phases,
                out_v, out_u, out_s, hid_u, hid_v, hid_s, activity,
                n_rows, off_ff, off_rec, ff_delayed, lin_ff, lin_rec, nnz_ff, nnz_hid
                ):  # pragma: no cover
    """Run every stream; fill out_v (S, T, C), optional traces and per-sample activity.

    hid_const/out_const: int64 [4096 - iDecay, 4096 - vDecay, vThMant << 6];
    bias arrays already << 6; phases: (hidden, output) reset phases. Trace arrays with a
    zero first dimension are not recorded. activity[s] = (input events, hidden spikes,
    output spikes, effective synaptic ops): the last counts, per non-zero input event and
    hidden spike, the non-zero weights it drives (nnz_ff per input channel, nnz_hid per
    hidden neuron: recurrent + output; NeuroBench's effective ACs). n_rows: 1 without
    delays, else D + 1; off_ff/off_rec (sources, targets): d N + j per synapse (unused
    when n_rows is 1); ff_delayed: the input connection has a delay above 0 (else its
    events add whole rows to the buffer of step t + 1, as without delays, and off_ff is
    unused); lin_ff/lin_rec (sources, targets): the shifted weights of the linear delay
    path, or empty (per-delay sums).
    """
    n_hid = w_rec_t.shape[0]
    n_out = w_out_t.shape[1]
    rec_out = out_u.shape[0] > 0
    rec_hid = hid_u.shape[0] > 0
    for stream in numba.prange(stream_bounds.size - 1):
        u_h = np.zeros(n_hid, np.int64)
        v_h = np.zeros(n_hid, np.int64)
        a_h = np.zeros(n_hid, np.int64)
        buf_ff = np.zeros(n_hid, np.int64)
        buf_rec = np.zeros(n_hid, np.int64)
        acc = np.zeros(n_hid, np.int32)
        spk_h = np.zeros(n_hid, np.uint8)
        spikes = np.zeros(n_hid, np.int64)
        u_o = np.zeros(n_out, np.int64)
        v_o = np.zeros(n_out, np.int64)
        buf_out = np.zeros(n_out, np.int64)
        acc_out = np.zeros(n_out, np.int32)
        spk_o = np.zeros(n_out, np.uint8)
        delayed = n_rows > 1
        linear = delayed and lin_ff.shape[0] > 0
        ring_size = n_rows * n_hid
        ring_ff = np.zeros(n_rows * n_hid if delayed and not linear else 0, np.int64)
        ring_rec = np.zeros(n_rows * n_hid if delayed and not linear else 0, np.int64)
        # linear path: one int32 ring of both connections, mirrored (rows L..2L-1 hold the
        # arrivals that wrapped, so a synapse's row nxt + d N needs no wrap check)
        ring_lin = np.zeros(2 * n_rows * n_hid if linear else 0, np.int32)
        acc_d = np.zeros(n_rows * n_hid if delayed and not linear else 0, np.int32)
        slot = 0
        nxt = np.uint32(0)
        for smp in range(stream_bounds[stream], stream_bounds[stream + 1]):
            ev = offsets[smp]
            ev_end = offsets[smp + 1]
            n_in_events = 0
            n_hid_spikes = 0
            n_out_spikes = 0
            n_eff = 0
            for t in range(n_steps):
                phase = (t + 1) % n_steps
                if phase == phases[0]:
                    u_h[:] = 0
                    v_h[:] = 0
                if phase == phases[1]:
                    u_o[:] = 0
                    v_o[:] = 0
                if linear:
                    base = slot * n_hid
                    nxt = np.uint32(base + n_hid)   # row of step t + 1 (mirrored ring)
                    for j in range(n_hid):
                        a_h[j] = ring_lin[base + j] + ring_lin[base + ring_size + j]
                        ring_lin[base + j] = 0
                        ring_lin[base + ring_size + j] = 0
                elif delayed:
                    base = slot * n_hid
                    for j in range(n_hid):
                        a_h[j] = ring_ff[base + j] + ring_rec[base + j]
                        ring_ff[base + j] = 0
                        ring_rec[base + j] = 0
                else:
                    for j in range(n_hid):
                        a_h[j] = buf_ff[j] + buf_rec[j]
                _layer_step(u_h, v_h, a_h, spk_h, hid_const[0], hid_const[1], hid_const[2],
                            hid_bias)
                _layer_step(u_o, v_o, buf_out, spk_o, out_const[0], out_const[1],
                            out_const[2], out_bias)
                n_spk = 0
                for j in range(n_hid):
                    if spk_h[j]:
                        spikes[n_spk] = j
                        n_spk += 1
                for k in range(n_out):
                    out_v[smp, t, k] = v_o[k]
                    n_out_spikes += spk_o[k]
                if rec_hid:
                    for j in range(n_hid):
                        hid_u[smp, t, j] = u_h[j]
                        hid_v[smp, t, j] = v_h[j]
                        hid_s[smp, t, j] = spk_h[j]
                if rec_out:
                    for k in range(n_out):
                        out_u[smp, t, k] = u_o[k]
                        out_s[smp, t, k] = spk_o[k]
                # Dense stages: this step's events become next step's buffers.
                acc[:] = 0
                while ev < ev_end and steps[ev] == t:
                    row = w_ff_t[channels[ev]]
                    val = values[ev] if graded else 1
                    if linear and ff_delayed:   # straight into the rows of steps t + 1 + d
                        off = off_ff[channels[ev]]
                        lin = lin_ff[channels[ev]]
                        if graded:
                            for j in range(n_hid):
                                ring_lin[nxt + off[j]] += val * lin[j]
                        else:
                            for j in range(n_hid):
                                ring_lin[nxt + off[j]] += lin[j]
                    elif linear:   # no input delays: a whole row into the row of step t + 1
                        lin = lin_ff[channels[ev]]
                        nxt_row = ring_lin[nxt:nxt + n_hid]
                        for j in range(n_hid):   # contiguous: vectorises (val 1 unless graded)
                            nxt_row[j] += val * lin[j]
                    elif delayed and ff_delayed:
                        off = off_ff[channels[ev]]
                        for j in range(n_hid):
                            acc_d[off[j]] += val * row[j]
                    elif graded:
                        for j in range(n_hid):
                            acc[j] += val * row[j]
                    else:
                        for j in range(n_hid):
                            acc[j] += row[j]
                    n_in_events += 1
                    if val != 0:
                        n_eff += nnz_ff[channels[ev]]
                    ev += 1
                if delayed and not linear and ff_delayed:
                    _deliver(acc_d, ring_ff, slot, n_rows, n_hid, exp_hid)
                elif delayed and not linear:   # no input delays: the buffer of step t + 1
                    nxt_ff = (slot + 1 if slot + 1 < n_rows else 0) * n_hid
                    for j in range(n_hid):
                        ring_ff[nxt_ff + j] += _shift(acc[j], exp_hid)
                else:
                    for j in range(n_hid):
                        buf_ff[j] = _shift(acc[j], exp_hid)
                acc[:] = 0
                acc_out[:] = 0
                for i in range(n_spk):
                    row = w_rec_t[spikes[i]]
                    if linear:   # one ring holds both connections' arrivals
                        off = off_rec[spikes[i]]
                        lin = lin_rec[spikes[i]]
                        for j in range(n_hid):
                            ring_lin[nxt + off[j]] += lin[j]
                    elif delayed:
                        off = off_rec[spikes[i]]
                        for j in range(n_hid):
                            acc_d[off[j]] += row[j]
                    else:
                        for j in range(n_hid):
                            acc[j] += row[j]
                    n_eff += nnz_hid[spikes[i]]
                    row_out = w_out_t[spikes[i]]
                    for k in range(n_out):
                        acc_out[k] += row_out[k]
                if delayed:
                    if not linear:
                        _deliver(acc_d, ring_rec, slot, n_rows, n_hid, exp_hid)
                    slot = slot + 1 if slot + 1 < n_rows else 0
                else:
                    for j in range(n_hid):
                        buf_rec[j] = _shift(acc[j], exp_hid)
                for k in range(n_out):
                    buf_out[k] = _shift(acc_out[k], exp_out)
                n_hid_spikes += n_spk
            activity[smp, 0] = n_in_events
            activity[smp, 1] = n_hid_spikes
            activity[smp, 2] = n_out_spikes
            activity[smp, 3] = n_eff
