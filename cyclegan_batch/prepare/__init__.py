"""The prepare stage: scan, hash, decide, convert and record two raw image folders."""
