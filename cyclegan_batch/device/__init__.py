"""Which device and precision a process computes on: precision choice, the GPU claim, DDP."""
