"""Deprecated import paths: the suites moved to :mod:`breakfix.suites`, the bench job to :mod:`breakfix.jobs.bench`.
Kept so that scripts written against breakfix 0.1 keep working."""
