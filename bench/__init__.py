"""Benchmarks run by `make bench`: ingest against a bare server, latency, memory, replay, flood."""
