"""Batch-parallel event-driven forward pass and Eventprop gradients (public engine API).

Forward step n (t_n = n dt), per neuron, GeNN order (docs/model.md#discretisation):
    I = c_I x;  x <- beta x;  V <- alpha V + (1 - alpha) I;  hidden: V >= v_th -> spike, V = 0
then every spike emitted at step n (input bin n, hidden spike at n) adds its weight row to its
targets' x, so it moves V from step n + 1 on. Readout R += exp(-t_n / T) V_out / n_steps.
Loss: mean over the batch of softmax cross-entropy on R. The returned gradients are true
gradients of that loss (+ regulariser term): mlGeNN's are these divided by tau_mem.

Backward, in plain derivatives a = dL/dV and b = dL/dx (dL/dw = +sum b; mlGeNN's lambdas are
lambda_V = -a / tau_mem^2, lambda_I = -b / (tau_mem tau_syn)). Backward step n (n = n_steps - 1
.. 0) starts with a = dL/dV[n] (through later steps) and b = dL/dx[n + 1] for all neurons:
  1. each spike emitted at step n (input or hidden neuron i): dW[i, :] += b(targets), and a
     hidden spike's Eventprop jump, with every a, b from the start of the step;
  2. the readout source exp(-t_n / T) dL/dR / n_steps on V_out[n], and one step of decay.
Two schemes differ in how 1 and 2 are discretised (both converge to the continuous Eventprop
gradient as dt -> 0; tests check both against finite differences at dt = 0.0025 ms):
  "mlgenn" (default; docs/eventprop.md#scheme-mlgenn, mlGeNN 2.3): adjoint ODEs integrated
    exactly over the step with the readout source as a constant drive; the jump comes after
    the decay of step n,
      a_i <- a_i + (v_th a_i + sum_j w_ij (a_j - (tau_mem / tau_syn) b_j)) / (x - V_pre)
    with x the synaptic variable before its decay (no c_I), V_pre before reset; x - V_pre >=
    (1/c_I - 1) v_th bounds the jump. Regulariser after the jump: a_i += r_i.
  "discrete": the exact adjoint of the discrete step between spikes (so dL/dw_out is exact at
    any dt) and a jump that is the staircase-averaged spike-step sensitivity of the discrete
    model, applied before the decay (it is dL/dV_pre[n]):
      a_i <- (c_I x a_i + sum_j w_ij (c_I A_j - kappa_d b_j)) / (c_I x - V[n-1]) + r_i,
    kappa_d = (1 - beta) / (1 - alpha), A_j = a_j (+ the readout source for outputs).
Mixing the two (exact discrete decay with mlGeNN's jump) is NOT consistent: in a steady state
the feedback a_j - kappa b_j is then O(dt) instead of 0, which at dt = 1 ms outweighs the
true signal and turns the hidden gradients uphill.
Regulariser: mlGeNN's "lambda_V -= k_i", k_i = (lambda / B^2)(C_i - nu_upper B), C_i the
neuron's spike count summed over the batch, is r_i = tau_mem^2 k_i here, so the CE :
regulariser balance is the paper's. It is the gradient of sum_i r_i sum_{spikes s of i}
V_i(t_s) with r_i and the spike steps held fixed (V before the spike: V_pre[n_s] for
"discrete", V[n_s - 1] for "mlgenn").
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from neurokws.model import delay_kernels, kernels
from neurokws.model.network import Delays, NetworkConfig, Weights

# The batch's gradient is the sum of per-sample gradients in one fixed tree that depends on
# the batch size alone: the sum over a run of n samples is the sum over its first p plus the
# sum over the rest, p the largest power of two below n (a binary counter's order; kernels
# backward_chunk). Any run of samples that is a node of this tree can be one thread's task,
# so a job can use up to batch-size cores, and 1, 2 or 64 threads give the same bits: the
# threads pick how the tree is cut into tasks (`_tasks`), never its shape.
TASKS_PER_THREAD = 2   # tasks a thread gets on average (balance against per-task overhead)
MIN_TAPE = 1024  # spike-tape entries added to the per-chunk estimate
_scratch = threading.local()   # per thread: the backward kernels' stacks, reused
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_tape_per_sample: dict[int, float] = {}


@dataclass(frozen=True, kw_only=True)
class RegConfig:
    """Spike-count regulariser (paper/mlGeNN units: lambdas as in Table I)."""

    nu_upper: float   # the config's training.nu_upper (TrainSettings)
    lambda_upper: float
    lambda_lower: float


@dataclass
class BatchResult:
    """Loss, readout, spike counts and (optionally) gradients of one batch."""

    loss: float                      # mean softmax cross-entropy over the batch
    readout: np.ndarray              # (B, C) float64, the R values
    hidden_spike_counts: np.ndarray  # (B, N) int32
    grads: Weights | None            # dL/dw incl. the regulariser term, weights' dtype
    delay_grads: Delays | None = None  # dL/dd per step (float, weights' dtype), with delays


ADJOINTS = ("mlgenn", "discrete")


def _constants(config: NetworkConfig, dtype: np.dtype, adjoint: str = "mlgenn") -> np.ndarray:
    """Forward and backward constants in the compute dtype (layout: see kernels.py)."""
    if adjoint not in ADJOINTS:
        raise ValueError(f"adjoint must be one of {ADJOINTS}, got {adjoint!r}")
    alpha, beta, c_i = config.alpha, config.beta, config.current_scale
    k_in = (1.0 - alpha) * c_i
    c = np.zeros(kernels.N_CONSTS, dtype=np.float64)
    c[kernels.ALPHA], c[kernels.BETA], c[kernels.K_IN] = alpha, beta, k_in
    c[kernels.V_TH] = config.v_th
    if adjoint == "discrete":
        c[kernels.DEN_X], c[kernels.DEN_VOLD] = c_i, -1.0          # c_I x - V[n-1]
        c[kernels.COEF_X] = c_i                                     # c_I x
        c[kernels.FB_A], c[kernels.FB_B] = c_i, (1.0 - beta) / (1.0 - alpha)
        c[kernels.K_BWD] = k_in
        c[kernels.K_D] = 1.0 - alpha                               # docs: delay_kernels.py
    else:
        c[kernels.DEN_X], c[kernels.DEN_V] = 1.0, -1.0              # x - V_pre
        c[kernels.COEF_DEN], c[kernels.COEF_TH] = 1.0, config.v_th  # (x - V_pre) + v_th
        c[kernels.FB_A], c[kernels.FB_B] = 1.0, config.tau_mem / config.tau_syn
        c[kernels.K_BWD] = (config.tau_syn * (alpha - beta)
                            / (config.tau_mem - config.tau_syn))
        c[kernels.LATE] = 1.0
        c[kernels.DRIVE] = config.tau_mem / config.dt
        c[kernels.INV_KAPPA] = config.tau_syn / config.tau_mem
        c[kernels.K_D] = config.dt / config.tau_mem
    return c.astype(dtype)


def _weights_arrays(config: NetworkConfig, weights: Weights, check_finite: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes (and finiteness), pick the common float dtype, return C-contiguous arrays."""
    if check_finite:
        weights.check(config)
    else:
        expected = ((config.n_in, config.n_hidden), (config.n_hidden, config.n_hidden),
                    (config.n_hidden, config.n_out))
        got = tuple(a.shape for a in (weights.w_in, weights.w_rec, weights.w_out))
        if got != expected:
            raise ValueError(f"weight shapes {got} do not match {config} (expected {expected})")
    dtype = np.result_type(weights.w_in, weights.w_rec, weights.w_out)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, got {dtype}")
    return tuple(np.ascontiguousarray(a, dtype=dtype)  # type: ignore[return-value]
                 for a in (weights.w_in, weights.w_rec, weights.w_out))


