"""Numba kernels: event-driven forward pass and discrete Eventprop backward pass, per chunk.

A chunk is a contiguous list of samples handled by one thread. All arithmetic on the dense
(N,) state runs in the weights' dtype (float32 for training speed, float64 for tests); the
readout R is accumulated in float64. engine.py documents the equations of both adjoint
schemes; the scheme enters only through the constants vector `consts` (weights' dtype):

    ALPHA, BETA, K_IN = (1 - alpha) c_I, V_TH, ZERO: forward constants;
    DEN_X, DEN_VOLD, DEN_V: jump denominator  den = DEN_X x + DEN_VOLD V[n-1] + DEN_V V_pre;
    COEF_X, COEF_DEN, COEF_TH: own-term factor coef = COEF_X x + COEF_DEN den + COEF_TH;
    FB_A, FB_B: feedback per target  FB_A dL/dV - FB_B dL/dx;
    K_BWD: hidden b <- beta b + K_BWD a;  LATE: 1 = jump after the step's decay and
    constant-drive output update (mlGeNN), 0 = exact discrete;  DRIVE, INV_KAPPA: mlGeNN drive;
    K_D: delay gradient factor (delay_kernels.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# No nnan/ninf: the threshold test must still see NaN as "no spike" if weights blow up.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Up to this size dW_in + dW_rec of a sample are added to in the backward sweep itself (they
# stay in a core's L2); larger ones from the sample's history of b after it (backward_chunk).
DIRECT_BYTES = 1 << 20
(ALPHA, BETA, K_IN, V_TH, ZERO, DEN_X, DEN_VOLD, DEN_V, COEF_X, COEF_DEN, COEF_TH, FB_A, FB_B,
 K_BWD, LATE, DRIVE, INV_KAPPA, K_D) = range(18)
N_CONSTS = 18


@njit(cache=True, nogil=True)
def check_events(steps, channels, offsets, samples, n_in):
    """Return -1 if every listed sample's events are valid, else the first bad sample index."""
    n_total = offsets.shape[0] - 1
    for si in range(samples.shape[0]):
        s = samples[si]
        if s < 0 or s >= n_total:
            return si
        e0 = offsets[s]
        e1 = offsets[s + 1]
        if e0 > e1 or e0 < 0 or e1 > steps.shape[0]:
            return si
        prev = -1
        for e in range(e0, e1):
            c = channels[e]
            k = steps[e]
            if c < 0 or c >= n_in or k < 0 or k < prev:
                return si
            prev = k
    return -1


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _add_row(dst, w, row):
    """dst += w[row, :] (contiguous, vectorised)."""
    for j in range(dst.shape[0]):
        dst[j] += w[row, j]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _add_vec(g, row, v):
    """g[row, :] += v (contiguous, vectorised)."""
    for j in range(v.shape[0]):
        g[row, j] += v[j]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _hidden_step(xh, vh, den, coef, flag, consts):
    """One hidden LIF step for all neurons (+ jump factors); returns the number of spikes."""
    alpha = consts[ALPHA]
    beta = consts[BETA]
    k_in = consts[K_IN]
    v_th = consts[V_TH]
    zero = consts[ZERO]
    d_x = consts[DEN_X]
    d_vold = consts[DEN_VOLD]
    d_v = consts[DEN_V]
    c_x = consts[COEF_X]
    c_den = consts[COEF_DEN]
    c_th = consts[COEF_TH]
    nsp = 0
    for j in range(xh.shape[0]):
        xj = xh[j]
        vold = vh[j]
        v = alpha * vold + k_in * xj
        xh[j] = beta * xj
        dj = d_x * xj + d_vold * vold + d_v * v
        den[j] = dj
        coef[j] = c_x * xj + c_den * dj + c_th
        spk = v >= v_th
        vh[j] = zero if spk else v
        flag[j] = spk
        nsp += spk
    return nsp


