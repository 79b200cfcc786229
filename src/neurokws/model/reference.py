"""Slow, plain-numpy reference of the forward pass and both Eventprop backward schemes.

Written independently of kernels.py for testing: dense input rasters, full stored
trajectories, matrix-vector products at every step, float64 throughout. The "mlgenn" scheme
is written in mlGeNN's own variables (lambda_V, lambda_I, drive, A) and converted to a true
gradient only at the end, which also checks the engine's change of units. Small networks only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurokws.model.network import Delays, NetworkConfig, Weights


@dataclass
class Trajectory:
    """Everything one sample's forward pass produced (T = n_steps rows)."""

    raster: np.ndarray   # (T, n_in) input spikes emitted at each step
    x_pre: np.ndarray    # (T, N) hidden synaptic variable at the start of each step
    v_prev: np.ndarray   # (T, N) hidden V at the end of the previous step (after reset)
    v_pre: np.ndarray    # (T, N) hidden V after integration, before reset
    spikes: np.ndarray   # (T, N) bool, hidden spikes emitted at each step
    v_out: np.ndarray    # (T, C) output V
    readout: np.ndarray  # (C,) R


def _float_weights(weights: Weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three matrices as float64."""
    return tuple(np.asarray(a, dtype=np.float64)  # type: ignore[return-value]
                 for a in (weights.w_in, weights.w_rec, weights.w_out))


def simulate(config: NetworkConfig, weights: Weights, steps: np.ndarray,
             channels: np.ndarray, delays: Delays | None = None) -> Trajectory:
    """Run one sample step by step and keep the whole trajectory. With `delays`, what a
    spike at step n sends through a synapse of delay d is added to x at the end of step
    n + d (an arrival table over the whole trial, n_steps + max delay rows)."""
    n_t, n_hid, n_out = config.n_steps, config.n_hidden, config.n_out
    w_in, w_rec, w_out = _float_weights(weights)
    d_in, d_rec = ((np.zeros(w_in.shape, int), np.zeros(w_rec.shape, int)) if delays is None
                   else (np.asarray(delays.d_in, int), np.asarray(delays.d_rec, int)))
    arrivals = np.zeros((n_t + int(max(d_in.max(initial=0), d_rec.max(initial=0))) + 1, n_hid))
    cols_in = np.broadcast_to(np.arange(n_hid), w_in.shape)
    cols_rec = np.broadcast_to(np.arange(n_hid), w_rec.shape)
    alpha, beta, c_i = config.alpha, config.beta, config.current_scale
    raster = np.zeros((n_t, config.n_in))
    for k, c in zip(steps, channels, strict=True):
        if k < n_t:
            raster[k, c] = 1.0
    x_h, v_h = np.zeros(n_hid), np.zeros(n_hid)
    x_o, v_o = np.zeros(n_out), np.zeros(n_out)
    readout = np.zeros(n_out)
    x_pre, v_prev, v_pre = np.zeros((n_t, n_hid)), np.zeros((n_t, n_hid)), np.zeros((n_t, n_hid))
    spikes = np.zeros((n_t, n_hid), dtype=bool)
    v_out = np.zeros((n_t, n_out))
    for n in range(n_t):
        x_pre[n], v_prev[n] = x_h, v_h
        current = c_i * x_h
        x_h = beta * x_h
        v_h = alpha * v_h + (1.0 - alpha) * current
        v_pre[n] = v_h
        spikes[n] = v_h >= config.v_th
        v_h = np.where(spikes[n], 0.0, v_h)
        current_o = c_i * x_o
        x_o = beta * x_o
        v_o = alpha * v_o + (1.0 - alpha) * current_o
        v_out[n] = v_o
        readout += math.exp(-n * config.dt / config.duration_ms) * v_o / n_t
        np.add.at(arrivals, (n + d_in, cols_in), raster[n][:, None] * w_in)
        np.add.at(arrivals, (n + d_rec, cols_rec), spikes[n].astype(float)[:, None] * w_rec)
        x_h = x_h + arrivals[n]
        x_o = x_o + spikes[n].astype(float) @ w_out
    return Trajectory(raster, x_pre, v_prev, v_pre, spikes, v_out, readout)


def backward_discrete(config: NetworkConfig, weights: Weights, traj: Trajectory,
                      dl_dr: np.ndarray, reg_k: np.ndarray, delays: Delays | None = None
                      ) -> tuple[np.ndarray, ...]:
    """'discrete' scheme for one sample; reg_k in mlGeNN units (lambda / B^2 (C - nu B)).
    With `delays`: dL/dx and the feedback of every step kept for the whole trial, a
    synapse's terms read at its arrival step n + d (zero after the end), and the delay
    gradients -(1 - alpha) w dh[n + d] appended (five arrays)."""
    w_in, w_rec, w_out = _float_weights(weights)
    alpha, beta, c_i = config.alpha, config.beta, config.current_scale
    k_in = (1.0 - alpha) * c_i
    kappa_d = (1.0 - beta) / (1.0 - alpha)
    n_t, n_hid = config.n_steps, config.n_hidden
    d_in, d_rec = ((np.zeros(w_in.shape, int), np.zeros(w_rec.shape, int)) if delays is None
                   else (np.asarray(delays.d_in, int), np.asarray(delays.d_rec, int)))
    horizon = n_t + int(max(d_in.max(initial=0), d_rec.max(initial=0))) + 1
    b_at = np.zeros((horizon, n_hid))    # dL/dx[m + 1] at the start of backward step m
    dh_at = np.zeros((horizon, n_hid))   # c_I dL/dV[m] - kappa_d dL/dx[m + 1] there
    cols_in = np.broadcast_to(np.arange(n_hid), w_in.shape)
    cols_rec = np.broadcast_to(np.arange(n_hid), w_rec.shape)
    a_h, b_h = np.zeros(config.n_hidden), np.zeros(config.n_hidden)  # dL/dV, dL/dx
    a_o, b_o = np.zeros(config.n_out), np.zeros(config.n_out)
    g_in, g_rec, g_out = np.zeros_like(w_in), np.zeros_like(w_rec), np.zeros_like(w_out)
    gd_in, gd_rec = np.zeros_like(w_in), np.zeros_like(w_rec)
    for n in range(config.n_steps - 1, -1, -1):
        s = traj.spikes[n].astype(float)
        source = dl_dr * math.exp(-n * config.dt / config.duration_ms) / config.n_steps
        b_at[n], dh_at[n] = b_h, c_i * a_h - kappa_d * b_h
        b_in, dh_in = b_at[n + d_in, cols_in], dh_at[n + d_in, cols_in]
        b_rec, dh_rec = b_at[n + d_rec, cols_rec], dh_at[n + d_rec, cols_rec]
        g_in += traj.raster[n][:, None] * b_in
        g_rec += s[:, None] * b_rec
        gd_in -= (1.0 - alpha) * traj.raster[n][:, None] * w_in * dh_in
        gd_rec -= (1.0 - alpha) * s[:, None] * w_rec * dh_rec
        g_out += np.outer(s, b_o)
        feedback = ((w_rec * dh_rec).sum(axis=1)
                    + w_out @ (c_i * (a_o + source) - kappa_d * b_o))
        cx = c_i * traj.x_pre[n]
        den = np.where(traj.spikes[n], cx - traj.v_prev[n], 1.0)
        jumped = (cx * a_h + feedback) / den + config.tau_mem ** 2 * reg_k
        a_h_pre = np.where(traj.spikes[n], jumped, a_h)
        a_o_pre = a_o + source
        b_h, a_h = beta * b_h + k_in * a_h_pre, alpha * a_h_pre
        b_o, a_o = beta * b_o + k_in * a_o_pre, alpha * a_o_pre
    return (g_in, g_rec, g_out) if delays is None else (g_in, g_rec, g_out, gd_in, gd_rec)


def backward_mlgenn(config: NetworkConfig, weights: Weights, traj: Trajectory,
                    dl_dr: np.ndarray, reg_k: np.ndarray) -> tuple[np.ndarray, ...]:
    """mlGeNN's scheme in its own lambdas for one sample; returns tau_mem * its gradients."""
    w_in, w_rec, w_out = _float_weights(weights)
    alpha, beta, v_th = config.alpha, config.beta, config.v_th
    tau_m, tau_s = config.tau_mem, config.tau_syn
    a_out, a_hid = tau_m / (tau_m - tau_s), tau_m / (tau_s - tau_m)
    lv_h, li_h = np.zeros(config.n_hidden), np.zeros(config.n_hidden)
    lv_o, li_o = np.zeros(config.n_out), np.zeros(config.n_out)
    g_in, g_rec, g_out = np.zeros_like(w_in), np.zeros_like(w_rec), np.zeros_like(w_out)
    for n in range(config.n_steps - 1, -1, -1):
        spiking = traj.spikes[n]
        # synapse phase: gradients and reverse input from the previous step's lambdas
        g_in -= tau_s * np.outer(traj.raster[n], li_h)
        g_rec -= tau_s * np.outer(spiking, li_h)
        g_out -= tau_s * np.outer(spiking, li_o)
        rev_isyn = w_rec @ (lv_h - li_h) + w_out @ (lv_o - li_o)
        # neuron phase: output drive ((delta - softmax) exp(-t/T) / (tau_m B T)), decay, jump
        drive = -dl_dr * math.exp(-n * config.dt / config.duration_ms) / (
            tau_m * config.duration_ms)
        li_o = drive + (li_o - drive) * beta + a_out * (lv_o - drive) * (alpha - beta)
        lv_o = drive + (lv_o - drive) * alpha
        li_h = a_hid * lv_h * (beta - alpha) + li_h * beta
        lv_h = alpha * lv_h
        i_minus_v = np.where(spiking, traj.x_pre[n] - traj.v_pre[n], 1.0)
        lv_h = np.where(spiking, lv_h + (v_th * lv_h + rev_isyn) / i_minus_v - reg_k, lv_h)
    return tau_m * g_in, tau_m * g_rec, tau_m * g_out


def loss_and_grad(config: NetworkConfig, weights: Weights, steps: np.ndarray,
                  channels: np.ndarray, offsets: np.ndarray, labels: np.ndarray,
                  batch_idx: np.ndarray, reg_nu: float = 14.0, reg_upper: float = 0.0,
                  reg_lower: float = 0.0, adjoint: str = "mlgenn",
                  delays: Delays | None = None):
    """Mean CE loss, readout (B, C), counts (B, N) and (g_in, g_rec, g_out), all float64
    (+ (gd_in, gd_rec) with `delays`, "discrete" scheme only)."""
    if delays is not None and adjoint != "discrete":
        raise ValueError("the reference has delays in the 'discrete' scheme only")
    trajs = [simulate(config, weights, steps[offsets[s]:offsets[s + 1]],
                      channels[offsets[s]:offsets[s + 1]], delays) for s in batch_idx]
    n_batch = len(trajs)
    readout = np.stack([t.readout for t in trajs])
    counts = np.stack([t.spikes.sum(axis=0) for t in trajs])
    loss = 0.0
    dl_dr = np.zeros_like(readout)
    for b, s in enumerate(batch_idx):
        z = readout[b] - readout[b].max()
        p = np.exp(z) / np.exp(z).sum()
        loss -= math.log(p[labels[s]]) / n_batch
        dl_dr[b] = p
        dl_dr[b, labels[s]] -= 1.0
    dl_dr /= n_batch
    reg_k = np.zeros(config.n_hidden)
    for i in range(config.n_hidden):
        total = counts[:, i].sum()
        lam = reg_upper if total > reg_nu * n_batch else reg_lower
        reg_k[i] = lam * (total - reg_nu * n_batch) / n_batch ** 2
    extra = {} if delays is None else {"delays": delays}
    backward = backward_mlgenn if adjoint == "mlgenn" else backward_discrete
    shapes = [weights.w_in, weights.w_rec, weights.w_out]
    if delays is not None:
        shapes += [weights.w_in, weights.w_rec]
    grads = [np.zeros(np.shape(w), np.float64) for w in shapes]
    for b, traj in enumerate(trajs):
        parts = backward(config, weights, traj, dl_dr[b], reg_k, **extra)
        for g, part in zip(grads, parts, strict=True):
            g += part
    return loss, readout, counts, tuple(grads)
