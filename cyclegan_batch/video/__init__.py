"""Videos: the frame pipeline, its sink, optical flow, stabilization and segments.

The default stabilization strength lives here, import-free, so that `translate --help` shows it without
loading torch (stabilize.py uses it).
"""

DEFAULT_STRENGTH = 0.8  # weight of the carried frame where fully trusted; 0 turns stabilization off
