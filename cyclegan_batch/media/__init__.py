"""Image and video I/O: robust decode, atomic encode, probe, split, join, audio; the media names (formats.py).

Kept import-free: the workflow imports media.formats without torch.
"""
