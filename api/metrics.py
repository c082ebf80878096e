"""Prometheus metrics of one process (``GET /metrics``).

Requests by route and status, request latency, answer latency per pipeline stage,
answers by generator and market, escalations by reason, queue and market. Each app has
its own registry so tests (and several apps in one process) never share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from agent.schema import Reply

_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("polydesk_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram("polydesk_http_request_seconds", "HTTP request latency by route",
                                         ["method", "route"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.stage_seconds = Histogram("polydesk_answer_stage_seconds", "answer pipeline latency per stage",
                                       ["stage"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("polydesk_answers", "answers by generator, status and market",
                               ["generator", "status", "market"], registry=self.registry)
        self.escalations = Counter("polydesk_escalations", "handoffs to humans by reason, queue and market",
                                   ["reason", "queue", "market"], registry=self.registry)
        self.overloaded = Counter("polydesk_overloaded_requests",
                                  "answer requests that could not start within the queue budget",
                                  registry=self.registry)
        self.degraded = Counter("polydesk_degraded_replies",
                                "messages kept for later: a dependency was down, or the service overloaded",
                                ["market"], registry=self.registry)

    def observe_reply(self, reply: Reply, *, market: str) -> None:
        self.answers.labels(reply.generator.split(":")[0], reply.status, market).inc()
        for stage, ms in reply.timings_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)
        escalation = reply.escalation
        if escalation.escalate and reply.status == "answered":  # counted once: when the handoff is decided
            self.escalations.labels(escalation.reason or "unknown", escalation.queue or "none", market).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
