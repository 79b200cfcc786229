"""Adam over the weight matrices (or the delays), with state that checkpoints exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from neurokws.model.network import Weights


# error_model "numpy": a float division gives inf/nan as numpy does instead of numba's
# default zero-division check, a branch that kept this loop from vectorising (7x slower).
@njit(cache=True, nogil=True, error_model="numpy")
def _adam_update(w, g, m, v, beta1, beta2, c1, c2, c_lr, eps):
    """One fused pass of Adam over flat float32 arrays, operation for operation (and so
    bit for bit) numpy's ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g;
    w -= (lr first) m / (sqrt(v second) + eps)`` with every scalar in float32 (numpy's weak
    promotion of Python floats), but one memory pass instead of ten: at batch size 1 the
    update ran as long as a sample's forward pass."""
    eps0 = eps[0]
    second = eps[1]
    for k in range(w.shape[0]):
        gk = g[k]
        mk = m[k] * beta1 + c1 * gk
        vk = v[k] * beta2 + c2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        w[k] -= (c_lr * mk) / (np.sqrt(vk * second) + eps0)


@dataclass
class Adam:
    """Adam (Kingma & Ba) with bias correction, as in mlGeNN's optimiser; float32 in place."""

    beta1: float
    beta2: float
    eps: float
    step_count: int = 0       # state: starts at zero
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, weights: Weights, grads: Weights, lr: float,
             lr_scale: dict[str, float] | None = None) -> None:
        """Apply one update to `weights` in place from `grads` (any parameter set with
        NAMES, e.g. network.Delays holding float delays); `lr_scale` multiplies the rate
        per array (e.g. QAT's rate in weight quanta, train/qat.py)."""
        self.step_count += 1
        first = 1.0 / (1.0 - self.beta1 ** self.step_count)
        second = 1.0 / (1.0 - self.beta2 ** self.step_count)
        for name in type(weights).NAMES:
            lr_name = lr if lr_scale is None else lr * lr_scale[name]
            w = getattr(weights, name)
            g = getattr(grads, name).astype(w.dtype, copy=False)
            if name not in self.m:
                self.m[name], self.v[name] = np.zeros_like(w), np.zeros_like(w)
            m, v = self.m[name], self.v[name]
            if w.dtype == np.float32 and all(a.flags.c_contiguous for a in (w, g, m, v)):
                f = np.float32
                _adam_update(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                             f(self.beta1), f(self.beta2), f(1.0 - self.beta1),
                             f(1.0 - self.beta2), f(lr_name * first),
                             np.array([self.eps, second], np.float32))
                continue
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * (g * g)
            w -= (lr_name * first) * m / (np.sqrt(v * second) + self.eps)

    def state(self, prefix: str = "adam_") -> dict[str, np.ndarray]:
        """Arrays to store in a checkpoint (keys start with `prefix`)."""
        state = {f"{prefix}m_{k}": a for k, a in self.m.items()}
        state.update({f"{prefix}v_{k}": a for k, a in self.v.items()})
        state[f"{prefix}step_count"] = np.array(self.step_count)
        return state

    def load_state(self, state: dict[str, np.ndarray], prefix: str = "adam_",
                   names: tuple[str, ...] = Weights.NAMES) -> None:
        """Restore from `state(prefix)` output."""
        self.step_count = int(state[f"{prefix}step_count"])
        self.m = {k: np.array(state[f"{prefix}m_{k}"]) for k in names
                  if f"{prefix}m_{k}" in state}
        self.v = {k: np.array(state[f"{prefix}v_{k}"]) for k in names
                  if f"{prefix}v_{k}" in state}
