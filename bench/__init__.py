"""Benchmarks that print numbers (the suite never times anything). See bench/README.md."""