@njit(cache=True, nogil=True)
def _grow(buf, n_keep):
    """Return a buffer twice as long holding buf[:n_keep]."""
    out = np.empty(max(2 * buf.shape[0], 16), buf.dtype)
    out[:n_keep] = buf[:n_keep]
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _forward_sample(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch, e, e1,
                    xh, vh, den, coef, flag, xo, vo, readout_row, count_row, store, sp_step,
                    sp_neu, sp_den, sp_coef, n_buf):
    """Simulate one sample, appending its spikes to the tape; new length, or -1 if full."""
    # Never reallocates the tape (the caller grows it and re-runs the sample): reassigning
    # arrays inside this loop made numba's code ~10x slower.
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
    readout_row[:] = 0.0
    count_row[:] = 0
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
                    for i in range(n_hid):
                        xh[i] += w_rec[j, i]
                    for k in range(n_out):
                        xo[k] += w_out[j, k]
        while e < e1 and ev_steps[e] <= n:
            c = ev_ch[e]
            for i in range(n_hid):
                xh[i] += w_in[c, i]
            e += 1
    return n_buf


@njit(cache=True, nogil=True)
def forward_chunk(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch, offsets,
                  samples, store, cap):
    """Simulate the samples: R (nb, C) float64, counts (nb, N), spike tape (empty if not store)."""
    # Tape: every hidden spike (step, neuron, den, coef) in time order, sample after sample;
    # sp_off[si]:sp_off[si + 1] is sample si's part.
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
    n_buf = 0
    for si in range(nb):
        s = samples[si]
        while True:
            n_new = _forward_sample(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps,
                                    ev_ch, offsets[s], offsets[s + 1], xh, vh, den, coef,
                                    flag, xo, vo, readout[si], counts[si], store, sp_step,
                                    sp_neu, sp_den, sp_coef, n_buf)
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
def _backward_sample(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch, e0, e1,
                     sp_step, sp_neu, sp_den, sp_coef, p0, p1, dl_dr_row, reg_jump, direct,
                     g_in, g_rec, has_in, has_rec, hist, g_out, ah, bh, dh, pend, ao, bo, do,
                     src):
    """One sample's backward sweep over its tape (p0..p1 - 1) and input events (e0..e1 - 1):
    the adjoints, the jumps, dW_out (added to g_out), and the b = dL/dx[n + 1] that every
    spike emitted at step n adds to its row of dW_in or dW_rec: `direct`, added there (to
    g_in, g_rec) at once, a row's first term written as zero + b (the bits of adding it to
    a zeroed row) and the row marked in has_in, has_rec (`_leaf_rest` zeroes the rest);
    else kept in hist[n] (`_rows_of` adds them up afterwards, row by row, in the same
    order); dl_dr_row: its dL/dR; the rest scratch. The row loops are written out here:
    as calls they cost more than the zeroing they save (benchmarks, N = 256)."""
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    zero = consts[ZERO]
    fb_a = consts[FB_A]
    fb_b = consts[FB_B]
    late = consts[LATE] > zero
    inv_steps = 1.0 / n_steps
    ah[:] = zero
    bh[:] = zero
    ao[:] = zero
    bo[:] = zero
    e = e1 - 1
    while e >= e0 and ev_steps[e] >= n_steps:
        e -= 1
    p = p1 - 1
    for n in range(n_steps - 1, -1, -1):
        wt = math.exp(-n * dt_over_t) * inv_steps
        for k in range(n_out):
            src[k] = dl_dr_row[k] * wt   # dL/dV_out[n], direct (readout) part
        if not direct:
            hist[n] = bh
        p_top = p
        # Spikes emitted at step n: gradients and jumps from the end of backward step n + 1.
        if p >= p0 and sp_step[p] == n:
            for j in range(n_hid):
                dh[j] = fb_a * ah[j] - fb_b * bh[j]
            for k in range(n_out):
                do[k] = fb_a * (ao[k] + (zero if late else src[k])) - fb_b * bo[k]
            while p >= p0 and sp_step[p] == n:
                i = sp_neu[p]
                fb = zero
                for j in range(n_hid):
                    fb += w_rec[i, j] * dh[j]
                if direct:
                    if has_rec[i]:
                        for j in range(n_hid):
                            g_rec[i, j] += bh[j]
                    else:
                        has_rec[i] = 1
                        for j in range(n_hid):
                            g_rec[i, j] = zero + bh[j]
                for k in range(n_out):
                    fb += w_out[i, k] * do[k]
                    g_out[i, k] += bo[k]
                if late:
                    pend[i] = fb / sp_den[p] + reg_jump[i]
                else:
                    ah[i] = (sp_coef[p] * ah[i] + fb) / sp_den[p] + reg_jump[i]
                p -= 1
        # Input spikes emitted at step n.
        if direct:
            while e >= e0 and ev_steps[e] == n:
                c = ev_ch[e]
                if has_in[c]:
                    for j in range(n_hid):
                        g_in[c, j] += bh[j]
                else:
                    has_in[c] = 1
                    for j in range(n_hid):
                        g_in[c, j] = zero + bh[j]
                e -= 1
        _step_back(ah, bh, ao, bo, src, pend, sp_neu, sp_den, sp_coef, p + 1, p_top + 1,
                   late, consts)


