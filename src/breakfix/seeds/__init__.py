"""Seed and capability datasets: the loaders (registered as ``seeds/<name>`` and ``capability/<name>``), the
dispatcher over them (:func:`breakfix.seeds.files.load_seeds`) and the PyRIT reader."""

from breakfix.seeds import capability, public  # noqa: F401  (importing them registers the loaders)
