"""pyrama's side-by-side benchmark harness (``python -m benchmarks --help``)."""
