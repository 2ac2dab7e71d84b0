"""Benchmarks of the real stack, each figure next to a baseline measured in the same run.

`make bench` (or `python -m bench`) — see bench/README.md for what is measured and how.
"""
