"""Benchmarks: scripts that print numbers (bench/README.md). A package so they can share code."""
