"""Benchmarks: each module here has ``main() -> list[tuple[str, str]]``; ``bench/run`` prints them."""
