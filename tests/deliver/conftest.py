"""Fixtures for delivery tests: the Android tool chain (required, never skipped), a signing key made once
per session, and a real confined launcher (bubblewrap) for apksigner, as the worker gives the deliver step."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from honk.sandbox import Sandbox, SandboxConfig
from honk.sandbox.sandbox import SandboxLauncher
from honk.testing.android import INSTALL, Keystore, make_keystore, missing_tools


@pytest.fixture(scope="session")
def android_tools() -> None:
    if missing := missing_tools():
        pytest.fail(
            f"The Android tool chain these tests build real APKs with is missing: {', '.join(missing)}. "
            f"Install it: {INSTALL}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def keystore(android_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Keystore:
    return make_keystore(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def icon_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), (220, 40, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def launcher(tmp_path: Path, workspace: Path) -> Iterator[SandboxLauncher]:
    """A bubblewrap launcher for the deliver phase, over `workspace` (where the tests build their APKs)."""
    sandbox = Sandbox(SandboxConfig(hidden=(tmp_path / "data",)))
    launcher = sandbox.launcher(tmp_path / "area", workspace, [], "deliver")
    yield launcher
    launcher.close()
