"""A loopback stand-in for the services a team's delivery command uploads to (TestFlight, Firebase App
Distribution, Expo), and stand-ins for their command-line tools with the same contract.

fastlane, firebase-tools and eas-cli cannot be installed here, and the real services need accounts, so
tests run small shell scripts (`STAND_INS`, written into a test repo's `bin/` by `write_stand_ins`)
that take the real tools' arguments, talk to `FakeDistribution` by its host name through Honk's egress
proxy with curl, and print what the real tools print (the link a kind's `KIND_LINKS` pattern finds).
They never hold the token: like the real tools run by Honk, they send a placeholder, and the proxy puts
the repo secret in the header (`[[secrets]] header = "Authorization"`).

`FakeDistribution` serves one host name over HTTPS (a certificate from a test `Authority`); every route
needs `Authorization: Bearer <token>` (401 without it):

- `POST /v1/apps/<app>/builds` (TestFlight-like; the body is the .ipa): the build is "processing" for
  the first `processing_polls` polls of `GET /v1/apps/<app>/builds/latest`, then "ready" with its link;
- `POST /v1/apps/<app>/releases?notes=…` (Firebase-like; the body is the APK/.ipa): a release and its
  tester link at once;
- `POST /v1/updates?branch=…&message=…` (Expo-like; the body is the update's bundle, maybe empty):
  an update on that branch, and its link.

Answers are JSON. Every request is recorded when it arrives (`requests`), every accepted upload with its
size and SHA-256 (`uploads`).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

from honk.egress.ca import Authority

TOKEN = "honk-test-distribution-token"
# What the stand-ins send instead: the egress proxy replaces it with the repo secret.
PLACEHOLDER = "set-by-honk-egress-proxy"
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    route: str  # "builds", "releases" or "updates"
    app: str  # the app id (the Expo branch for updates)
    id: str
    size: int
    sha256: str
    notes: str = ""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str
    authorization: str | None


class FakeDistribution:
    def __init__(
        self,
        name: str = "upload.example.com",
        authority: Authority | None = None,
        token: str = TOKEN,
        processing_polls: int = 1,
    ) -> None:
        self.name, self.token, self.processing_polls = name, token, processing_polls
        self._own_authority = authority is None
        self.authority = authority or Authority("Honk fake distribution")
        self._lock = threading.Lock()
        self._uploads: list[Upload] = []
        self._polls: dict[str, int] = {}
        self._requests: list[Seen] = []
        issued = self.authority.issue(name, "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-distribution", daemon=True)

    # -- addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def mapping(self, *names: str) -> dict[str, tuple[str, int]]:
        """The resolver's answers: this service's name (and any `names` pointed at it) on port 443."""
        return {f"{n}:443": ("127.0.0.1", self.port) for n in (self.name, *names)}

    @property
    def ca_pem(self) -> bytes:
        return self.authority.pem

    # -- what happened -------------------------------------------------------------------------
    @property
    def uploads(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads)

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._uploads.clear()
            self._polls.clear()
            self._requests.clear()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._own_authority:
            self.authority.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:
                if not self._allowed():
                    return
                parts = urlsplit(self.path).path.strip("/").split("/")
                if len(parts) == 5 and parts[:2] == ["v1", "apps"] and parts[3:] == ["builds", "latest"]:
                    return self._answer(*fake._latest(parts[2]))
                return self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    fake._seen(self)
                    return self._answer(413, {"error": "too large"})
                body = self.rfile.read(length)
                if not self._allowed():
                    return
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                path = parts.path.strip("/").split("/")
                if len(path) == 4 and path[:2] == ["v1", "apps"] and path[3] in ("builds", "releases"):
                    return self._answer(201, fake._upload(path[3], path[2], body, query.get("notes", "")))
                if path == ["v1", "updates"] and query.get("branch"):
                    return self._answer(201, fake._upload("updates", query["branch"], body, query.get("message", "")))
                return self._answer(404, {"error": "not found"})

            def _allowed(self) -> bool:
                fake._seen(self)
                if self.headers.get("authorization") == f"Bearer {fake.token}":
                    return True
                self._answer(401, {"error": "an upload needs the distribution token"})
                return False

            def _answer(self, status: int, doc: dict[str, str]) -> None:
                data = json.dumps(doc).encode() + b"\n"
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _seen(self, handler: BaseHTTPRequestHandler) -> None:
        seen = Seen(
            handler.command, handler.path, handler.headers.get("host", ""), handler.headers.get("authorization")
        )
        with self._lock:
            self._requests.append(seen)

    def _upload(self, route: str, app: str, body: bytes, notes: str) -> dict[str, str]:
        with self._lock:
            upload = Upload(route, app, str(len(self._uploads) + 1), len(body), hashlib.sha256(body).hexdigest(), notes)
            self._uploads.append(upload)
        if route == "builds":
            return {"id": upload.id, "status": "processing"}
        if route == "releases":
            link = f"https://appdistribution.firebase.google.com/testerapps/{app}/releases/{upload.id}"
        else:
            link = f"https://expo.dev/accounts/honk/projects/shop/updates/{upload.id}?branch={app}"
        return {"id": upload.id, "status": "ready", "link": link}

    def _latest(self, app: str) -> tuple[int, dict[str, str]]:
        with self._lock:
            build = next((u for u in reversed(self._uploads) if u.route == "builds" and u.app == app), None)
            if build is None:
                return 404, {"error": f"no build of {app}"}
            polls = self._polls[build.id] = self._polls.get(build.id, 0) + 1
        if polls <= self.processing_polls:
            return 200, {"id": build.id, "status": "processing"}
        return 200, {
            "id": build.id,
            "status": "ready",
            "link": f"https://testflight.apple.com/v1/app/{app}?build={build.id}",
        }


# The real tools' contract, in shell: their arguments, their request to the service, their output. The
# host is the real service's stand-in; the proxy finds it by name.
_COMMON = """#!/usr/bin/env bash
set -euo pipefail
HOST="${DISTRIBUTION_HOST:-upload.example.com}"
say() { sed -n "s/.*\\"$1\\": *\\"\\([^\\"]*\\)\\".*/\\1/p"; }
call() { curl --silent --show-error --fail-with-body --max-time 20 -H "Authorization: Bearer $TOKEN" "$@"; }
"""
STAND_INS: dict[str, str] = {
    # `fastlane pilot upload --ipa F --app_identifier A` / `fastlane pilot builds --app_identifier A`
    "fastlane": _COMMON
    + """TOKEN="${APP_STORE_CONNECT_API_KEY:-}"
[ "${1:-}" = pilot ] || { echo "[!] Could not find action, lane or variable '${1:-}'" >&2; exit 1; }
what="$2"; shift 2
ipa=""; app=""
while [ $# -gt 0 ]; do
  case "$1" in --ipa) ipa="$2"; shift 2;; --app_identifier) app="$2"; shift 2;; *) shift;; esac
done
case "$what" in
  upload)
    [ -f "$ipa" ] || { echo "[!] Could not find ipa file at path '$ipa'" >&2; exit 1; }
    echo "[13:37:00]: Ready to upload new build to TestFlight (App: $app)..."
    answer=$(call --data-binary @"$ipa" "https://$HOST/v1/apps/$app/builds")
    echo "[13:37:02]: Successfully uploaded package to App Store Connect. It might take a few minutes until it's visible online."
    echo "[13:37:02]: Build $(say id <<<"$answer") is processing" ;;
  builds)
    answer=$(call "https://$HOST/v1/apps/$app/builds/latest")
    if [ "$(say status <<<"$answer")" = processing ]; then
      echo "[13:40:00]: Build $(say id <<<"$answer"): Processing"
    else
      echo "[13:40:00]: Build $(say id <<<"$answer"): Ready to test: $(say link <<<"$answer")"
    fi ;;
  *) echo "[!] unknown pilot command $what" >&2; exit 1 ;;
