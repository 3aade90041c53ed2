"""Image and video I/O: robust decode, atomic encode, probe, split, join, audio."""