@njit(cache=True, nogil=True)
def _cascade_row(stack, lo, hi, row, val):
    """stack[lo, row] += stack[lo + 1, row] + (... + (stack[hi, row] + val)): the merges of
    the gradient tree that join a leaf (val, this row of it) with slots hi down to lo, one
    row at a time, in their order (no fastmath: the chain must not be reassociated). val is
    overwritten."""
    for sl in range(hi, lo, -1):
        for j in range(val.shape[0]):
            val[j] = stack[sl, row, j] + val[j]
    for j in range(val.shape[0]):
        stack[lo, row, j] += val[j]


@njit(cache=True, nogil=True)
def _leaf_rest(g, has, zero):
    """After a direct sweep: zero the leaf's rows without a term; clear `has` for the next
    sample."""
    for row in range(has.shape[0]):
        if has[row]:
            has[row] = 0
        else:
            g[row] = zero


@njit(cache=True, nogil=True)
def _group_desc(keys, steps, lo, hi, n_steps, n_keys, starts, order):
    """Entries lo..hi - 1 with steps[e] < n_steps grouped by key (counting sort), each
    group in descending entry order (the backward sweep's order): group k is
    order[starts[k]:starts[k + 1]]."""
    starts[:] = 0
    for e in range(lo, hi):
        if steps[e] < n_steps:
            starts[keys[e] + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    fill = starts[1:n_keys + 1].copy()
    for e in range(hi - 1, lo - 1, -1):
        if steps[e] < n_steps:
            k = keys[e]
            fill[k] -= 1
            order[fill[k]] = e
    # fill[k] == starts[k] now; the entries of group k run high to low from starts[k]
    for k in range(n_keys):
        a = starts[k]
        b = starts[k + 1] - 1
        while a < b:
            order[a], order[b] = order[b], order[a]
            a += 1
            b -= 1


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _rows_of(stack, top, lo, hist, steps, starts, order, acc):
    """Row k of the leaf = the sum of hist[steps[e]] over group k's entries, added one by
    one in the group's order from 0: the additions and their order of adding each spike's b
    to its row in the sweep, done one row at a time (the row in L1, each b row read from
    the sample's history). Written to slot top (lo == top), or merged at once down to slot
    lo (`_cascade_row`) without writing the leaf."""
    zero = acc.dtype.type(0)
    for k in range(stack.shape[1]):
        acc[:] = zero
        for q in range(starts[k], starts[k + 1]):
            h = hist[steps[order[q]]]
            for j in range(acc.shape[0]):
                acc[j] += h[j]
        if lo < top:
            _cascade_row(stack, lo, top - 1, k, acc)
        else:
            row = stack[top, k]
            for j in range(acc.shape[0]):
                row[j] = acc[j]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _merge(dst, src):
    """dst += src, element-wise (a node of the gradient tree: the same IEEE additions at any
    vector width)."""
    d = dst.reshape(-1)
    s = src.reshape(-1)
    for j in range(d.shape[0]):
        d[j] += s[j]


@njit(cache=True, nogil=True)
def backward_chunk(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch, offsets,
                   samples, sp_step, sp_neu, sp_den, sp_coef, sp_off, dl_dr, reg_jump, s_in,
                   s_rec, s_out):
    """Backward pass of the samples: (dW_in, dW_rec, dW_out), their sum in the gradient tree,
    left in s_in[0], s_rec[0], s_out[0] (the caller's stacks: n.bit_length() slots of the
    weights' shapes for n samples; the rest scratch).

    Each sample's gradients are a leaf of their own, and the leaves are summed in the
    batch's fixed tree (engine.py: sum of a run of n samples = sum of its first p + sum of
    the rest, p the largest power of two below n), here as a binary counter: push a leaf,
    merge the top two while they hold equally many samples, fold the rest from the top at
    the end. A run of samples that is a node of the batch's tree gives that node's bits.
    Where dW_in and dW_rec fit in DIRECT_BYTES (a core's L2), each spike adds its row to
    the leaf in the sweep (a row's first term written, not added to a zeroed row) and the
    merges are whole-slot passes (streamed; merging each row when its last spike is in was
    slower: benchmarks/bench_training_throughput.py, N = 256); larger ones are summed after
    the sweep from the sample's history of b, one row at a time (the same additions in the
    same order: the same bits), and merged at once down the slots the leaf joins
    (`_cascade_row`), the leaf itself never written. dl_dr (nb, C): dL/dR per sample;
    reg_jump (N,): regulariser increment of dL/dV at each spike of that neuron."""
    n_in = w_in.shape[0]
    n_hid = w_rec.shape[0]
    n_out = w_out.shape[1]
    dtype = w_rec.dtype
    zero = consts[ZERO]
    sizes = np.zeros(s_in.shape[0], np.int64)
    ah = np.empty(n_hid, dtype)   # dL/dV[n] (hidden), through later steps only
    bh = np.empty(n_hid, dtype)   # dL/dx[n + 1] (hidden synaptic variable)
    dh = np.empty(n_hid, dtype)
    pend = np.zeros(n_hid, dtype)  # LATE: jump terms applied after the decay
    ao = np.empty(n_out, dtype)
    bo = np.empty(n_out, dtype)
    do = np.empty(n_out, dtype)
    src = np.empty(n_out, dtype)
    direct = (n_in + n_hid) * n_hid * w_rec.itemsize <= DIRECT_BYTES
    # b at every backward step of the sample (not needed when direct)
    hist = np.empty((1 if direct else n_steps, n_hid), dtype)
    g_out = np.empty((n_hid, n_out), dtype)
    acc = np.empty(n_hid, dtype)
    has_in = np.zeros(n_in, np.uint8)    # direct: rows of the leaf that have a term
    has_rec = np.zeros(n_hid, np.uint8)
    starts_in = np.empty(n_in + 1, np.int64)
    starts_rec = np.empty(n_hid + 1, np.int64)
    order_in = np.empty(0, np.int64)
    order_rec = np.empty(0, np.int64)
    top = 0
    for si in range(samples.shape[0]):
        s = samples[si]
        e0, e1 = offsets[s], offsets[s + 1]
        p0, p1 = sp_off[si], sp_off[si + 1]
        g_out[:] = 0
        if direct:
            _backward_sample(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch,
                             e0, e1, sp_step, sp_neu, sp_den, sp_coef, p0, p1, dl_dr[si],
                             reg_jump, True, s_in[top], s_rec[top], has_in, has_rec, hist,
                             g_out, ah, bh, dh, pend, ao, bo, do, src)
            _leaf_rest(s_in[top], has_in, zero)
            _leaf_rest(s_rec[top], has_rec, zero)
            s_out[top] = g_out
            sizes[top] = 1
            top += 1
            while top >= 2 and sizes[top - 1] == sizes[top - 2]:
                top = _pop_merge(s_in, s_rec, s_out, sizes, top)
            continue
        # the leaf, summed row by row from hist, goes to slot top (lo == top) or is merged
        # at once with slots top - 1 .. lo, as the binary counter would (sizes 1, 2, 4 ..)
        lo = top
        size = 1
        while lo >= 1 and sizes[lo - 1] == size:
            lo -= 1
            size += sizes[lo]
        if order_in.shape[0] < e1 - e0 or order_rec.shape[0] < p1 - p0:
            order_in = np.empty(max(order_in.shape[0], e1 - e0), np.int64)
            order_rec = np.empty(max(order_rec.shape[0], p1 - p0), np.int64)
        _backward_sample(w_in, w_rec, w_out, consts, n_steps, dt_over_t, ev_steps, ev_ch,
                         e0, e1, sp_step, sp_neu, sp_den, sp_coef, p0, p1, dl_dr[si],
                         reg_jump, False, s_in[top], s_rec[top], has_in, has_rec, hist,
                         g_out, ah, bh, dh, pend, ao, bo, do, src)
        _group_desc(ev_ch, ev_steps, e0, e1, n_steps, n_in, starts_in, order_in)
        _group_desc(sp_neu, sp_step, p0, p1, n_steps, n_hid, starts_rec, order_rec)
        _rows_of(s_in, top, lo, hist, ev_steps, starts_in, order_in, acc)
        _rows_of(s_rec, top, lo, hist, sp_step, starts_rec, order_rec, acc)
        if lo < top:
            for row in range(n_hid):
                _cascade_row(s_out, lo, top - 1, row, g_out[row])
        else:
            s_out[top] = g_out
        sizes[lo] = size
        top = lo + 1
    while top >= 2:
        top = _pop_merge(s_in, s_rec, s_out, sizes, top)


@njit(cache=True, nogil=True)
def _pop_merge(s_in, s_rec, s_out, sizes, top):
    """Merge the top partial sum into the one below it; the new stack height."""
    _merge(s_in[top - 2], s_in[top - 1])
    _merge(s_rec[top - 2], s_rec[top - 1])
    _merge(s_out[top - 2], s_out[top - 1])
    sizes[top - 2] += sizes[top - 1]
    return top - 1


@njit(inline="always", fastmath=FASTMATH)
def _step_back(ah, bh, ao, bo, src, pend, sp_neu, sp_den, sp_coef, q0, q1, late, consts):
    """One step back: the readout source on V_out[n], the decay of both layers, and (LATE)
    the jumps of the spikes q0..q1 - 1 of the tape after the decay."""
    alpha = consts[ALPHA]
    beta = consts[BETA]
    k_in = consts[K_IN]
    k_bwd = consts[K_BWD]
    drive = consts[DRIVE]
    inv_kappa = consts[INV_KAPPA]
    if late:
        for k in range(ao.shape[0]):
            drv = src[k] * drive
            a_old = ao[k]
            bo[k] = (drv * inv_kappa + (bo[k] - drv * inv_kappa) * beta
                     + k_bwd * (a_old - drv))
            ao[k] = drv + (a_old - drv) * alpha
    else:
        for k in range(ao.shape[0]):
            at = ao[k] + src[k]
            bo[k] = beta * bo[k] + k_in * at
            ao[k] = alpha * at
    for j in range(ah.shape[0]):
        at = ah[j]
        bh[j] = beta * bh[j] + k_bwd * at
        ah[j] = alpha * at
    if late:
        for q in range(q0, q1):
            i = sp_neu[q]
            ah[i] = ah[i] * sp_coef[q] / sp_den[q] + pend[i]
