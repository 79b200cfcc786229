"""Inference cost per device, the paper's Table II: the CPU profiler (`cpu`), the CUDA
kernel and its profiler (`gpu`, `gpu_kernels`), Loihi 2 hardware (`loihi`, and `loihi_hw`,
which runs inside the Lava venv) and its activity-based estimate (`loihi_estimate`), GeNN's
kernel timers (`mlgenn_timers`), the timed, power-sampled passes they share (`measure`),
which profiler serves which device (`profile`) and the tidy row schema (`records`).
Nothing is imported here, so `loihi_hw` imports with numpy and lava only.
"""
