"""Benchmark replays: search strategies run against NAS-Bench tables."""
