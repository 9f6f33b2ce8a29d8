"""Benchmarks: ours against the anchors, in one run, as ratios (``make bench``)."""
