"""Inside a confinement: serve a directory on the namespace's own loopback, and run a command.

`python -I -S serve.py DIR PORT -- COMMAND...` serves DIR (read-only, bound in) at
http://127.0.0.1:PORT/ and runs COMMAND — the headless browser taking a preview's screenshot — as its
child, exiting as it exits. The browser sees the preview as a page served over HTTP, and nothing
else: the namespace has no other network, so a page that reaches for a loopback port on the host (or
anywhere) gets nothing. Standard library only: it runs without Honk's packages on the path.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def main(argv: list[str]) -> int:
    root, port, command = argv[1], int(argv[2]), argv[argv.index("--") + 1 :]
    handler = functools.partial(_Quiet, directory=root)
    # Listening before the command starts (connections wait in the backlog until it serves them), and
    # forked before any thread exists.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _, status = os.waitpid(pid, 0)
    server.shutdown()
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
