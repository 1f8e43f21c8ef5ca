"""The composition roots: where settings are read and the parts are built and wired — the worker
(`worker.py`), the web server (`server.py`), `honk up` (`up.py`), and the `honk` command (`main.py`).
Nothing below this layer reads the environment; components get their settings as arguments."""
