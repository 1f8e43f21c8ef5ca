"""Estimated model prices, for live cost while an agent runs (the CLI's own figure is final).

USD per million tokens (input, output), by model family; unknown models get no estimate.
"""

from __future__ import annotations

PRICES: dict[str, tuple[float, float]] = {
    "opus-4-5": (5.0, 25.0),
    "opus-4-6": (5.0, 25.0),
    "opus": (15.0, 75.0),
    "sonnet": (3.0, 15.0),
    "haiku-4": (1.0, 5.0),
    "haiku": (0.8, 4.0),
}


def estimate(model: str | None, input_tokens: int, output_tokens: int) -> float | None:
    if not model:
        return None
    for family, (per_in, per_out) in PRICES.items():
        if family in model:
            return round((input_tokens * per_in + output_tokens * per_out) / 1_000_000, 6)
    return None
