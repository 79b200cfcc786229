"""Training-cost child: BPTT with surrogate gradients in Spyx (JAX) at one T (.venv-spyx).

    neurokws.utils.sidecar.run_module("spyx", "neurokws.profiling.training.cost_spyx", request)

The same 700 -> N recurrent -> C network as ours, built from Spyx layers as the paper's
baseline ("RCuBaLIF", Heckel & Nowotny's SHD classifier with recurrence and exponential
synapses): nnx.Linear(700, N) -> spyx.nn.RCuBaLIF (synaptic decay exp(-dt/tau_syn), membrane
decay exp(-dt/tau_mem), threshold 1) -> nnx.Linear(N, C) -> two spyx.nn.LI stages (synapse,
then membrane), the exp(-t/T)-weighted mean of the output voltage as readout, softmax
cross-entropy, optax Adam; the whole step (scan forward, BPTT backward, update) in one
jax.jit. Model differences to ours, none of which changes the cost of a dense BPTT step:
subtractive reset (V -= threshold) instead of reset to 0, the spike decided on the voltage
of the previous step, no (1 - alpha) / c_I input scaling, SuperSpike surrogate gradient
(k = 25) instead of exact event gradients, dense (T, B, 700) input (uint8 on the device,
cast in the step, as Spyx's SHD loader unpacks bits inside the jitted step).
"""

from __future__ import annotations

import importlib.metadata
import math
import os
from types import SimpleNamespace
from typing import Any

import numpy as np

from neurokws.model.init import IN_MEAN, IN_SD, OUT_SD, REC_SD
from neurokws.profiling.training import cost_common as cc


def build(args, dt: float):
    """The Spyx model and a jitted train step over (state, x_uint8, labels)."""
    import jax
    import jax.numpy as jnp
    import optax
    import spyx
    from flax import nnx

    tau_mem, tau_syn = args.model["tau_mem_ms"], args.model["tau_syn_ms"]
    alpha_mem, beta_syn = math.exp(-dt / tau_mem), math.exp(-dt / tau_syn)
    scale = (1.0 - alpha_mem) * (tau_syn / dt) * (1.0 - beta_syn)  # our input scaling
    rngs = nnx.Rngs(args.seed)
    n, c, n_in = args.hidden, args.classes, args.n_in
    model = spyx.nn.Sequential(
        nnx.Linear(n_in, n, use_bias=False, rngs=rngs),
        spyx.nn.RCuBaLIF((n,), alpha=beta_syn, beta=alpha_mem, threshold=args.model["v_th"],
                         rngs=rngs),
        nnx.Linear(n, c, use_bias=False, rngs=rngs),
        spyx.nn.LI((c,), beta=beta_syn, rngs=rngs),
        spyx.nn.LI((c,), beta=alpha_mem, rngs=rngs))
    key = np.random.default_rng(args.seed)
    layers = model.layers
    layers[0].kernel.value = jnp.asarray(scale * key.normal(IN_MEAN, IN_SD, (n_in, n)),
                                         jnp.float32)
    layers[1].recurrent_w.value = jnp.asarray(scale * key.normal(0, REC_SD, (n, n)),
                                              jnp.float32)
    layers[2].kernel.value = jnp.asarray(scale * key.normal(0, OUT_SD, (n, c)), jnp.float32)
    training = args.training
    optimizer = nnx.Optimizer(model, optax.adam(training["lr"], b1=training["adam_beta1"],
                                                b2=training["adam_beta2"],
                                                eps=training["adam_eps"]), wrt=nnx.Param)
    weight = jnp.exp(-jnp.arange(args.steps) * dt / cc.TRIAL_MS) / args.steps
    graphdef, state = nnx.split((model, optimizer))
    # Strongly typed leaves: weak-typed scalars (decays, Adam moments) would make jit
    # recompile on the second and third call.
    state = jax.tree.map(lambda leaf: jnp.asarray(np.asarray(leaf)), state)

    def loss_fn(m, x, y):
        out, _ = spyx.nn.run(m, x.astype(jnp.float32))  # (T, B, C), time-major
        readout = jnp.einsum("tbc,t->bc", out, weight)
        return optax.softmax_cross_entropy_with_integer_labels(readout, y).mean()

    def step(state, x, y):
        m, o = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(m, x, y)
        o.update(m, grads)
        return loss, nnx.state((m, o))

    return jax.jit(step, donate_argnums=0), state


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> dict[str, Any]:
    """Measure one trial length; the result record (cost_common.result)."""
    args = SimpleNamespace(**request)
    import jax
    import jax.numpy as jnp

    dt = cc.TRIAL_MS / args.steps
    n_samples = args.batch * (args.batches + 1)
    steps, channels, offsets = cc.random_events(args.seed, n_samples, args.n_in, args.steps,
                                                args.events)
    labels = np.random.default_rng(args.seed + 1).integers(0, args.classes, n_samples)
    batches = []
    for b in range(args.batches + 1):  # the "dataset on the device", excluded like the paper
        idx = np.arange(b * args.batch, (b + 1) * args.batch)
        batches.append((jnp.asarray(cc.dense_batch(steps, channels, offsets, idx, args.steps,
                                                   args.n_in)),
                        jnp.asarray(labels[idx].astype(np.int32))))
    jax.block_until_ready(batches)
    del steps, channels, offsets
    step_fn, state = build(args, dt)
    holder: dict = {"state": state}

    def prepare() -> None:
        holder["run"] = step_fn.lower(state, *batches[0]).compile()

    def step(b: int) -> None:
        loss, holder["state"] = holder["run"](holder["state"], *batches[b])
        jax.block_until_ready((loss, holder["state"]))

    timing = cc.measure(step, args.batches, prepare)
    stats = holder["run"].memory_analysis()
    buffers = (stats.temp_size_in_bytes + stats.argument_size_in_bytes
               + stats.output_size_in_bytes - stats.alias_size_in_bytes) / 2**20
    versions = {name: importlib.metadata.version(name)
                for name in ("spyx", "jax", "jaxlib", "flax", "optax", "numpy")}
    return cc.result("bptt_spyx", args, timing, versions,
                     threads=len(os.sched_getaffinity(0)), backend=jax.default_backend(),
                     xla_buffers_mib=buffers, xla_temp_mib=stats.temp_size_in_bytes / 2**20)
