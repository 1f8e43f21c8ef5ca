"""How a running preview is read: the timeline keeps its origin, why it failed and the latest
screenshots; the route flags what changed outside the routes a request named; the PR body embeds them."""

from __future__ import annotations

import pytest

from honk.domain import PullRequestBody, RepoConfig, RouteShots, ShotPair
from honk.errors import InvalidRepoConfig
from honk.events import PreviewFailed, PreviewReady, ScreenshotsTaken
from honk.forge.body import render_body
from honk.timeline import Timeline
from honk.verify.config import parse_repo_config
from honk.workflow.steps.preview import outside


def _route(path: str, changed: float) -> RouteShots:
    pair = ShotPair(viewport="phone", before="b.png", after="a.png", diff="d.png", changed=changed)
    return RouteShots(route=path, shots=[pair])


def test_the_timeline_keeps_the_origin_the_failure_and_the_latest_screenshots() -> None:
    shots = [_route("/", 0.02)]
    t = Timeline().fold(PreviewReady(url="http://t-a.localhost:8787", routes=["/"]))
    t = t.fold(ScreenshotsTaken(routes=shots, outside=[]))
    assert (t.preview_url, t.preview_failed, t.shots) == ("http://t-a.localhost:8787", None, shots)
    failed = t.fold(PreviewFailed(reason="`start` exited with code 1", log_tail="Error: no such module"))
    assert failed.preview_failed == "`start` exited with code 1\nError: no such module"
    assert failed.shots == []  # the old screenshots are not of this version
    again = failed.fold(PreviewReady(url="http://t-a.localhost:8787"))
    assert again.preview_failed is None


@pytest.mark.parametrize(
    ("asked", "flagged"),
    [
        (["make the settings page dark"], []),  # names no route: the whole app is in scope
        (["fix the button on /settings"], ["/"]),  # "/" changed, but only /settings was asked about
        (["fix /settings", "and the home page /"], ["/"]),  # "/" is never named by being a prefix
        (["fix /settings and /about"], ["/"]),
    ],
)
def test_a_change_outside_the_routes_the_request_named_is_flagged(asked: list[str], flagged: list[str]) -> None:
    shots = [_route("/", 0.05), _route("/settings", 0.2), _route("/about", 0.0)]
    assert outside(shots, asked) == flagged


def test_an_invisible_change_is_not_flagged() -> None:
    assert outside([_route("/", 0.0004), _route("/settings", 0.3)], ["fix /settings"]) == []


def test_the_pull_request_embeds_every_route_before_and_after() -> None:
    body = PullRequestBody(
        task_id="t-abc",
        title="t",
        request="r",
        requested_by="ana",
        task_url="http://honk/tasks/t-abc",
        shots=[_route("/", 0.021), RouteShots(route="/x", shots=[ShotPair(viewport="desktop", error="HTTP 500")])],
        shots_url="http://honk/shots/t-abc",
    )
    text = render_body(body)
    assert "| `/` phone<br>2.1% changed | ![before](http://honk/shots/t-abc/b.png) |" in text
    assert "| `/x` desktop | HTTP 500 |" in text


def test_preview_config_is_a_server_or_files_and_names_its_routes() -> None:
    config = parse_repo_config('[preview]\nstart = "npm run dev"\nroutes = ["/", "/settings"]\nidle_stop = 5\n')
    assert config.preview is not None and config.preview.running
    assert (config.preview.routes, config.preview.idle_stop_min, config.preview.ready) == (["/", "/settings"], 5, "/")
    for bad, says in [
        ('[preview]\nstart = "a"\ndir = "b"', "both dir and start"),
        ('[preview]\nroutes = ["/"]', "needs dir"),
        ('[preview]\nstart = "a"\nroutes = []', "a list of 1 to 20 paths"),
        ('[preview]\nstart = "a"\nroutes = ["settings"]', "a path such as"),
        ('[preview]\nstart = "a"\nroutes = ["//evil.example/x"]', "a path such as"),
    ]:
        with pytest.raises(InvalidRepoConfig) as e:
            parse_repo_config(bad)
        assert says in str(e.value)
    assert RepoConfig().preview is None
