"""Running previews on a worker: each task's `[preview] start` server in its sandbox (`host`), its
install step cached per workspace (`install`), the split deployment's gateway (`gateway`), the web
server's way to connect to one (`endpoint`, which depends on nothing of the worker's), and the signed
links people open them with (`links`)."""
