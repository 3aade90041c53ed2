"""The train stage: config and presets, data, the CycleGAN step, the loop and what a run writes."""
