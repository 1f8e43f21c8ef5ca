"""Prometheus metrics. The web server's `/metrics` answers from Honk's store (tasks by state, the
queue, agent cost) and its own requests (Slack ack latency); each worker's `/metrics` (on
HONK_METRICS_PORT) has what happens inside it (step durations, agent runs' cost, sandbox refusals).
Scrape the server and every worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from honk.domain import TaskState

if TYPE_CHECKING:
    pass

STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.slack_ack = Histogram(
            "honk_slack_ack_seconds",
            "Time to answer a Slack event or interaction (Slack retries after 3 s)",
            registry=self.registry,
            buckets=ACK_BUCKETS,
        )
        self.http = Histogram(
            "honk_http_request_seconds",
            "HTTP API and page latency",
            ["route", "method"],
            registry=self.registry,
            buckets=ACK_BUCKETS,
        )

    def watch_store(self, snapshot: StoreSnapshot) -> None:
        self.registry.register(snapshot)


class StoreSnapshot(Collector):
    """Reads the numbers at scrape time, so every server replica reports the same truth."""

    def __init__(self) -> None:
        self.by_state: dict[str, int] = {}
        self.cost_usd = 0.0

    async def refresh(self, by_state: dict[str, int], cost_usd: float) -> None:
        self.by_state, self.cost_usd = by_state, cost_usd

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily("honk_tasks", "Tasks by state", labels=["state"])
        for state in TaskState:
            tasks.add_metric([state.value], self.by_state.get(state.value, 0))
        yield tasks
        yield GaugeMetricFamily(
            "honk_queue_depth",
            "Tasks accepted and waiting for a worker to start them",
            value=self.by_state.get(TaskState.queued.value, 0),
        )
        yield CounterMetricFamily("honk_agent_cost_usd", "Agent cost of all tasks so far", value=self.cost_usd)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.steps = Histogram(
            "honk_step_seconds",
            "Duration of each task step on this worker",
            ["step", "outcome"],
            registry=self.registry,
            buckets=STEP_BUCKETS,
        )
        self.agent_cost = Counter(
            "honk_agent_run_cost_usd", "Cost of the agent runs on this worker", ["agent"], registry=self.registry
        )
        self.refusals = Counter("honk_sandbox_refusals", "What the sandbox refused", ["kind"], registry=self.registry)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
    """A worker's /metrics, in a thread of its own (prometheus_client's server)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry)
