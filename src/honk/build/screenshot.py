"""A phone-sized screenshot of a task's preview, by the machine's headless Chromium (when it has one).

The browser runs confined, through the same launcher as the repo's own code (the preview is code the
agent wrote): its own pid and network namespaces, the preview bound in read-only and served on the
sandbox's own loopback (`honk.build.serve`), nothing of Honk's files, no other network — so a page
that reaches for a port on the host's loopback, or anywhere else, gets nothing.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from honk.sandbox import Sandbox

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PHONE = (390, 844)
SERVE = Path(__file__).with_name("serve.py")
INSIDE = Path("/run/honk")
PORT = 47100  # on the sandbox's own loopback


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class Screenshots:
    def __init__(self, sandbox: Sandbox, areas: Path, previews: Path) -> None:
        self.sandbox, self.areas, self.previews = sandbox, areas, previews

    async def take(self, task_id: str, out: Path, timeout_s: float = 60.0) -> bool:
        """Writes a PNG of the task's preview to `out`; False when there is no browser or no preview, or
        it could not render."""
        binary, preview = browser(), self.previews / task_id
        if binary is None or not (preview / "index.html").is_file():
            return False
        area = self.areas / task_id
        work = area / "screenshot"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        launcher = self.sandbox.launcher(
            area,
            work,
            [],
            "preview",
            "none",
            show=((preview.resolve(), INSIDE / "preview"), (SERVE, INSIDE / "serve.py")),
        )
        shot = work / "shot.png"
        argv = [
            str(Path(sys.executable).resolve()),
            "-I",
            "-S",
            str(INSIDE / "serve.py"),
            str(INSIDE / "preview"),
            str(PORT),
            "--",
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
            f"--user-data-dir={work / 'profile'}",
            f"--window-size={PHONE[0]},{PHONE[1]}",
            f"--screenshot={shot}",
            f"http://127.0.0.1:{PORT}/",
        ]
        try:
            res = await launcher.run(argv, timeout_s=timeout_s)
            if not (res.exit_code == 0 and shot.is_file() and shot.stat().st_size > 0):
                return False
            shutil.copyfile(shot, out)
            return True
        finally:
            launcher.close()
            shutil.rmtree(work, ignore_errors=True)