esac
""",
    # `firebase appdistribution:distribute F --app A --release-notes N`
    "firebase": _COMMON
    + """TOKEN="${FIREBASE_TOKEN:-}"
[ "${1:-}" = appdistribution:distribute ] || { echo "Error: ${1:-} is not a Firebase command" >&2; exit 1; }
file="$2"; shift 2
app=""; notes=""
while [ $# -gt 0 ]; do
  case "$1" in --app) app="$2"; shift 2;; --release-notes) notes="$2"; shift 2;; *) shift;; esac
done
echo "i  uploading binary..."
answer=$(call --data-binary @"$file" --url-query "notes=$notes" "https://$HOST/v1/apps/$app/releases")
echo "✔  uploaded new release successfully!"
echo "✔  Share this release with testers who have access: $(say link <<<"$answer")"
""",
    # `eas update --branch B --message M --non-interactive`
    "eas": _COMMON
    + """TOKEN="${EXPO_TOKEN:-}"
[ "${1:-}" = update ] || { echo "Error: command ${1:-} not found" >&2; exit 1; }
shift
branch=""; message=""
while [ $# -gt 0 ]; do
  case "$1" in --branch) branch="$2"; shift 2;; --message) message="$2"; shift 2;; *) shift;; esac
done
[ -n "$TOKEN" ] || { echo "An Expo user account is required to proceed. Log in with eas login or set EXPO_TOKEN" >&2; exit 1; }
mkdir -p dist && echo "bundle of $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" > dist/bundle.js
answer=$(call --data-binary @dist/bundle.js --url-query "branch=$branch" --url-query "message=$message" \\
  "https://$HOST/v1/updates")
echo "✔ Published!"
echo "Branch             $branch"
echo "Website link       $(say link <<<"$answer")"
""",
}


def write_stand_ins(repo: Path) -> Path:
    """Writes the stand-ins into `repo/bin` (executable) and returns that directory."""
    bin_dir = repo / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, script in STAND_INS.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    return bin_dir
