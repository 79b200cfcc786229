"""numba-cuda kernel: the whole T-step float forward pass of a batch in ONE launch.

Persistent kernel, one block per sample. Thread t owns hidden neurons j = t + r * blockDim
(r < PER) and output neurons k = t + r * blockDim (r < OUT_PER), keeping their x and V in
registers, so a step needs only one __syncthreads():

  1. each thread updates its neurons (engine order: V = alpha V + k_in x, x = beta x, spike
     if V >= v_th then V = 0) and sets the spiking neurons' bits in a shared bitmask with
     atomic OR; output neurons update V and the readout R += exp(-n dt / T) V / n_steps;
  2. __syncthreads();
  3. each thread walks the bitmask in ascending neuron order (ffs) adding w_rec[i, j] and
     w_out[i, k] for its own targets, then the sample's input events of this step
     (w_in[c, j]), which is exactly engine.infer's order of additions.

Three bitmask buffers rotate: the one cleared at step n was last read at step n - 2 (before
the barrier of step n - 1) and is next written at step n + 1 (after the barrier of step n),
so one barrier per step is enough. Weight rows are read coalesced ((pre, post) layout).
Kernels are built per (dtype, PER, OUT_PER, words) since local/shared sizes are constants.
Runs under NUMBA_ENABLE_CUDASIM=1 (numba-cuda's simulator), which is how it is tested here.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

try:  # numba-cuda (optional extra `gpu`); the simulator swaps this module-level name
    from numba import cuda
except ImportError:  # pragma: no cover - depends on the environment
    cuda = None

WARP = 32
MAX_THREADS = 256  # per block; more threads per block risk running out of registers


def launch_shape(n_hidden: int, n_out: int, max_threads: int = MAX_THREADS) -> tuple[int, int, int]:
    """(threads per block, hidden neurons per thread, output neurons per thread)."""
    if max_threads < WARP or max_threads % WARP:
        raise ValueError(f"max_threads must be a positive multiple of {WARP}, got {max_threads}")
    widest = max(n_hidden, n_out, 1)
    threads = min(max_threads, WARP * math.ceil(widest / WARP))
    return threads, math.ceil(n_hidden / threads), max(1, math.ceil(n_out / threads))


@cache
def build_forward_kernel(dtype_name: str, per: int, out_per: int, words: int) -> Any:
    """Compile-on-first-launch kernel for weights of `dtype_name` and the given ownership sizes."""
    if cuda is None:
        raise ImportError("numba-cuda is not installed")
    return cuda.jit(forward_function(dtype_name, per, out_per, words))


def forward_signature(dtype_name: str) -> tuple[Any, ...]:
    """Argument types of the kernel (for ahead-of-time PTX compilation checks)."""
    from numba import types
    f = getattr(types, dtype_name)
    i32, i64 = types.int32[::1], types.int64[::1]
    return (f[:, ::1], f[:, ::1], f[:, ::1], i32, i32, i64, i64, types.int64, f, f, f, f,
            types.float64, types.float64[:, ::1], types.int32[:, ::1])


def compile_forward_ptx(dtype_name: str, per: int, out_per: int, words: int,
                        cc: tuple[int, int] = (8, 0)) -> str:
    """PTX of the kernel for compute capability `cc`; needs NVVM only, no GPU or driver."""
    if cuda is None:
        raise ImportError("numba-cuda is not installed")
    ptx, _ = cuda.compile_ptx(forward_function(dtype_name, per, out_per, words),
                              forward_signature(dtype_name), cc=cc)
    return ptx


def forward_function(dtype_name: str, per: int, out_per: int, words: int) -> Any:
    """The kernel's Python function with its sizes and dtype bound (see module docstring)."""
    dtype = np.dtype(dtype_name).type
    n_buf = 3

    def forward(w_in, w_rec, w_out, ev_steps, ev_ch, offsets, samples, n_steps, alpha, beta,
                k_in, v_th, dt_over_t, readout, counts):  # pragma: no cover - device code
        b = cuda.blockIdx.x
        t = cuda.threadIdx.x
        nthr = cuda.blockDim.x
        n_hid = w_rec.shape[0]
        n_out = w_out.shape[1]
        s = samples[b]
        mask = cuda.shared.array((n_buf, words), np.uint32)
        x = cuda.local.array(per, dtype)
        v = cuda.local.array(per, dtype)
        cnt = cuda.local.array(per, np.int32)
        xo = cuda.local.array(out_per, dtype)
        vo = cuda.local.array(out_per, dtype)
        rd = cuda.local.array(out_per, np.float64)
        for r in range(per):
            x[r] = 0
            v[r] = 0
            cnt[r] = 0
        for r in range(out_per):
            xo[r] = 0
            vo[r] = 0
            rd[r] = 0.0
        for w in range(t, n_buf * words, nthr):
            mask[w // words, w % words] = 0
        cuda.syncthreads()
        e = offsets[s]
        e1 = offsets[s + 1]
        inv_steps = 1.0 / n_steps
        for n in range(n_steps):
            cur = n % n_buf
            nxt = (n + 1) % n_buf
            for w in range(t, words, nthr):
                mask[nxt, w] = 0
            for r in range(per):
                j = t + r * nthr
                if j < n_hid:
                    xj = x[r]
                    vv = alpha * v[r] + k_in * xj
                    x[r] = beta * xj
                    if vv >= v_th:
                        v[r] = 0
                        cnt[r] += 1
                        cuda.atomic.or_(mask, (cur, j // WARP),
                                        np.uint32(1) << np.uint32(j % WARP))
                    else:
                        v[r] = vv
            if t < n_out:
                wt = math.exp(-n * dt_over_t) * inv_steps
                for r in range(out_per):
                    k = t + r * nthr
                    if k < n_out:
                        xk = xo[r]
                        vv = alpha * vo[r] + k_in * xk
                        xo[r] = beta * xk
                        vo[r] = vv
                        rd[r] += wt * vv
            cuda.syncthreads()
            for w in range(words):
                m = mask[cur, w]
                while m != 0:
                    i = w * WARP + cuda.ffs(m) - 1
                    m &= m - np.uint32(1)
                    for r in range(per):
                        j = t + r * nthr
                        if j < n_hid:
                            x[r] += w_rec[i, j]
                    for r in range(out_per):
                        k = t + r * nthr
                        if k < n_out:
                            xo[r] += w_out[i, k]
            while e < e1 and ev_steps[e] <= n:
                c = ev_ch[e]
                for r in range(per):
                    j = t + r * nthr
                    if j < n_hid:
                        x[r] += w_in[c, j]
                e += 1
        for r in range(per):
            j = t + r * nthr
            if j < n_hid:
                counts[b, j] = cnt[r]
        for r in range(out_per):
            k = t + r * nthr
            if k < n_out:
                readout[b, k] = rd[r]

    return forward