def _delay_arrays(config: NetworkConfig, delays: Delays | None) -> tuple:
    """() without delays, else the delay kernels' (off_in, off_rec, L = max delay + 1,
    in_ring): in_ring is False where the model has delays but its input connection has none
    (max_delay_in 0, max_delay_rec > 0): input rows are then added at once, as without
    delays, and dL/dd_in is 0. Delays given for a model without maxima (tests) use rings."""
    if delays is None:
        if config.has_delays:
            raise ValueError(f"the model has synaptic delays (max {config.delay_maxima}) but "
                             "none were given: pass delays= (load_network reads them)")
        return ()
    delays.check(config, maxima=config.has_delays)
    return (*delay_kernels.ring_offsets(delays.d_in, delays.d_rec), delays.max_delay + 1,
            not (config.has_delays and config.max_delay_in == 0))


def _kernels(delay_args: tuple):
    """(forward_chunk, backward_chunk) of the delay-free or the delayed network."""
    return ((delay_kernels.forward_chunk, delay_kernels.backward_chunk) if delay_args
            else (kernels.forward_chunk, kernels.backward_chunk))


def _events(config: NetworkConfig, steps, channels, offsets,
            batch_idx) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate the flat event arrays for the selected samples (no copy of the events)."""
    steps = np.ascontiguousarray(steps)
    channels = np.ascontiguousarray(channels)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if steps.dtype.kind not in "iu" or channels.dtype.kind not in "iu":
        raise TypeError("steps and channels must be integer arrays")
    if steps.shape != channels.shape or steps.ndim != 1 or offsets.ndim != 1:
        raise ValueError("steps/channels must be equal-length 1-D arrays, offsets 1-D")
    if batch_idx is None:
        batch_idx = np.arange(offsets.shape[0] - 1, dtype=np.int64)
    batch_idx = np.ascontiguousarray(batch_idx, dtype=np.int64)
    bad = kernels.check_events(steps, channels, offsets, batch_idx, config.n_in)
    if bad >= 0:
        raise ValueError(f"sample {int(batch_idx[bad])}: events out of range, offsets invalid "
                         f"or steps not sorted (n_in={config.n_in})")
    return steps, channels, offsets, batch_idx


def _executor(n_threads: int) -> ThreadPoolExecutor:
    """Shared thread pool; kernels release the GIL so threads run on separate cores."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != n_threads:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="neurokws")
            _pool_size = n_threads
        return _pool


