"""Training cost, the paper's Figure 3: the Eventprop vs Spyx BPTT benchmark
(`training_cost`), which runs each measurement in its own child process
(`neurokws.utils.sidecar.run_module`): `cost_eventprop` in this venv, `cost_spyx` in the
Spyx venv (numpy and jax only), both on the timing and memory helpers of `cost_common`.
Nothing is imported here, so the children import no more than they did.
"""
