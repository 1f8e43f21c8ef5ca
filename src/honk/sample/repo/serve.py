"""The playlist site as a dev server: every request renders the page from the code and data as they are.

``python3 serve.py`` listens on $HOST:$PORT (Honk's preview passes both; default 127.0.0.1:8000).
Standard library only, like the rest of the app.
"""

import http.server
import os

from build import shown_playlists
from playlist.page import render_page


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] not in ("/", "/index.html"):
            self.send_error(404, "No such page")
            return
        page = render_page(shown_playlists()).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        print(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)


def main():
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    server = http.server.ThreadingHTTPServer((host, port), Handler)
    print(f"serving the playlist site on http://{host}:{port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
