"""Benchmarks: each module has ``main() -> list[tuple[str, str]]``; ``bench/run`` prints them."""
