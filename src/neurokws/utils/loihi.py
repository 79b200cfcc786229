"""Loihi 2 hardware limits that more than one layer checks against (their one home)."""

# Synaptic delays of 0..62 steps: Loihi 2's range, which lava-dl's netx and
# genn-team/ml_genn_netx clip to (Meszaros et al., arXiv 2510.13757; issue 14).
LOIHI_MAX_DELAY = 62
