"""Numba kernels of the network with per-synapse delays: forward pass and Eventprop backward.

The delay-free kernels (kernels.py) stay as they are (their speed and bits do not change);
these are used when a model has delays (network.Delays: integer steps, (pre, post)).

Forward. A spike of i emitted at step n adds w_ij to target j's x at the end of step
m = n + d_ij (d = 0: at the end of step n, as without delays), so it moves V_j from step
m + 1 on; arrivals with m >= n_steps are dropped. Pending inputs live in a ring of
L = D + 1 rows (D the largest delay) of N, mirrored: with s = n mod L, a spike scatters
w_ij to row s + d_ij < 2L of 2L rows at the precomputed unsigned offset d_ij N + j
(`ring_offsets`), with no wrap to compute, and at the end of step n rows s and s + L (the
arrivals of step n, before and after the wrap) are added to x and cleared. Cost stays
proportional to events (one scatter of N per spike instead of a row add); memory 2 L x N.
Why this layout (micro-benchmarks, N = 256, D = 62, float32): a scatter costs ~1 ns per
synapse against ~0.1 ns for the delay-free row add, which vectorises; numba's
negative-index wraparound on signed offsets and the wrap's compare cost half of it, cache
misses of the 64 kB ring most of the rest. A target-major ring (each target's L slots
contiguous, one pass over the targets per step) was slower.

Backward (both adjoint schemes of engine.py). An arrival at the end of step m enters the
loss through b_j = dL/dx_j[m + 1], the value at the start of backward step m, so with delays
every per-target quantity a spike's gradient and jump read at step n is read at its arrival
step m = n + d_ij instead:
    dL/dw_ij  += b_j[m]
    jump feedback of i (hidden): sum_j w_ij dh_j[m],   dh_j = FB_A a_j - FB_B b_j
    dL/dd_ij  += -K_D w_ij dh_j[m]
with a_j, b_j taken at the start of backward step m (before that step's jumps), as the
delay-free kernels take them at spike steps. The delay gradient is the sensitivity of L to
moving the arrival one step later. "discrete": K_D = 1 - alpha and FB = (c_I, kappa_d); then
-K_D w dh_j[m] = w (dL/dx[m+1] - dL/dx[m]) = L(d) - L(d - 1) to first order, the exact
backward difference of the discrete model (the adjoint of x over one step is
dL/dx[m] = beta dL/dx[m+1] + (1 - alpha) c_I dL/dV[m]). "mlgenn": K_D = dt / tau_mem and
FB = (1, tau_mem / tau_syn), i.e. dt dL/dt_arrival = dt w (b / tau_syn - a / tau_mem), the
continuous Eventprop delay gradient (Meszaros et al. 2025, arXiv 2501.07331; mlGeNN's
DelayGradient -= g (LambdaI_post[d] - LambdaV_post[d]) is this / (tau_mem dt), as its
weight gradient is dL/dw / tau_mem). Both converge to dL/dd as dt -> 0 (tests:
tests/test_engine_delays.py). b and dh of the last L backward steps are kept in one ring
laid out as the forward ring, mirrored, with each synapse's b and dh side by side (one cache
line serves both reads; memory flat in T; only spike steps are on the tape, as without
delays): at the start of backward step m, rows m mod L and m mod L + L get b and dh, so
steps m..m + D are all there and row m mod L + d is step m + d's (the step written there
last; steps below m are not written yet). dL/dw and dL/dd are accumulated side by side too
(one write stream per event) and split at the end. The ring is zeroed per sample, so the
rows of steps >= n_steps (never written) read 0: arrivals after the end.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurokws.model.kernels import (
    ALPHA,
    BETA,
    FASTMATH,
    FB_A,
    FB_B,
    K_D,
    K_IN,
    LATE,
    ZERO,
    _add_row,
    _add_vec,
    _grow,
    _hidden_step,
    _pop_merge,
    _step_back,
)


def ring_offsets(d_in: np.ndarray, d_rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per synapse its place in a ring row block: d_ij N + j, C order, unsigned (numba's
    indexing then needs no negative-index wraparound, which cost half the time of a scatter
    or gather in a micro-benchmark) and uint16 where the ring allows (L N <= 2^15, e.g.
    N = 256 with delays up to 62: half the bytes streamed per event), else uint32."""
    n_hid = d_rec.shape[0]
    n_rows = int(max(np.max(d_in, initial=0), np.max(d_rec, initial=0))) + 1
    dtype = np.uint16 if n_rows * n_hid <= 1 << 15 else np.uint32
    out = []
    for d in (d_in, d_rec):
        off = np.empty(d.shape, dtype)
        _offsets_into(np.ascontiguousarray(d), off)   # one pass (batch size 1: per update)
        out.append(off)
    return tuple(out)


