"""Scoring image sets for realism: Inception features of folders and files, cached by content (features.py)."""
