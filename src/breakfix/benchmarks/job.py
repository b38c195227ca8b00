"""Deprecated import path: ``breakfix bench`` is :func:`breakfix.jobs.bench.bench_job`."""

from breakfix.jobs.bench import bench_job, resolve_model

__all__ = ["bench_job", "resolve_model"]
