"""Network description (sizes, time constants) and its weights, with a checked file format.

Weight convention everywhere: w[i, j] connects presynaptic i to postsynaptic j, so a spike
of neuron i adds row i to its targets' synaptic variables.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from neurokws.utils.atomic import write_npz
from neurokws.utils.errors import ModelFormatError

MODEL_FORMAT_VERSION = 2   # 2: NetworkConfig has max_delay_in/_rec; files with delays
NO_DELAYS = {"max_delay_in": 0, "max_delay_rec": 0}   # what files written before delays hold


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes and constants of the n_in -> recurrent LIF N -> LI readout C network (ms units).

    Equations and their discretisation: docs/model.md. Every field is required: a workflow
    builds it from the config's `model` section (`neurokws.config.network_config`), code
    outside one from the schema's defaults (`neurokws.config.default_network`), and every
    later stage from the model file it was saved in.

    ``max_delay_in`` / ``max_delay_rec``: the largest synaptic delay (steps) of the input and
    recurrent connections, 0 = that connection has no delays (`Delays`; the paper's network
    has none). A model with delays carries them in its file (`save_model`).
    """

    n_hidden: int
    n_out: int
    n_in: int
    n_steps: int
    dt: float
    tau_mem: float
    tau_syn: float
    v_th: float
    max_delay_in: int
    max_delay_rec: int

    @property
    def has_delays(self) -> bool:
        """True if either connection carries synaptic delays."""
        return max(self.max_delay_in, self.max_delay_rec) > 0

    @property
    def delay_maxima(self) -> dict[str, int]:
        """The largest delay per delay array name (`Delays.NAMES`)."""
        return {"d_in": self.max_delay_in, "d_rec": self.max_delay_rec}

    @property
    def delay_bits(self) -> int:
        """Bits one synapse's delay takes: the widest connection's maximum in binary
        (62 -> 6 bits, Loihi 2's field; 7 -> 3 bits); 0 without delays."""
        return max(self.max_delay_in, self.max_delay_rec).bit_length()

    @property
    def alpha(self) -> float:
        """Membrane decay per step, exp(-dt / tau_mem)."""
        return math.exp(-self.dt / self.tau_mem)

    @property
    def beta(self) -> float:
        """Synaptic decay per step, exp(-dt / tau_syn)."""
        return math.exp(-self.dt / self.tau_syn)

    @property
    def current_scale(self) -> float:
        """c_I = (tau_syn / dt)(1 - beta): GeNN's exponential-synapse current scaling."""
        return self.tau_syn / self.dt * (1.0 - self.beta)

    @property
    def duration_ms(self) -> float:
        """Trial length T in ms."""
        return self.n_steps * self.dt

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        """From to_dict's output; a record written before delays existed has none."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown NetworkConfig keys: {sorted(unknown)}")
        return cls(**{**NO_DELAYS, **data})


def with_delay_bits(config: NetworkConfig, bits: int | None) -> NetworkConfig:
    """The network with its delays held in `bits` bits: each connection that has delays
    keeps at most 2^bits - 1 steps (its own maximum if that is smaller); `bits` None, or a
    network without delays: `config` itself (arXiv 2510.27434 sweeps delay bits so)."""
    if bits is None or not config.has_delays:
        return config
    if int(bits) < 1:
        raise ValueError(f"delay bits must be >= 1, got {bits!r}")
    top = (1 << int(bits)) - 1
    return replace(config, **{f"max_delay_{name[2:]}": min(value, top)
                              for name, value in config.delay_maxima.items() if value > 0})


@dataclass
class Weights:
    """The three dense weight matrices, float32, (pre, post) layout."""

    w_in: np.ndarray   # (n_in, n_hidden)
    w_rec: np.ndarray  # (n_hidden, n_hidden)
    w_out: np.ndarray  # (n_hidden, n_out)

    NAMES = ("w_in", "w_rec", "w_out")

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.NAMES}

    def copy(self) -> Weights:
        return Weights(*(np.array(a, copy=True) for a in self.arrays().values()))

    def astype(self, dtype: Any) -> Weights:
        return Weights(*(np.ascontiguousarray(a, dtype=dtype) for a in self.arrays().values()))

    def check(self, config: NetworkConfig, source: str = "weights") -> None:
        """Raise ModelFormatError if shapes do not match `config` or values are not finite."""
        expected = {"w_in": (config.n_in, config.n_hidden),
                    "w_rec": (config.n_hidden, config.n_hidden),
                    "w_out": (config.n_hidden, config.n_out)}
        for name, shape in expected.items():
            array = getattr(self, name)
            if array.shape != shape:
                raise ModelFormatError(
                    f"{source}: {name} has shape {array.shape}, expected {shape} for "
                    f"n_in={config.n_in}, n_hidden={config.n_hidden}, n_out={config.n_out}; "
                    "was it trained with a different config?")
            if not np.all(np.isfinite(array)):
                bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
                raise ModelFormatError(
                    f"{source}: {name} holds {bad} NaN/inf values; the training run diverged "
                    "or the file is corrupt - retrain or pick an earlier checkpoint.")


@dataclass
class Delays:
    """Per-synapse integer delays in steps, (pre, post) layout like the weights.

    A spike of neuron (or input channel) i emitted at step n reaches target j at the end of
    step ``n + d_ij`` instead of step n: it is in x_j from step ``n + d_ij + 1`` on (d = 0 is
    the delay-free network; mlGeNN's ``addToPostDelay`` and Lava's ``DelayDense`` have the
    same convention: a delay d arrives d steps later than Dense). Arrivals after the last
    step are dropped. The readout connection has no delays.
    """

    d_in: np.ndarray   # (n_in, n_hidden) int32
    d_rec: np.ndarray  # (n_hidden, n_hidden) int32

    NAMES = ("d_in", "d_rec")

    @classmethod
    def zeros(cls, config: NetworkConfig) -> Delays:
        return cls(np.zeros((config.n_in, config.n_hidden), np.int32),
                   np.zeros((config.n_hidden, config.n_hidden), np.int32))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.NAMES}

    def clipped(self, config: NetworkConfig) -> Delays:
        """The delays clipped to `config`'s maxima (with_delay_bits: post-training
        quantization of delays to fewer bits keeps every delay that fits, the rest at the
        largest that does)."""
        return Delays(*(np.minimum(a, config.delay_maxima[name]).astype(np.int32)
                        for name, a in self.arrays().items()))

    @property
    def max_delay(self) -> int:
        return int(max((a.max(initial=0) for a in self.arrays().values()), default=0))

    def stats(self, config: NetworkConfig) -> dict[str, float]:
        """What was learned, per connection that has delays (config max > 0): mean and
        largest delay (steps) and the share of synapses with a delay above 0, as
        `<name>_mean`, `<name>_max`, `<name>_nonzero` (e.g. d_rec_mean)."""
        out = {}
        for name, array in self.arrays().items():
            if config.delay_maxima[name] > 0 and np.size(array):
                out.update({f"{name}_mean": float(np.mean(array)),
                            f"{name}_max": int(np.max(array)),
                            f"{name}_nonzero": float(np.count_nonzero(array)) / np.size(array)})
        return out

    def check(self, config: NetworkConfig, source: str = "delays",
              maxima: bool = False) -> None:
        """Raise ModelFormatError unless both are integer arrays of the weights' shapes
        with values >= 0 (and, with `maxima`, at most the config's max_delay_in/_rec)."""
        expected = {"d_in": (config.n_in, config.n_hidden),
                    "d_rec": (config.n_hidden, config.n_hidden)}
        for name, shape in expected.items():
            array = np.asarray(getattr(self, name))
            if array.shape != shape:
                raise ModelFormatError(f"{source}: {name} has shape {array.shape}, expected "
                                       f"{shape} (the shape of its weight matrix)")
            if array.dtype.kind not in "iu":
                raise ModelFormatError(f"{source}: {name} has dtype {array.dtype}; delays "
                                       "are whole steps (round trained float delays first)")
            if array.size and array.min() < 0:
                raise ModelFormatError(f"{source}: {name} has negative delays (min "
                                       f"{int(array.min())}); delays are 0 or more steps")
            top = config.delay_maxima[name]
            if maxima and array.size and array.max() > top:
                raise ModelFormatError(
                    f"{source}: {name} has delays up to {int(array.max())} steps, above the "
                    f"model's max_delay_{name[2:]} = {top}; it comes from another config - "
                    "retrain for this one or raise model.delays.max_" + name[2:])


def save_model(path: str | os.PathLike, config: NetworkConfig, weights: Weights,
               provenance: dict[str, Any], delays: Delays | None = None) -> None:
    """Atomically write weights (+ integer delays, which a model with delays must have) +
    network config + provenance to an .npz file."""
    weights.check(config, source=str(path))
    extra = {}
    if config.has_delays:
        if delays is None:
            raise ModelFormatError(f"{path}: the model has synaptic delays "
                                   f"(max {config.delay_maxima}) but none were given")
        delays.check(config, source=str(path), maxima=True)
        extra = {k: np.asarray(a, np.int32) for k, a in delays.arrays().items()}
    elif delays is not None:
        raise ModelFormatError(f"{path}: delays given for a model without delays "
                               "(max_delay_in = max_delay_rec = 0)")
    write_npz(path, **weights.arrays(), **extra,
              network_config=np.array(json.dumps(config.to_dict())),
              provenance=np.array(json.dumps(provenance, default=str)),
              format_version=np.array(MODEL_FORMAT_VERSION))


def load_network(path: str | os.PathLike, expected: NetworkConfig | None = None,
                 narrow: bool = False) -> tuple[NetworkConfig, Weights, Delays | None, dict]:
    """Read a model .npz: config, weights, integer delays (None without) and provenance;
    check format, shapes, finiteness, delay ranges and (optionally) the config. `narrow`:
    a model whose delays are wider than `expected` allows, and otherwise the same, is
    returned as `expected` with its delays clipped (with_delay_bits, Delays.clipped:
    delays put in fewer bits after training)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in (*Weights.NAMES, "network_config") if k not in archive]
            if missing:
                raise ModelFormatError(f"{path}: not a neurokws model file (missing {missing}).")
            config = NetworkConfig.from_dict(json.loads(str(archive["network_config"])))
            weights = Weights(*(np.asarray(archive[k], dtype=np.float32)
                                for k in Weights.NAMES))
            stored = [k for k in Delays.NAMES if k in archive]
            delays = (Delays(*(np.asarray(archive[k]) for k in Delays.NAMES))
                      if len(stored) == len(Delays.NAMES) else None)
            prov = json.loads(str(archive["provenance"])) if "provenance" in archive else {}
    except ModelFormatError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"{path}: cannot read model file ({exc}); "
                               "delete it and rerun the rule that produces it.") from exc
    if (narrow and expected is not None and delays is not None
            and with_delay_bits(config, expected.delay_bits) == expected):
        delays.check(config, source=str(path), maxima=True)
        config, delays = expected, delays.clipped(expected)
    if expected is not None and expected != config:
        raise ModelFormatError(
            f"{path}: model was built for {config}, but this run expects {expected}; "
            "it comes from a different config - rerun training for this config.")
    weights.check(config, source=str(path))
    if config.has_delays != (delays is not None):
        raise ModelFormatError(
            f"{path}: the config says max delays {config.delay_maxima} but the file holds "
            f"delay arrays {stored}; the file is corrupt - rerun the rule that produces it.")
    if delays is not None:
        delays.check(config, source=str(path), maxima=True)
    return config, weights, delays, prov


def load_model(path: str | os.PathLike,
               expected: NetworkConfig | None = None) -> tuple[NetworkConfig, Weights, dict]:
    """`load_network` for tools that run delay-free models only: a model with synaptic
    delays is refused (it would silently run without them)."""
    config, weights, delays, prov = load_network(path, expected)
    if delays is not None:
        raise ModelFormatError(
            f"{path}: this model has learned synaptic delays (max {config.delay_maxima}), "
            "which this tool cannot run; use one that takes delays (neurokws.model.network."
            "load_network; the float engine, the emulator and the Lava graph do).")
    return config, weights, prov
