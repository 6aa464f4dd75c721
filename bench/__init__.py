"""Benchmarks of treatygraph at scale; run by `make bench`, never in CI."""
