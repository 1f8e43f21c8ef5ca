"""A phone-sized screenshot of a preview page, with the machine's headless Chromium (when it has one)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from honk.workspace import proc

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PHONE = (390, 844)


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


async def screenshot(url: str, out: Path, timeout_s: float = 60.0) -> bool:
    """Writes a PNG of `url` to `out`; False when no browser is installed or it could not render."""
    binary = browser()
    if binary is None:
        return False
    with tempfile.TemporaryDirectory(prefix="honk-shot-") as profile:
        argv = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            # Without these Chromium reaches for outside hosts at start.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={PHONE[0]},{PHONE[1]}",
            f"--screenshot={out}",
            url,
        ]
        res = await proc.run(argv, cwd=Path(profile), timeout_s=timeout_s, env=proc.child_env({"HOME": profile}))
    return res.exit_code == 0 and out.is_file() and out.stat().st_size > 0
