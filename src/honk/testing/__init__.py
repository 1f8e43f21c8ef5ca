"""Test fixtures shipped with the package: real processes and real git at process boundaries."""