@njit(cache=True, nogil=True)
def _offsets_into(d, off):
    """off[i, j] = d[i, j] N + j (ring_offsets; the caller checked the range)."""
    n_hid = d.shape[1]
    for i in range(d.shape[0]):
        for j in range(n_hid):
            off[i, j] = d[i, j] * n_hid + j


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _scatter(ring, base, w, off, row):
    """ring[base + off[row, j]] += w[row, j] for every target j (off = d N + j; the ring is
    mirrored, so the index needs no wrap)."""
    o = off[row]
    wr = w[row]
    for j in range(wr.shape[0]):
        ring[base + o[j]] += wr[j]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _forward_sample(w_in, w_rec, w_out, off_in, off_rec, n_rows, in_ring, ring, consts,
                    n_steps, dt_over_t, ev_steps, ev_ch, e, e1, xh, vh, den, coef, flag, xo, vo,
                    readout_row, count_row, store, sp_step, sp_neu, sp_den, sp_coef, n_buf):
    """kernels._forward_sample with the hidden layer's inputs through the delay ring (the
    input connection's only if `in_ring`; without input delays its rows are added to x at
    once, as without delays)."""
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    alpha = consts[ALPHA]
    beta = consts[BETA]
    k_in = consts[K_IN]
    zero = consts[ZERO]
    cap = sp_step.shape[0]
    inv_steps = 1.0 / n_steps
    xh[:] = zero
    vh[:] = zero
    xo[:] = zero
    vo[:] = zero
    ring[:] = zero
    readout_row[:] = 0.0
    count_row[:] = 0
    slot = 0
    base = np.uint32(0)
    mirror = n_rows * n_hid
    for n in range(n_steps):
        nsp = _hidden_step(xh, vh, den, coef, flag, consts)
        wt = math.exp(-n * dt_over_t) * inv_steps
        for k in range(n_out):
            xk = xo[k]
            v = alpha * vo[k] + k_in * xk
            xo[k] = beta * xk
            vo[k] = v
            readout_row[k] += wt * v
        if nsp > 0:
            if store and n_buf + nsp > cap:
                return -1
            for j in range(n_hid):
                if flag[j]:
                    count_row[j] += 1
                    if store:
                        sp_step[n_buf] = n
                        sp_neu[n_buf] = j
                        sp_den[n_buf] = den[j]
                        sp_coef[n_buf] = coef[j]
                        n_buf += 1
                    _scatter(ring, base, w_rec, off_rec, j)
                    _add_row(xo, w_out, j)
        while e < e1 and ev_steps[e] <= n:
            if in_ring:
                _scatter(ring, base, w_in, off_in, ev_ch[e])
            else:
                _add_row(xh, w_in, ev_ch[e])
            e += 1
        for j in range(n_hid):
            xh[j] += ring[base + j] + ring[base + mirror + j]
            ring[base + j] = zero
            ring[base + mirror + j] = zero
        slot = slot + 1 if slot + 1 < n_rows else 0   # n mod L
        base = np.uint32(slot * n_hid)
    return n_buf


