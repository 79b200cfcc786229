"""Training loop around the Eventprop engine: optimiser, schedules, checkpoints, evaluation."""