def _threads() -> int:
    """Threads the engine works on: numba's setting (NUMBA_NUM_THREADS, set_num_threads)."""
    return numba.get_num_threads()


def _run(fn, jobs: list[tuple]) -> list:
    """Run fn(*job) for every job, in parallel when there are several; results in job order."""
    n_threads = _threads()
    if len(jobs) == 1 or n_threads == 1:
        return [fn(*job) for job in jobs]
    pool = _executor(n_threads)
    return [f.result() for f in [pool.submit(fn, *job) for job in jobs]]


def _chunks(samples: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive groups of `size` samples (the last may be shorter), in batch order."""
    size = max(1, int(size))
    return [samples[i:i + size] for i in range(0, samples.shape[0], size)]


def tree_split(start: int, stop: int) -> int:
    """Where the gradient tree splits the run start..stop - 1 (at least 2 samples): after
    the largest power of two below its length."""
    return start + (1 << ((stop - start - 1).bit_length() - 1))


def _tasks(n_samples: int, n_threads: int) -> list[tuple[int, int]]:
    """Nodes of the gradient tree that cover the batch, in order: the root for one thread;
    else the largest node is split until there are TASKS_PER_THREAD per thread (or leaves)."""
    nodes = [(0, n_samples)]
    want = 1 if n_threads <= 1 else min(n_samples, TASKS_PER_THREAD * n_threads)
    while len(nodes) < want:
        k = max(range(len(nodes)), key=lambda i: (nodes[i][1] - nodes[i][0], -i))
        a, b = nodes[k]
        if b - a < 2:
            break
        m = tree_split(a, b)
        nodes[k:k + 1] = [(a, m), (m, b)]
    return nodes


def _merge_levels(tasks: list[tuple[int, int]]) -> list[list[tuple[tuple, tuple]]]:
    """The merges that join the tasks' sums into the batch's, grouped so that the merges of
    one group are independent: (left node, right node) pairs, by height above the tasks."""
    levels: list[list[tuple[tuple, tuple]]] = []
    have = set(tasks)

    def height(a: int, b: int) -> int:
        if (a, b) in have:
            return 0
        m = tree_split(a, b)
        h = 1 + max(height(a, m), height(m, b))
        while len(levels) < h:
            levels.append([])
        levels[h - 1].append(((a, m), (m, b)))
        return h

    height(tasks[0][0], tasks[-1][1])
    return levels


def _tree_sum(tasks: list[tuple[int, int]], parts: list[tuple[np.ndarray, ...]]
              ) -> tuple[np.ndarray, ...]:
    """Join the tasks' sums along the gradient tree, in place into left operands; the merges
    of a level run on the thread pool, row blocks each (numpy releases the GIL)."""
    sums = dict(zip(tasks, parts, strict=True))
    n_threads = _threads()
    for level in _merge_levels(tasks):
        jobs = []
        for left, right in level:
            for a, b in zip(sums[left], sums[right], strict=True):
                rows = a.shape[0]
                step = -(-rows // max(1, -(-n_threads // len(level))))
                jobs += [(a[r:r + step], b[r:r + step]) for r in range(0, rows, step)]
            sums[(left[0], right[1])] = sums.pop(left)
            del sums[right]
        _run(_add_into, jobs)
    return sums[(tasks[0][0], tasks[-1][1])]


def _stacks(shapes: tuple[tuple[int, ...], ...], dtype: np.dtype, depth: int
            ) -> tuple[np.ndarray, ...]:
    """This thread's stacks of partial sums for the backward kernels (kept between calls:
    fresh pages cost a page fault each), at least `depth` slots of `shapes`."""
    key = (shapes, np.dtype(dtype).str)
    have = getattr(_scratch, "stacks", None)
    if have is None or have[0] != key or have[1][0].shape[0] < depth:
        _scratch.stacks = (key, tuple(np.empty((depth, *shape), dtype) for shape in shapes))
    return _scratch.stacks[1]


def _backward_task(backward_chunk, shapes: tuple, dtype: np.dtype, n_samples: int,
                   args: tuple) -> tuple[np.ndarray, ...]:
    """One task's backward pass: its samples' sum in the gradient tree (fresh arrays)."""
    stacks = _stacks(shapes, dtype, max(1, n_samples).bit_length())
    backward_chunk(*args, *stacks)
    return tuple(stack[0].copy() for stack in stacks)


def _add_into(dst: np.ndarray, src: np.ndarray) -> None:
    """dst += src (element-wise: the same bits in any split)."""
    np.add(dst, src, out=dst)


def _softmax_ce(readout: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample softmax probabilities and cross-entropy of float64 readouts."""
    shifted = readout - readout.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    return np.exp(log_p), -log_p[np.arange(readout.shape[0]), labels]