@njit(cache=True, nogil=True)
def forward_chunk(w_in, w_rec, w_out, off_in, off_rec, n_rows, in_ring, consts, n_steps,
                  dt_over_t, ev_steps, ev_ch, offsets, samples, store, cap):
    """kernels.forward_chunk with delays (n_rows = L = max delay + 1, off = ring_offsets,
    in_ring: the input connection has delays); same outputs."""
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    nb = samples.shape[0]
    dtype = w_rec.dtype
    readout = np.zeros((nb, n_out), np.float64)
    counts = np.zeros((nb, n_hid), np.int32)
    cap = max(cap, 1) if store else 0
    sp_step = np.empty(cap, np.int32)
    sp_neu = np.empty(cap, np.int32)
    sp_den = np.empty(cap, dtype)
    sp_coef = np.empty(cap, dtype)
    sp_off = np.zeros(nb + 1, np.int64)
    xh = np.empty(n_hid, dtype)
    vh = np.empty(n_hid, dtype)
    den = np.empty(n_hid, dtype)
    coef = np.empty(n_hid, dtype)
    flag = np.empty(n_hid, np.bool_)
    xo = np.empty(n_out, dtype)
    vo = np.empty(n_out, dtype)
    ring = np.empty(2 * n_rows * n_hid, dtype)   # rows L..2L-1 mirror 0..L-1
    n_buf = 0
    for si in range(nb):
        s = samples[si]
        while True:
            n_new = _forward_sample(w_in, w_rec, w_out, off_in, off_rec, n_rows, in_ring, ring,
                                    consts, n_steps,
                                    dt_over_t, ev_steps, ev_ch, offsets[s], offsets[s + 1],
                                    xh, vh, den, coef, flag, xo, vo, readout[si], counts[si],
                                    store, sp_step, sp_neu, sp_den, sp_coef, n_buf)
            if n_new >= 0:
                break
            sp_step = _grow(sp_step, n_buf)
            sp_neu = _grow(sp_neu, n_buf)
            sp_den = _grow(sp_den, n_buf)
            sp_coef = _grow(sp_coef, n_buf)
        n_buf = n_new
        sp_off[si + 1] = n_buf
    return (readout, counts, sp_step[:n_buf], sp_neu[:n_buf], sp_den[:n_buf],
            sp_coef[:n_buf], sp_off)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gather(gg, w, off2, row, bd_ring, base2, k_d, zero):
    """Gradients of one spike's synapses read at their arrivals; returns sum_j w dh[m].
    bd_ring interleaves b and dh (one cache line holds both of a synapse's reads) and is
    mirrored as _scatter's ring; off2 = 2 off and base2 = 2 base index it. gg interleaves
    each synapse's dL/dw and dL/dd likewise (one write stream per spike)."""
    o = off2[row]
    wr = w[row]
    gr = gg[row]
    fb = zero
    for j in range(wr.shape[0]):
        r = base2 + o[j]
        wdh = wr[j] * bd_ring[r + np.uint32(1)]
        fb += wdh
        gr[2 * j] += bd_ring[r]
        gr[2 * j + 1] -= k_d * wdh
    return fb


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gather_in(gg, w, off2, row, bd_ring, base2, k_d):
    """_gather for an input channel (no feedback sum)."""
    o = off2[row]
    wr = w[row]
    gr = gg[row]
    for j in range(wr.shape[0]):
        r = base2 + o[j]
        gr[2 * j] += bd_ring[r]
        gr[2 * j + 1] -= k_d * wr[j] * bd_ring[r + np.uint32(1)]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _backward_sample(w_in, w_rec, w_out, off2_in, off2_rec, n_rows, in_ring, consts, n_steps,
                     dt_over_t, ev_steps, ev_ch, e0, e1, sp_step, sp_neu, sp_den, sp_coef, p0,
                     p1, dl_dr_row, reg_jump, gg_in, gg_rec, g_out, ah, bh, pend, bd_ring, ao,
                     bo, do, src):
    """One sample's backward pass with delays, adding to gg_in, gg_rec (dL/dw and dL/dd
    interleaved; gg_in dL/dw alone without input delays) and g_out; the rest scratch."""
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    zero = consts[ZERO]
    fb_a = consts[FB_A]
    fb_b = consts[FB_B]
    late = consts[LATE] > zero
    k_d = consts[K_D]
    mirror2 = 2 * n_rows * n_hid
    inv_steps = 1.0 / n_steps
    ah[:] = zero
    bh[:] = zero
    ao[:] = zero
    bo[:] = zero
    e = e1 - 1
    while e >= e0 and ev_steps[e] >= n_steps:
        e -= 1
    p = p1 - 1
    bd_ring[:] = zero   # rows of steps >= n_steps must read 0 (arrivals after the end)
    slot = (n_steps - 1) % n_rows
    for n in range(n_steps - 1, -1, -1):
        wt = math.exp(-n * dt_over_t) * inv_steps
        for k in range(n_out):
            src[k] = dl_dr_row[k] * wt   # dL/dV_out[n], direct (readout) part
        base2 = np.uint32(2 * slot * n_hid)
        for j in range(n_hid):
            bj = bh[j]
            dj = fb_a * ah[j] - fb_b * bj
            r = base2 + 2 * j
            bd_ring[r] = bj
            bd_ring[r + 1] = dj
            bd_ring[r + mirror2] = bj
            bd_ring[r + mirror2 + 1] = dj
        p_top = p
        # Spikes emitted at step n: gradients and jumps read at each synapse's arrival.
        if p >= p0 and sp_step[p] == n:
            for k in range(n_out):
                do[k] = fb_a * (ao[k] + (zero if late else src[k])) - fb_b * bo[k]
            while p >= p0 and sp_step[p] == n:
                i = sp_neu[p]
                fb = _gather(gg_rec, w_rec, off2_rec, i, bd_ring, base2, k_d, zero)
                for k in range(n_out):
                    fb += w_out[i, k] * do[k]
                    g_out[i, k] += bo[k]
                if late:
                    pend[i] = fb / sp_den[p] + reg_jump[i]
                else:
                    ah[i] = (sp_coef[p] * ah[i] + fb) / sp_den[p] + reg_jump[i]
                p -= 1
        # Input spikes emitted at step n.
        while e >= e0 and ev_steps[e] == n:
            if in_ring:
                _gather_in(gg_in, w_in, off2_in, ev_ch[e], bd_ring, base2, k_d)
            else:
                _add_vec(gg_in, ev_ch[e], bh)
            e -= 1
        _step_back(ah, bh, ao, bo, src, pend, sp_neu, sp_den, sp_coef, p + 1, p_top + 1,
                   late, consts)
        slot = slot - 1 if slot > 0 else n_rows - 1


