"""Before/after screenshots of a task's routes, phone and desktop, and their pixel diffs: Honk's
`Screenshooter`.

One confined Chromium per round (`honk.preview.browser`) sees the target branch's preview and the
task's, each at its own origin on its own loopback; each shot is a fresh browser context at
the viewport's size (no cookies or storage carried from another shot), taken after the page's load
event and, within SETTLE_S, its network going quiet, with animations stopped so that two takes of the
same page are the same picture. A route that answers 5xx, does not load in time or does not load at all
is a pair with `error`, never an exception. Files go to `<shots_dir>/<task>/<route>-<viewport>-
{before,after,diff}.png`; a round is written beside the last one and then put in its place, so a reader
sees one round or the other, and a route that is gone leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from honk.domain import DESKTOP_VIEWPORT, PHONE_VIEWPORT, PreviewEndpoint, RouteShots, ShotPair
from honk.network import EgressPolicy
from honk.preview.browser import confined_browser, require_chromium
from honk.preview.diff import compare
from honk.sandbox import Sandbox

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

VIEWPORTS = (("phone", PHONE_VIEWPORT), ("desktop", DESKTOP_VIEWPORT))
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class _Taken:
    """One side of a pair: the picture, or why there is none."""

    png: bytes | None = None
    error: str = ""


class Shots:
    """Honk's Screenshooter. `areas`: the tasks' areas (the browser's sandbox lives in `<area>/shots`);
    `out`: the shots directory (Settings.shots_dir); `chromium`: HONK_PREVIEW_CHROMIUM (None: on PATH)."""

    def __init__(
        self,
        sandbox: Sandbox,
        areas: Path,
        out: Path,
        chromium: str | None = None,
        load_timeout_s: float = 20.0,
        settle_s: float = 5.0,
    ) -> None:
        self.sandbox, self.areas, self.out, self.chromium = sandbox, areas, out, chromium
        self.load_timeout_s, self.settle_s = load_timeout_s, settle_s

    def files(self, task_id: str) -> Path:
        """The directory a task's screenshots are in."""
        return self.out / _task(task_id)

    async def compare(
        self,
        task_id: str,
        before: PreviewEndpoint | None,
        after: PreviewEndpoint,
        routes: Sequence[str],
        egress: EgressPolicy | None = None,
    ) -> list[RouteShots]:
        chromium = require_chromium(self.chromium)
        name = _task(task_id)
        # Per side: its preview's socket, or why it cannot be shown ("": there is no such version).
        ends = {"before": _socket(before), "after": _socket(after)}
        sockets = [end for end in ends.values() if isinstance(end, Path)]
        self.out.mkdir(parents=True, exist_ok=True)
        fresh = self.out / f".{name}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        area = self.areas / name / "shots"
        pairs: list[asyncio.Future[ShotPair]] = []
        try:
            async with confined_browser(self.sandbox, area, chromium, sockets, egress) as confined:
                shown = [side for side, end in ends.items() if isinstance(end, Path)]
                origins = dict(zip(shown, confined.origins, strict=True))
                for route, slug in zip(routes, _slugs(routes), strict=True):
                    for viewport, size in VIEWPORTS:
                        sides = await asyncio.gather(
                            *(
                                self._take(confined.browser, origins[side] + route, size)
                                if side in origins
                                else _none(str(end))
                                for side, end in ends.items()
                            )
                        )
                        # Diffed in a thread while the browser takes the next pair (pixelmatch is pure Python).
                        pair = asyncio.to_thread(_pair, fresh, f"{slug}-{viewport}", viewport, size, *sides)
                        pairs.append(asyncio.ensure_future(pair))
                done = await asyncio.gather(*pairs)
        except BaseException:
            await asyncio.gather(*pairs, return_exceptions=True)  # threads finish; then nothing is half-written
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        per_route = len(VIEWPORTS)
        found = [
            RouteShots(route=route, shots=list(done[i * per_route : (i + 1) * per_route]))
            for i, route in enumerate(routes)
        ]
        _replace(fresh, self.out / name)
        return found

    async def _take(self, browser: Browser, url: str, size: tuple[int, int]) -> _Taken:
        from playwright.async_api import Error

        try:
            context = await browser.new_context(
                viewport={"width": size[0], "height": size[1]},
                device_scale_factor=1,
                is_mobile=size == PHONE_VIEWPORT,
                has_touch=size == PHONE_VIEWPORT,
                reduced_motion="reduce",
                locale="en-US",
                timezone_id="UTC",
                service_workers="block",
            )
        except Error as e:  # the browser is gone (it crashed, or was stopped)
            return _Taken(error=f"the browser failed: {_first_line(e)}")
        try:
            return await self._load(context, url)
        except Error as e:  # the page's renderer or the browser crashed
            return _Taken(error=f"the browser failed: {_first_line(e)}")
        finally:
            try:
                await context.close()
            except Error:
                pass

    async def _load(self, context: BrowserContext, url: str) -> _Taken:
        from playwright.async_api import Error, TimeoutError

        page = await context.new_page()
        try:
            response = await page.goto(url, wait_until="load", timeout=self.load_timeout_s * 1000)
        except TimeoutError:
            return _Taken(error=f"did not load within {self.load_timeout_s:.0f}s")
        except Error as e:
            return _Taken(error=f"did not load: {_first_line(e)}")
        if response is None:
            return _Taken(error="did not load: no response")
        if response.status >= 500:
            return _Taken(error=f"answered {response.status}")
        try:  # a dev server's hot-reload socket or a poll may never let the network go quiet
            await page.wait_for_load_state("networkidle", timeout=self.settle_s * 1000)
        except TimeoutError:
            pass
        try:
            png = await page.screenshot(animations="disabled", timeout=self.load_timeout_s * 1000)
        except TimeoutError:
            return _Taken(error=f"no screenshot within {self.load_timeout_s:.0f}s")
        return _Taken(png=png)


async def _none(why: str) -> _Taken:
    return _Taken(error=why)


def _pair(folder: Path, stem: str, viewport: str, size: tuple[int, int], before: _Taken, after: _Taken) -> ShotPair:
    """Writes the pictures of one route at one viewport, and their diff when both sides have one."""
    images: dict[str, Image.Image] = {}
    errors: list[str] = []
    for side, taken in (("before", before), ("after", after)):
        if taken.png is None:
            if taken.error:
                errors.append(f"{side}: {taken.error}")
            continue
        try:
            image = Image.open(io.BytesIO(taken.png))
        except (OSError, Image.DecompressionBombError) as e:
            errors.append(f"{side}: the browser gave no picture ({e})"[:300])
            continue
        if image.format != "PNG" or image.size != size:  # from a browser that ran the agent's code
            errors.append(f"{side}: the browser gave a {image.format} of {image.size[0]}x{image.size[1]}")
            continue
        (folder / f"{stem}-{side}.png").write_bytes(taken.png)
        images[side] = image
    pair = ShotPair(
        viewport=viewport,
        before=f"{stem}-before.png" if "before" in images else None,
        after=f"{stem}-after.png" if "after" in images else None,
        error="; ".join(errors),
    )
    if "before" in images and "after" in images:
        difference = compare(images["before"], images["after"])
        difference.image.save(folder / f"{stem}-diff.png", optimize=False)
        pair = pair.model_copy(update={"diff": f"{stem}-diff.png", "changed": difference.changed})
    return pair


def _socket(endpoint: PreviewEndpoint | None) -> Path | str:
    """The unix socket a preview answers on, or why it cannot be shown from here ("": no such version)."""
    if endpoint is None:
        return ""
    if not endpoint.address.startswith("unix:"):
        return f"not on this worker ({endpoint.address.split(':', 1)[0]} endpoint)"
    path = Path(endpoint.address.removeprefix("unix:"))
    if not path.is_absolute():
        return "its socket is not an absolute path"
    if not path.is_socket():
        return "not running (no socket)"
    return path


def _slugs(routes: Sequence[str]) -> list[str]:
    """File-name stems for routes: `/` is `root`, `/settings/profile` is `settings-profile`; a second
    route with the same stem gets `-2`."""
    stems: list[str] = []
    for route in routes:
        stem = re.sub(r"[^a-z0-9]+", "-", route.lower()).strip("-")[:60].strip("-") or "root"
        candidate, n = stem, 1
        while candidate in stems:
            n += 1
            candidate = f"{stem}-{n}"
        stems.append(candidate)
    return stems


def _task(task_id: str) -> str:
    if not _TASK.fullmatch(task_id) or ".." in task_id:
        raise ValueError(f"not a task id: {task_id!r}")
    return task_id


def _replace(fresh: Path, final: Path) -> None:
    """Puts this round's folder where the last round's was (two renames: a reader sees one or the other,
    or for a moment none)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