def regulariser_jump(config: NetworkConfig, reg: RegConfig | None, counts: np.ndarray
                     ) -> np.ndarray:
    """r_i = tau_mem^2 (lambda / B^2)(C_i - nu_upper B): added to dL/dV at each spike of i."""
    n_batch, n_hid = counts.shape
    if reg is None:
        return np.zeros(n_hid, np.float64)
    total = counts.sum(axis=0, dtype=np.int64).astype(np.float64)
    target = reg.nu_upper * n_batch
    lam = np.where(total > target, reg.lambda_upper, reg.lambda_lower)
    return config.tau_mem ** 2 * lam * (total - target) / n_batch ** 2


def loss_and_grad(config: NetworkConfig, weights: Weights, steps: np.ndarray,
                  channels: np.ndarray, offsets: np.ndarray, labels: np.ndarray,
                  batch_idx: np.ndarray, reg: RegConfig | None = None,
                  compute_grad: bool = True, adjoint: str = "mlgenn",
                  delays: Delays | None = None) -> BatchResult:
    """Forward + Eventprop backward for the samples batch_idx; gradient of the mean CE (+reg).
    With `delays` (integer steps), also dL/dd (delay_kernels.py)."""
    w_in, w_rec, w_out = _weights_arrays(config, weights)
    d_args = _delay_arrays(config, delays)
    forward_chunk, backward_chunk = _kernels(d_args)
    steps, channels, offsets, batch_idx = _events(config, steps, channels, offsets, batch_idx)
    labels_b = np.asarray(labels)[batch_idx].astype(np.int64)
    if labels_b.size and (labels_b.min() < 0 or labels_b.max() >= config.n_out):
        raise ValueError(f"labels out of range [0, {config.n_out})")
    n_batch = batch_idx.shape[0]
    if n_batch == 0:
        raise ValueError("empty batch")
    consts = _constants(config, w_rec.dtype, adjoint)
    dt_over_t = config.dt / config.duration_ms
    tasks = _tasks(n_batch, _threads())
    chunks = [batch_idx[a:b] for a, b in tasks]
    per_sample = _tape_per_sample.get(config.n_hidden, 16.0 * config.n_hidden)
    fwd = _run(forward_chunk,
               [(w_in, w_rec, w_out, *d_args, consts, config.n_steps, dt_over_t, steps,
                 channels, offsets, c, compute_grad,
                 int(per_sample * (c.shape[0] + 2) * 1.5) + MIN_TAPE) for c in chunks])
    readout = np.concatenate([f[0] for f in fwd])
    counts = np.concatenate([f[1] for f in fwd])
    probs, ce = _softmax_ce(readout, labels_b)
    result = BatchResult(loss=float(ce.mean()), readout=readout, hidden_spike_counts=counts,
                         grads=None)
    if not compute_grad:
        return result
    _tape_per_sample[config.n_hidden] = max(sum(f[2].shape[0] for f in fwd) / n_batch, 1.0)
    dl_dr = probs
    dl_dr[np.arange(n_batch), labels_b] -= 1.0
    dl_dr = (dl_dr / n_batch).astype(w_rec.dtype)
    reg_jump = regulariser_jump(config, reg, counts).astype(w_rec.dtype)
    if d_args:
        shapes = delay_kernels.stack_shapes(config.n_in, config.n_hidden, config.n_out,
                                            d_args[3])
    else:
        shapes = (w_in.shape, w_rec.shape, w_out.shape)
    parts = _run(_backward_task,
                 [(backward_chunk, shapes, w_rec.dtype, b - a,
                   (w_in, w_rec, w_out, *d_args, consts, config.n_steps, dt_over_t, steps,
                    channels, offsets, c, f[2], f[3], f[4], f[5], f[6], dl_dr[a:b], reg_jump))
                  for (a, b), c, f in zip(tasks, chunks, fwd, strict=True)])
    summed = _tree_sum(tasks, parts)   # fresh arrays
    if d_args:
        summed = delay_kernels.split_delay_grads(*summed, d_args[3])
        result.delay_grads = Delays(*summed[3:])
    result.grads = Weights(*summed[:3])
    return result


