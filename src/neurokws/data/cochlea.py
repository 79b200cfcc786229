"""The Heidelberg cochlea model: audio in, spikes out, in the layout of SHD/SSC.

SHD and SSC were made from recordings by this chain (Cramer et al. 2020, IEEE TNNLS,
10.1109/TNNLS.2020.3044364, Sec. III-A; its reference implementation is the PyPI package
`lauscher`, whose defaults are the defaults here). It is written here from the published
equations (docs/cochlea.md) and checked against `lauscher` 1.0.1 (tests/test_data_cochlea.py):

1. Level: ``x <- x * level / rms(x)`` with level 0.3.
2. Window: the first and the last ``n // 2`` samples are multiplied by the rising and the
   falling half of a Hann window of length ``2 (n // 2)``.
3. Basilar membrane (Sieroka, Dosch & Rupp 2006, J. Acoust. Soc. Am. 120(1) 297): the
   hydrodynamic shallow-water cochlea in the frequency domain. For channel place
   ``c_k = 3.5 k / (K - 1)`` and angular frequency ``w`` the membrane velocity is
   ``V(w, c) = 2 w / xi(w, c) * P(w, c) / P(w, 0) * Z(w) * X(w)`` with the stiffness
   ``s(c) = c0 e^{-alpha c} - a``, damping ``r(c) = de sqrt(c0 m) e^{-alpha c / 2}``,
   ``xi = s - m w^2 - i w r``, ``g(w, c) = w sqrt(rho / (h xi))``, the WKB pressure
   ``P = sqrt(G / g) H0^(1)(G)`` with the phase integral G (its closed form is in
   docs/cochlea.md) and the stapes impedance ``Z(w)`` (Bessel functions J0, Y0, J1, Y1).
   As in the data sets, the spectrum is taken at ``n // 2 + 1`` frequencies
   ``w = 2 pi linspace(1, fs // 2, n // 2 + 1)`` and returned to time at half the sample
   rate: ``v_c = Re(IFFT(V(., c)))``, i.e. ``n // 2 + 1`` samples at ``fs // 2``.
4. Inner hair cell (Meddis 1986, J. Acoust. Soc. Am. 79(3) 702; Meddis 1988, 83(3) 1056):
   free transmitter q, cleft c and reprocessing store w, per sample of ``dt = 1 / fs'``:
   ``k = g dt (v + A) / (v + A + B)`` (0 when ``v + A <= 0``),
   ``q' = max(q + [q < M] y dt (M - q) - k q + x dt w, 0)``,
   ``c' = max(c + k q - (l + r) dt c, 0)``, ``w' = max(w + r dt c - x dt w, 0)``,
   and the release probability per sample ``p = h dt c'``. The state starts at rest
   (``v = 0``).
5. Bushy cells: each channel has 40 auditory-nerve fibres, each firing in a sample with
   probability p and then silent for the refractory period (a spike closer than
   ``tau_refrac fs'`` samples to the fibre's previous spike is dropped). The fibres drive one
   current-based LIF neuron per channel (tau_mem 1 ms, tau_syn 0.5 ms, weight 13e3 / 40 per
   fibre spike, threshold 1, reset to 0, refractory 1 ms) in the discrete scheme of the
   reference implementation (docs/cochlea.md); its spikes, at ``sample / fs'`` seconds, are
   the data set's events.

What differs from `lauscher`, and why (the numbers match; only cost and seeding change):
- The transfer ``V / X`` of all channels is computed once per (clip length, sample rate,
  constants) with numpy across channels and frequencies and kept (`transfer`), instead of
  once per clip and channel. The inverse FFT of a complex spectrum's real part is done as
  a real inverse FFT of its Hermitian part (same numbers to rounding; half the work).
- Steps 4-5 are compiled (numba) and run 64 channels in lockstep, fused per sample (hair
  cell -> fibres -> LIF), vectorised across channels; they stop at the clip's end.
- Fibre spikes are not drawn as a dense Bernoulli array of channels x samples x 40. A free
  fibre survives samples s..j with probability ``S = prod (1 - p_i)``, so it fires first
  when S falls below a uniform variate, i.e. when the cumulative hazard ``-log S`` reaches
  ``E ~ Exp(1)``. The fibres are exchangeable, so only how many are free (A) matters, and by
  memorylessness the first of A free fibres fires when S falls to ``exp(-E / A)``; S and the
  threshold restart at every event (a spike; fibres coming back join by the larger
  threshold). A fibre that fires at j is
  free again at ``j + ceil(tau_refrac fs')``, the reference's refractory rule exactly (the
  draws it drops never influence later ones). Exact in distribution, about two draws per
  fibre spike, O(1) state per channel (docs/cochlea.md).
- Randomness comes from a numpy Generator the caller seeds (from the utterance and the run
  seed), not from numpy's global state.
- Optionally (`pad_s`) the windowed clip is zero-padded to a multiple of a fixed
  duration, so that a whole corpus needs few transfers; events after the clip's end (the
  padding's spontaneous activity) are dropped.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.fft
from scipy import special

__all__ = [
    "BasilarMembrane",
    "BushyCell",
    "Cochlea",
    "HairCell",
    "basilar_membrane",
    "bushy_cells",
    "fibre_counts",
    "hair_cell",
    "hann_ramp",
    "rms_normalize",
    "transfer",
]


@dataclass(frozen=True)
class BasilarMembrane:
    """Constants of the hydrodynamic basilar membrane (Sieroka et al. 2006, as in lauscher).

    a: stiffness offset; alpha: stiffness decay along the membrane; rho: fluid density;
    c_max: membrane length (places c in [0, c_max], base to apex); c0: base stiffness;
    de: damping; h: channel height; m: membrane mass per area.
    """

    channels: int = 700
    a: float = 3500.0
    alpha: float = 3.0
    rho: float = 1.0
    c_max: float = 3.5
    c0: float = 10e8
    de: float = 0.15
    h: float = 0.1
    m: float = 0.05


@dataclass(frozen=True)
class HairCell:
    """Meddis (1986/88) inner hair cell constants (rates in 1/s), as in lauscher."""

    y: float = 5.05
    g: float = 2000.0
    l: float = 2500.0
    r: float = 6580.0
    x: float = 66.3
    a: float = 5.0
    b: float = 300.0
    h: float = 50000.0
    m: float = 1.0


@dataclass(frozen=True)
class BushyCell:
    """Bushy-cell stage: converging fibres and the LIF they drive (seconds), as in lauscher."""

    n_fibres: int = 40
    tau_mem: float = 1e-3
    tau_syn: float = 5e-4
    tau_refrac: float = 1e-3
    weight: float = 13e3


# ---------------------------------------------------------------------------- pure ops


def rms_normalize(x: np.ndarray, level: float) -> np.ndarray:
    """Scale x to RMS `level` (step 1). Raises ValueError for silence."""
    x = np.asarray(x, dtype=np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    if not rms > 0.0:
        raise ValueError("the audio is silent (RMS 0): there is nothing to normalise")
    return x * (level / rms)


def hann_ramp(x: np.ndarray) -> np.ndarray:
    """Hann ramps over the first and last n // 2 samples (step 2)."""
    x = np.array(x, dtype=np.float64)
    half = x.size // 2
    if half:
        ramp = np.hanning(2 * half)[:half]
        x[:half] *= ramp
        x[-half:] *= ramp[::-1]
    return x


