"""Inside a confined process's own network namespace: the one way out, to the model API.

`python -I -S bridge.py PORT SOCKET -- COMMAND...` listens on the namespace's own loopback
(127.0.0.1:PORT), passes every connection through to SOCKET — Honk's key proxy, a unix socket bound
in from outside — and runs COMMAND as its child, exiting as it exits. Programs that only speak TCP
(Claude Code's `ANTHROPIC_BASE_URL`) reach the proxy that way; nothing else leaves the namespace.
Standard library only, and as little of it as possible: it starts once per agent run.
"""

from __future__ import annotations

import asyncio
import signal
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _serve(port: int, socket_path: str, argv: list[str]) -> int:
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()  # the agent sees a refused request, as if the API were down
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    child = await asyncio.create_subprocess_exec(*argv)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, child.send_signal, sig)
    code = await child.wait()
    server.close()
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    port, socket_path, command = int(argv[1]), argv[2], argv[argv.index("--") + 1 :]
    return asyncio.run(_serve(port, socket_path, command))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