def infer(config: NetworkConfig, weights: Weights, steps: np.ndarray, channels: np.ndarray,
          offsets: np.ndarray, batch_idx: np.ndarray | None = None,
          batch_size: int = 256, delays: Delays | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Forward only, no tape: readout R (n, C) float64 and hidden spike counts (n, N) int32."""
    # Samples go through in groups of batch_size, each group split over the threads;
    # batch_size=1 runs them one after another on one thread (latency mode).
    w_in, w_rec, w_out = _weights_arrays(config, weights, check_finite=False)
    steps, channels, offsets, batch_idx = _events(config, steps, channels, offsets, batch_idx)
    d_args = _delay_arrays(config, delays)
    forward_chunk = _kernels(d_args)[0]
    consts = _constants(config, w_rec.dtype)
    dt_over_t = config.dt / config.duration_ms
    n = batch_idx.shape[0]
    readout = np.empty((n, config.n_out), np.float64)
    counts = np.empty((n, config.n_hidden), np.int32)
    n_threads = _threads()
    for start in range(0, n, max(1, batch_size)):
        group = batch_idx[start:start + max(1, batch_size)]
        size = -(-group.shape[0] // n_threads)   # samples are independent: any split
        parts = _run(forward_chunk,
                     [(w_in, w_rec, w_out, *d_args, consts, config.n_steps, dt_over_t, steps,
                       channels, offsets, c, False, 0) for c in _chunks(group, size)])
        readout[start:start + group.shape[0]] = np.concatenate([p[0] for p in parts])
        counts[start:start + group.shape[0]] = np.concatenate([p[1] for p in parts])
    return readout, counts


__all__ = ["BatchResult", "RegConfig", "infer", "loss_and_grad", "regulariser_jump"]