@njit(cache=True, nogil=True)
def backward_chunk(w_in, w_rec, w_out, off_in, off_rec, n_rows, in_ring, consts, n_steps,
                   dt_over_t, ev_steps, ev_ch, offsets, samples, sp_step, sp_neu, sp_den, sp_coef,
                   sp_off, dl_dr, reg_jump, s_in, s_rec, s_out):
    """kernels.backward_chunk with delays, each sample a leaf of the gradient tree as there;
    the stacks hold dL/dw and dL/dd interleaved: s_in (depth, n_in, 2N), or (depth, n_in, N)
    with dL/dw alone without input delays (not in_ring: the input gradient is the delay-free
    kernel's row add and dL/dd_in is 0), s_rec (depth, N, 2N); s_out (depth, N, C).
    `split_delay_grads` takes the sum in slot 0 apart."""
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    dtype = w_rec.dtype
    sizes = np.zeros(s_in.shape[0], np.int64)
    ah = np.empty(n_hid, dtype)   # dL/dV[n] (hidden), through later steps only
    bh = np.empty(n_hid, dtype)   # dL/dx[n + 1] (hidden synaptic variable)
    pend = np.zeros(n_hid, dtype)  # LATE: jump terms applied after the decay
    # (bh, FB_A ah - FB_B bh) at the start of backward step m, interleaved; rows L..2L-1
    # mirror rows 0..L-1, so that row (m mod L) + d needs no wrap
    bd_ring = np.zeros(4 * n_rows * n_hid, dtype)
    off2_in = off_in + off_in   # same dtype (ring_offsets leaves room for 2 L N)
    off2_rec = off_rec + off_rec
    ao = np.empty(n_out, dtype)
    bo = np.empty(n_out, dtype)
    do = np.empty(n_out, dtype)
    src = np.empty(n_out, dtype)
    top = 0
    for si in range(samples.shape[0]):
        s = samples[si]
        s_in[top] = 0
        s_rec[top] = 0
        s_out[top] = 0
        _backward_sample(w_in, w_rec, w_out, off2_in, off2_rec, n_rows, in_ring, consts,
                         n_steps, dt_over_t, ev_steps, ev_ch, offsets[s], offsets[s + 1],
                         sp_step, sp_neu, sp_den, sp_coef, sp_off[si], sp_off[si + 1], dl_dr[si],
                         reg_jump, s_in[top], s_rec[top], s_out[top], ah, bh, pend, bd_ring,
                         ao, bo, do, src)
        sizes[top] = 1
        top += 1
        while top >= 2 and sizes[top - 1] == sizes[top - 2]:
            top = _pop_merge(s_in, s_rec, s_out, sizes, top)
    while top >= 2:
        top = _pop_merge(s_in, s_rec, s_out, sizes, top)


def stack_shapes(n_in: int, n_hid: int, n_out: int, in_ring: bool) -> tuple[tuple, ...]:
    """Shapes of one stack slot of backward_chunk's s_in, s_rec, s_out."""
    return ((n_in, (2 if in_ring else 1) * n_hid), (n_hid, 2 * n_hid), (n_hid, n_out))


def split_delay_grads(gg_in: np.ndarray, gg_rec: np.ndarray, g_out: np.ndarray,
                      in_ring: bool) -> tuple[np.ndarray, ...]:
    """(dW_in, dW_rec, dW_out, dD_in, dD_rec) from backward_chunk's interleaved sums."""
    if not in_ring:
        return (gg_in.copy(), np.ascontiguousarray(gg_rec[:, 0::2]), g_out.copy(),
                np.zeros_like(gg_in), np.ascontiguousarray(gg_rec[:, 1::2]))
    return (np.ascontiguousarray(gg_in[:, 0::2]), np.ascontiguousarray(gg_rec[:, 0::2]),
            g_out.copy(), np.ascontiguousarray(gg_in[:, 1::2]),
            np.ascontiguousarray(gg_rec[:, 1::2]))
