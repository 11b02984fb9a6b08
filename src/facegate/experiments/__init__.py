"""Experiments, reports and public benchmarks."""
