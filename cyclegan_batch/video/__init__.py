"""Videos: the frame pipeline, its sink, optical flow, stabilization and segments."""