def _frequencies(n_samples: int, sample_rate: int) -> np.ndarray:
    """Angular frequencies of the spectrum the data sets' chain uses (see step 3)."""
    return 2.0 * np.pi * np.linspace(1, sample_rate // 2, n_samples // 2 + 1)


BLOCK_CHANNELS = 64   # channels computed together (bounds the temporaries; same numbers)


def _transfer(n_samples: int, sample_rate: int, bm: BasilarMembrane) -> np.ndarray:
    """V / X for every channel (rows) and frequency (columns), BLOCK_CHANNELS at a time."""
    places = np.linspace(0.0, bm.c_max, bm.channels)
    out = np.empty((bm.channels, n_samples // 2 + 1), np.complex128)
    for lo in range(0, bm.channels, BLOCK_CHANNELS):
        out[lo:lo + BLOCK_CHANNELS] = _transfer_rows(n_samples, sample_rate, bm,
                                                     places[lo:lo + BLOCK_CHANNELS])
    return out


def _transfer_rows(n_samples: int, sample_rate: int, bm: BasilarMembrane,
                   places: np.ndarray) -> np.ndarray:
    """V / X at the given places (rows) and every frequency (columns); docs/cochlea.md."""
    w = _frequencies(n_samples, sample_rate)[None, :]
    c = places[:, None]
    a, alpha, m, h, c0 = bm.a, bm.alpha, bm.m, bm.h, bm.c0
    r0 = bm.de * np.sqrt(c0 * m)

    def xi(cc):
        return c0 * np.exp(-alpha * cc) - a - m * w**2 - 1j * w * (r0 * np.exp(-alpha * cc / 2))

    def g(cc):
        return w * np.sqrt(bm.rho / (h * xi(cc)))

    # The phase integral G(w, c) (closed form of int_0^c g dc', Sieroka et al. 2006, App.).
    root = np.sqrt(a + m * w**2)
    start = (-alpha * np.sqrt(-a + c0 - w * (m * w + 1j * r0))
             + 1j * alpha * (2 * a + w * (2 * m * w + 1j * r0)) / (2 * root))

    def phase(cc):
        decay = np.exp(-alpha * cc / 2)
        end = (0.5 * alpha * np.exp(alpha * cc / 2)
               * (-2 * np.sqrt(-a + c0 * np.exp(-alpha * cc) - m * w**2 - 1j * decay * w * r0)
                  + 1j * (2 * a + w * (2 * m * w + 1j * decay * r0)) / root))
        return (2 * g(0.0) / alpha
                - 2j * np.sqrt(2.0) * w * np.log(start / end)
                / (alpha * np.sqrt(2 * h * (m * w**2 + a))))

    def pressure(cc):
        big_g = phase(cc)
        return np.sqrt(big_g / g(cc)) * special.hankel1(0, big_g)

    u = 4 * np.pi * (w / (2 * np.pi)) / alpha * np.sqrt(2 / (h * c0))
    z = (np.sqrt(2 * c0 / h) * (1j * special.j0(u) + special.y0(u))
         / (special.j1(u) - 1j * special.y1(u)))
    return 2 * w / xi(c) * pressure(c) * z / pressure(0.0)


_TRANSFERS: dict[tuple, np.ndarray] = {}
_TRANSFER_LOCK = threading.Lock()
_TRANSFER_CACHE = 4  # clip lengths kept per process (a 1 s clip at 700 channels: 120 MB each)


def transfer(n_samples: int, sample_rate: int, bm: BasilarMembrane) -> np.ndarray:
    """The basilar membrane's transfer for clips of n_samples at sample_rate (cached)."""
    key = (int(n_samples), int(sample_rate), bm)
    with _TRANSFER_LOCK:
        hit = _TRANSFERS.get(key)
    if hit is not None:
        return hit
    with np.errstate(all="ignore"):  # overflow/underflow far apical of resonance -> 0
        value = _transfer(int(n_samples), int(sample_rate), bm)
    np.nan_to_num(value, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    value.setflags(write=False)
    with _TRANSFER_LOCK:
        while len(_TRANSFERS) >= _TRANSFER_CACHE:
            _TRANSFERS.pop(next(iter(_TRANSFERS)))
        _TRANSFERS[key] = value
    return value


def basilar_membrane(x: np.ndarray, sample_rate: int, bm: BasilarMembrane) -> np.ndarray:
    """Membrane velocity (channels, n // 2 + 1) at sample_rate // 2 (step 3)."""
    x = np.asarray(x, dtype=np.float64)
    spectrum = scipy.fft.rfft(x)                       # = FFT(x)[: n // 2 + 1]
    half = _hermitian(transfer(x.size, sample_rate, bm), spectrum)
    return scipy.fft.irfft(half, n=spectrum.size, axis=1)


@numba.njit(cache=True, nogil=True)
def _hermitian(transfer, spectrum):  # pragma: no cover - compiled
    """Non-negative half of the Hermitian part of y = transfer * spectrum (per row):
    Re(IFFT_M(y)) = IRFFT_M((y_k + conj(y_{M-k})) / 2), in one pass without temporaries."""
    n_ch, m = transfer.shape
    half = m // 2 + 1
    out = np.empty((n_ch, half), np.complex128)
    for ch in range(n_ch):
        out[ch, 0] = (transfer[ch, 0] * spectrum[0]).real
        for k in range(1, half):
            out[ch, k] = 0.5 * (transfer[ch, k] * spectrum[k]
                                + np.conj(transfer[ch, m - k] * spectrum[m - k]))
    return out


def _meddis_constants(hc: HairCell, fs: float) -> tuple[float, ...]:
    """Per-sample coefficients of the hair cell at rate fs, and its resting state."""
    k0 = hc.g * hc.a / (hc.a + hc.b)
    c_rest = hc.m * hc.y * k0 / (hc.l * k0 + hc.y * (hc.l + hc.r))
    return (hc.y * hc.m / fs, hc.x / fs, hc.y / fs, hc.r / fs, hc.g / fs, hc.h / fs,
            (hc.l + hc.r) / fs, hc.a, hc.b, hc.m,
            c_rest * (hc.l + hc.r) / k0, c_rest, c_rest * hc.r / hc.x)


# Steps 4-5 run on blocks of BLOCK_CHANNELS channels in lockstep: arrays are (samples, lanes),
# one lane per channel, and every per-sample update is a loop over the lanes that the
# compiler vectorises (no Python-style division checks: error_model="numpy"). Each model
# update exists once, as an inline lane function used by every kernel below.
_JIT = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(inline="always", **_JIT)
def _meddis_lanes(v_row, q, c, w, out_row, k):  # pragma: no cover - compiled
    """One sample of step 4 for every lane: (q, c, w) in place, release probability out
    (old state on the right-hand sides; k = _meddis_constants)."""
    ymdt, xdt, ydt, rdt, gdt, hdt, lrdt, a, b, m = k[0], k[1], k[2], k[3], k[4], k[5], \
        k[6], k[7], k[8], k[9]
    for i in range(v_row.size):
        va = v_row[i] + a
        kt = gdt * va / (va + b)
        kt = kt if va > 0.0 else 0.0
        qq, cc, ww = q[i], c[i], w[i]
        replenish = ymdt - ydt * qq
        replenish = replenish if qq < m else 0.0
        eject = kt * qq
        reprocess = xdt * ww
        q_new = qq + replenish - eject + reprocess
        c_new = cc + eject - lrdt * cc
        w_new = ww + rdt * cc - reprocess
        q[i] = q_new if q_new > 0.0 else 0.0
        cc = c_new if c_new > 0.0 else 0.0
        c[i] = cc
        w[i] = w_new if w_new > 0.0 else 0.0
        out_row[i] = cc * hdt


@numba.njit(**_JIT)
def _meddis_block(velocity, n_run, k, out):  # pragma: no cover - compiled
    """Step 4 on a (samples, lanes) block, the state starting at rest."""
    lanes = velocity.shape[1]
    q, c, w = np.full(lanes, k[10]), np.full(lanes, k[11]), np.full(lanes, k[12])
    for j in range(n_run):
        _meddis_lanes(velocity[j], q, c, w, out[j], k)


@numba.njit(**_JIT)
def _pool_start(lanes, n_fibres, gap, inv, rng):  # pragma: no cover - compiled
    """Fibre pools at rest: all fibres free, survival 1, each lane's first threshold."""
    ring = np.zeros((gap, lanes))
    free = np.full(lanes, n_fibres, np.int64)
    survival = np.ones(lanes)
    threshold = np.empty(lanes)
    for i in range(lanes):
        threshold[i] = math.exp(-rng.standard_exponential() * inv[n_fibres])
    return ring, free, survival, threshold


@numba.njit(inline="always", **_JIT)
def _pool_lanes(p_row, back, free, survival, threshold, fired, pending, inv, rng):
    # pragma: no cover - compiled
    """One sample of step 5's fibres for every lane; `back` is the ring slot of fibres that
    come back in this sample and receives the ones that fire (they return gap samples
    later). `fired` gets each lane's count.

    The fibres of a lane are exchangeable, so only how many are free (A) matters. Survival
    ``S = prod (1 - p_i)`` runs from the last event; by memorylessness the first of the A
    free fibres fires when S falls to ``exp(-E / A)``, E ~ Exp(1), i.e. the hazard
    ``-log S`` reaches E / A (docs/cochlea.md). After a spike the survival restarts from the
    threshold (S / threshold) and a new threshold is drawn for A - 1; when fibres come back,
    S restarts at 1 and the threshold becomes the larger of the free fibres' (rescaled by
    1 / S) and the returning fibres' own. With no free fibre the threshold is -1.
    Only lanes with an event leave the vectorised passes: first those whose fibres come
    back, then those where a fibre fires."""
    lanes = p_row.size
    n_back = 0
    for i in range(lanes):                 # lanes whose fibres come back (index list)
        pending[n_back] = i
        n_back += back[i] > 0.0
    for e in range(n_back):
        # The free fibres' threshold, given that they have not fired by survival S, is S
        # times that of a fresh pool (max of A uniforms): it restarts as threshold / S with
        # S = 1 (-1 stays negative: no free fibre). The pool's threshold is the larger of
        # theirs and the B returning fibres' own (U for one, exp(-E / B) for several).
        i = pending[e]
        b = int(back[i])
        free[i] += b
        own = rng.random() if b == 1 else math.exp(-rng.standard_exponential() * inv[b])
        threshold[i] = max(threshold[i] / survival[i], own)
        survival[i] = 1.0
        back[i] = 0.0
    for i in range(lanes):                 # this sample's survival (vectorised)
        keep = 1.0 - p_row[i]
        survival[i] *= keep if keep > 0.0 else 0.0
    n_fire = 0
    for i in range(lanes):                 # lanes where a fibre fires (index list)
        pending[n_fire] = i
        n_fire += survival[i] <= threshold[i]
    for e in range(n_fire):
        i = pending[e]
        a, t, s = free[i], threshold[i], survival[i]
        count = 0
        while True:
            count += 1
            a -= 1
            s /= t
            t = math.exp(-rng.standard_exponential() * inv[a]) if a > 0 else -1.0
            if s > t:
                break
        free[i], threshold[i], survival[i] = a, t, s
        back[i] = count
        fired[i] = count


@numba.njit(inline="always", **_JIT)
def _lif_lanes(count, v, current, refrac, spiked, d_mem, d_syn, gain, n_refrac):
    # pragma: no cover - compiled
    """One sample of the bushy cells in the reference's discrete scheme (docs/cochlea.md);
    `spiked` marks the lanes whose cell spiked in the previous sample; gain = weight dt."""
    for i in range(count.size):
        vp, rf = v[i], refrac[i]
        ready = rf <= 0.0
        fire = ready & (vp >= 1.0)
        vv = vp * d_mem if ready & (vp < 1.0) else 0.0
        rf = n_refrac if fire else rf
        cur = current[i] * d_syn
        cur += count[i]
        vv = vv + cur * gain if rf <= 0.0 else vv
        v[i] = vv if vv < 1.0 else 1.0
        refrac[i] = rf - 1.0
        current[i] = cur
        spiked[i] = fire


@numba.njit(**_JIT)
def _fibre_block(prob, n_fibres, gap, inv, rng, counts):  # pragma: no cover - compiled
    ring, free, survival, threshold = _pool_start(prob.shape[1], n_fibres, gap, inv, rng)
    pending = np.empty(prob.shape[1], np.int64)
    fired = np.zeros(prob.shape[1])
    slot = 0
    for j in range(prob.shape[0]):
        fired[:] = 0.0
        _pool_lanes(prob[j], ring[slot], free, survival, threshold, fired, pending, inv, rng)
        counts[j] = fired
        slot = slot + 1 if slot + 1 < gap else 0   # j % gap


@numba.njit(**_JIT)
def _lif_block(counts, d_mem, d_syn, gain, n_refrac, spiked):  # pragma: no cover - compiled
    lanes = counts.shape[1]
    v, current, refrac = np.zeros(lanes), np.zeros(lanes), np.zeros(lanes)
    for j in range(counts.shape[0]):
        _lif_lanes(counts[j], v, current, refrac, spiked[j], d_mem, d_syn, gain, n_refrac)


TILE = 16   # samples moved from channel-major rows into lanes at a time (a cache line or two)


@numba.njit(**_JIT)
def _bushy_block(signal, lo, is_prob, n_run, n_keep, k, n_fibres, gap, inv, rng, d_mem,
                 d_syn, gain, n_refrac):  # pragma: no cover - compiled
    """Steps 4-5 (or 5 alone if is_prob) for channels lo.. lo + BLOCK_CHANNELS of a
    (channels, samples) array, fused per sample: hair cell -> fibres -> LIF, in lanes.
    Returns the spike samples (< n_keep) and channels, by time, then channel."""
    lanes = min(BLOCK_CHANNELS, signal.shape[0] - lo)
    tile = np.empty((TILE, lanes))
    q, c, w = np.full(lanes, k[10]), np.full(lanes, k[11]), np.full(lanes, k[12])
    prob = np.empty(lanes)
    ring, free, survival, threshold = _pool_start(lanes, n_fibres, gap, inv, rng)
    pending = np.empty(lanes, np.int64)
    fired = np.zeros(lanes)
    v, current, refrac = np.zeros(lanes), np.zeros(lanes), np.zeros(lanes)
    spiked = np.zeros(lanes, np.bool_)
    out_step = np.empty(1024, np.int64)
    out_ch = np.empty(1024, np.int64)
    total = 0
    slot = 0
    for j0 in range(0, n_run, TILE):
        width = min(TILE, n_run - j0)
        for i in range(lanes):          # a small transpose: rows -> lanes
            row = signal[lo + i]
            for t in range(width):
                tile[t, i] = row[j0 + t]
        for t in range(width):
            j = j0 + t
            if is_prob:
                prob[:] = tile[t]
            else:
                _meddis_lanes(tile[t], q, c, w, prob, k)
            fired[:] = 0.0
            _pool_lanes(prob, ring[slot], free, survival, threshold, fired, pending, inv, rng)
            slot = slot + 1 if slot + 1 < gap else 0   # j % gap
            _lif_lanes(fired, v, current, refrac, spiked, d_mem, d_syn, gain, n_refrac)
            n_spikes = 0
            for i in range(lanes):
                n_spikes += spiked[i]
            if n_spikes > 0 and j - 1 < n_keep:          # flagged at j: spiked at j - 1
                if total + n_spikes > out_step.size:
                    grow = max(out_step.size, n_spikes)
                    out_step = np.concatenate((out_step, np.empty(grow, np.int64)))
                    out_ch = np.concatenate((out_ch, np.empty(grow, np.int64)))
                for i in range(lanes):
                    if spiked[i]:
                        out_step[total] = j - 1
                        out_ch[total] = lo + i
                        total += 1
    return out_step[:total], out_ch[:total]


def _blocks(array: np.ndarray):
    """(channels, samples) -> (first channel, contiguous (samples, lanes) block) pairs."""
    for lo in range(0, array.shape[0], BLOCK_CHANNELS):
        yield lo, np.ascontiguousarray(array[lo:lo + BLOCK_CHANNELS].T, dtype=np.float64)


def hair_cell(velocity: np.ndarray, sample_rate: int, hc: HairCell) -> np.ndarray:
    """Release probability per sample (channels, samples) from membrane velocity (step 4)."""
    velocity = np.asarray(velocity, dtype=np.float64)
    k = np.array(_meddis_constants(hc, float(sample_rate)))
    out = np.empty(velocity.shape)
    for lo, block in _blocks(velocity):
        prob = np.empty(block.shape)
        _meddis_block(block, block.shape[0], k, prob)
        out[lo:lo + block.shape[1]] = prob.T
    return out


def _gap(bc: BushyCell, sample_rate: int) -> int:
    """Samples from a fibre spike to the earliest next one (the reference's refractory rule:
    a spike is dropped while ``j - last < tau_refrac fs``)."""
    return max(1, math.ceil(bc.tau_refrac * sample_rate - 1e-12))


def _inverse(n_fibres: int) -> np.ndarray:
    """1 / A for A = 0..n_fibres (0 at A = 0, never used there)."""
    inv = np.zeros(n_fibres + 1)
    inv[1:] = 1.0 / np.arange(1, n_fibres + 1)
    return inv


def _lif_constants(bc: BushyCell, sample_rate: int) -> tuple[float, float, float, float]:
    dt = 1.0 / sample_rate
    return (math.exp(-dt / bc.tau_mem), math.exp(-dt / bc.tau_syn),
            bc.weight / bc.n_fibres * dt, bc.tau_refrac * sample_rate)


def fibre_counts(prob: np.ndarray, sample_rate: int, bc: BushyCell,
                 rng: np.random.Generator) -> np.ndarray:
    """Fibre spikes per (channel, sample) for release probabilities (the LIF's input)."""
    prob = np.asarray(prob, dtype=np.float64)
    out = np.empty(prob.shape, np.int32)
    gap, inv = _gap(bc, sample_rate), _inverse(bc.n_fibres)
    for lo, block in _blocks(prob):
        counts = np.empty(block.shape)
        _fibre_block(block, bc.n_fibres, gap, inv, rng, counts)
        out[lo:lo + block.shape[1]] = counts.T
    return out


def lif_spikes(counts: np.ndarray, sample_rate: int, bc: BushyCell) -> list[np.ndarray]:
    """Spike samples of each channel's bushy cell for given fibre counts."""
    counts = np.asarray(counts, dtype=np.float64)
    rows = []
    for _, block in _blocks(counts):
        spiked = np.zeros(block.shape, np.bool_)
        _lif_block(block, *_lif_constants(bc, sample_rate), spiked)
        rows += [np.flatnonzero(col[1:]) for col in spiked.T]   # flag at j: spike at j - 1
    return rows


def _spikes(signal: np.ndarray, is_prob: bool, sample_rate: int, hc: HairCell, bc: BushyCell,
            rng: np.random.Generator, n_keep: int | None, lo: int = 0,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Spike samples (< n_keep) and channels (+ lo) of steps 4-5 (or 5), block by block."""
    signal = np.ascontiguousarray(signal, dtype=np.float64)
    n_keep = signal.shape[1] if n_keep is None else int(n_keep)
    n_run = min(signal.shape[1], n_keep + 1)   # a spike at j - 1 shows at sample j
    k = np.array(_meddis_constants(hc, float(sample_rate)))
    gap, inv = _gap(bc, sample_rate), _inverse(bc.n_fibres)
    steps, chans = [], []
    for first in range(0, signal.shape[0], BLOCK_CHANNELS):
        s, c = _bushy_block(signal, first, is_prob, n_run, n_keep, k, bc.n_fibres, gap, inv,
                            rng, *_lif_constants(bc, sample_rate))
        steps.append(s)
        chans.append(c + lo)
    return np.concatenate(steps), np.concatenate(chans)


def bushy_cells(prob: np.ndarray, sample_rate: int, bc: BushyCell, rng: np.random.Generator,
                n_keep: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spike samples and channels (by time, then channel) of the bushy cells driven by
    release probabilities (step 5); spikes at samples >= n_keep are dropped."""
    return _spikes(prob, True, sample_rate, HairCell(), bc, rng, n_keep)


# ---------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class Cochlea:
    """Audio -> spikes with the Heidelberg chain (steps 1-5); holds the model's constants.

    `pad_s` > 0 zero-pads each windowed clip to the next multiple of `pad_s` seconds, rounded
    up so that the spectrum's length n // 2 + 1 is a fast FFT length, so that clips of
    similar length share one cached basilar-membrane transfer; spikes after the clip's end
    are dropped (docs/cochlea.md). 0 = no padding: the reference's numbers.
    """

    level: float = 0.3
    pad_s: float = 0.0
    membrane: BasilarMembrane = field(default_factory=BasilarMembrane)
    hair: HairCell = field(default_factory=HairCell)
    bushy: BushyCell = field(default_factory=BushyCell)

    @property
    def channels(self) -> int:
        return self.membrane.channels

    def padded_length(self, n_samples: int, sample_rate: int) -> int:
        """Samples of a clip of n_samples after padding (n_samples when pad_s is 0)."""
        n_samples = int(n_samples)
        if self.pad_s <= 0:
            return n_samples
        quantum = self.pad_s * sample_rate
        n = math.ceil(max(1, math.ceil(n_samples / quantum - 1e-9)) * quantum - 1e-9)
        return 2 * (scipy.fft.next_fast_len(n // 2 + 1, real=True) - 1) + n % 2

    def _prepared(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Steps 1-2 and the padding."""
        x = hann_ramp(rms_normalize(audio, self.level))
        n_pad = self.padded_length(x.size, sample_rate)
        return np.concatenate([x, np.zeros(n_pad - x.size)]) if n_pad > x.size else x

    def velocity(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
        """Steps 1-3: membrane velocity (channels, samples) and its rate (fs // 2)."""
        x = self._prepared(np.asarray(audio, dtype=np.float64), sample_rate)
        return basilar_membrane(x, sample_rate, self.membrane), sample_rate // 2

    def __call__(self, audio: np.ndarray, sample_rate: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (s, float64) and channels (uint16), sorted by time, then channel."""
        audio = np.asarray(audio, dtype=np.float64)
        if audio.ndim != 1:
            raise ValueError(f"the cochlea takes mono audio (1-d), got shape {audio.shape}")
        x = self._prepared(audio, sample_rate)
        spectrum = scipy.fft.rfft(x)
        table = transfer(x.size, sample_rate, self.membrane)
        fs = sample_rate // 2
        # Output samples covering the clip itself (not its padding), n // 2 + 1 without it.
        n_keep = audio.size // 2 + 1
        # Channels in blocks, in order, from one Generator: the same numbers as all at once,
        # with one block's membrane velocity alive at a time.
        steps, chans = [], []
        for lo in range(0, table.shape[0], BLOCK_CHANNELS):
            half = _hermitian(table[lo:lo + BLOCK_CHANNELS], spectrum)
            velocity = scipy.fft.irfft(half, n=spectrum.size, axis=1)
            s, c = _spikes(velocity, False, fs, self.hair, self.bushy, rng, n_keep, lo)
            steps.append(s)
            chans.append(c)
        steps, chans = np.concatenate(steps), np.concatenate(chans)
        order = np.lexsort((chans, steps))
        return steps[order] / fs, chans[order].astype(np.uint16)
