"""A small dev server for preview tests: stdlib only, listening on $HOST:$PORT as `[preview] start` is told.

GET /         an HTML page naming this server (its --marker)
GET /whoami   the marker as text
GET /stream   a chunked response, five chunks a fifth of a second apart (streaming through a proxy)
GET /ws       a WebSocket that echoes text and binary messages
GET /probe?connect=HOST:PORT&read=PATH&unix=PATH&fetch=URL   what this server could reach, as JSON

Modes, for what goes wrong: --exit (exits at once), --never-listen, --wrong-port (listens on a port of
its own choosing), --crash-after N (exits after answering N requests), --status N (answers all with N).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import urllib.request
from urllib.parse import parse_qs, urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--marker", default="app")
    p.add_argument("--exit", action="store_true")
    p.add_argument("--never-listen", action="store_true")
    p.add_argument("--wrong-port", action="store_true")
    p.add_argument("--crash-after", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    args = p.parse_args()
    print(f"app {args.marker} starting, PORT={os.environ.get('PORT')} HOST={os.environ.get('HOST')}", flush=True)
    if args.exit:
        print("error: cannot find config/app.toml", flush=True)
        sys.exit(3)
    asyncio.run(serve(args))


async def serve(args: argparse.Namespace) -> None:
    if args.never_listen:
        print("warming up forever", flush=True)
        await asyncio.Event().wait()
    port = 0 if args.wrong_port else int(os.environ["PORT"])  # 0: any free one, never the one it was told
    served = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await one_request(reader, writer, args, served):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, os.environ.get("HOST", "127.0.0.1"), port)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


async def one_request(reader, writer, args, served) -> bool:  # noqa: ANN001 - a test fixture
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if int(headers.get("content-length", "0")):
        await reader.readexactly(int(headers["content-length"]))
    url = urlsplit(target)
    print(f"{method} {target}", flush=True)
    served[0] += 1
    keep = headers.get("connection", "").lower() != "close"
    if url.path == "/ws" and headers.get("upgrade", "").lower() == "websocket":
        await websocket(reader, writer, headers["sec-websocket-key"])
        return False
    if args.status != 200:
        await send(writer, args.status, "text/plain", b"failing on purpose\n", keep)
    elif url.path == "/stream":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(5):
            data = f"chunk {i}\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()
            await asyncio.sleep(0.2)  # the app's own pace: the client sees the chunks arrive one by one
        writer.write(b"0\r\n\r\n")
    elif url.path == "/whoami":
        await send(writer, 200, "text/plain", args.marker.encode(), keep)
    elif url.path == "/probe":
        await send(writer, 200, "application/json", json.dumps(await probe(parse_qs(url.query))).encode(), keep)
    elif url.path == "/":
        page = f"<!doctype html><title>{args.marker}</title><h1>Hello from {args.marker}</h1>"
        await send(writer, 200, "text/html; charset=utf-8", page.encode(), keep)
    else:
        await send(writer, 404, "text/plain", b"not found\n", keep)
    await writer.drain()
    if args.crash_after and served[0] >= args.crash_after:
        print(f"crashing after {served[0]} requests", flush=True)
        os._exit(7)
    return keep


async def send(writer, status: int, kind: str, body: bytes, keep: bool) -> None:  # noqa: ANN001
    reason = {200: "OK", 404: "Not Found"}.get(status, "Status")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def probe(query: dict[str, list[str]]) -> dict[str, str]:
    found = {}
    for target in query.get("connect", []):
        host, _, port = target.rpartition(":")
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
            w.write(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = await asyncio.wait_for(r.read(), 3)
            w.close()
            found[f"connect {target}"] = "reached: " + got.decode("latin-1")[-200:]
        except (TimeoutError, OSError) as e:
            found[f"connect {target}"] = f"failed: {type(e).__name__}: {e}"
    for path in query.get("read", []):
        try:
            with open(path, "rb") as f:
                found[f"read {path}"] = f"read {len(f.read())} bytes"
        except OSError as e:
            found[f"read {path}"] = f"failed: {e}"
    for url in query.get("fetch", []):
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # through HTTPS_PROXY: Honk's egress proxy
                found[f"fetch {url}"] = f"fetched {answer.status}"
        except OSError as e:
            found[f"fetch {url}"] = f"failed: {e}"
    for path in query.get("unix", []):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(3)
            where = os.open(os.path.dirname(path), os.O_PATH)  # however long the path: its directory's fd
            try:
                s.connect(f"/proc/self/fd/{where}/{os.path.basename(path)}")
            finally:
                os.close(where)
            found[f"unix {path}"] = "reached"
        except OSError as e:
            found[f"unix {path}"] = f"failed: {e}"
        finally:
            s.close()
    for what, result in found.items():
        print(f"probe {what}: {result}", flush=True)  # in the log, as a real server's errors would be
    return found


async def websocket(reader, writer, key: str) -> None:  # noqa: ANN001
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    writer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    await writer.drain()
    while True:
        first, second = await reader.readexactly(2)
        opcode, masked, size = first & 0x0F, second & 0x80, second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await reader.readexactly(8))
        mask = await reader.readexactly(4) if masked else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
        if opcode == 8:
            writer.write(frame(8, data[:2]))
            await writer.drain()
            return
        writer.write(frame(10 if opcode == 9 else opcode, data))  # ping: pong; text, binary: echoed
        await writer.drain()


def frame(opcode: int, data: bytes) -> bytes:
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        return head + bytes([len(data)]) + data
    if len(data) < 65536:
        return head + bytes([126]) + struct.pack("!H", len(data)) + data
    return head + bytes([127]) + struct.pack("!Q", len(data)) + data


if __name__ == "__main__":
    main()
