"""Side-by-side timing of HTTP endpoints on loopback: the same run measures the candidate and
its baseline, interleaved request by request, so that a noisy, shared machine slows both alike.

One keep-alive connection per endpoint, requests sent one at a time. A round sends one
request to each endpoint in turn (the order rotating from one turn to the next), rather
than a batch to each: on a shared machine whose load swings within seconds, batches of
seconds per endpoint put whole batches in a quiet or a busy spell (per-round page ratios
of 0.6 to 2.3 were seen); turns expose every endpoint to the same spells. Every loop is
bounded both in requests and in seconds.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Endpoint:
    """One request to time; `url` gives the server (so endpoints may be on different ones)."""

    label: str
    url: str
    method: str = "GET"
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    expect_status: int = 200


@dataclass(frozen=True)
class Settings:
    """How much to measure. With the defaults, two endpoints of ~3 ms take ~25 s, 80 s at most."""

    rounds: int = 11
    requests: int = 300  # per endpoint and round, unless `seconds` runs out first
    seconds: float = 3.0  # cap per endpoint and round
    warmup_requests: int = 50  # per endpoint, before any timing
    warmup_seconds: float = 5.0


@dataclass
class Timings:
    """One endpoint's figures: every request's latency, round by round."""

    endpoint: Endpoint
    round_latencies: list[list[float]] = field(default_factory=list)  # seconds, per round

    @property
    def throughputs(self) -> list[float]:
        """Per round: requests per second of time spent waiting on this endpoint."""
        return [len(one_round) / sum(one_round) for one_round in self.round_latencies]

    @property
    def latencies(self) -> list[float]:
        return [latency for one_round in self.round_latencies for latency in one_round]

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def median_throughput(self) -> float:
        return statistics.median(self.throughputs)

    @property
    def median_latency(self) -> float:
        return statistics.median(self.latencies)


Measure = Literal["throughput", "latency"]


@dataclass
class Comparison:
    """The timings of endpoints measured side by side, round by round."""

    timings: dict[str, Timings]
    seconds: float  # wall time of the measurement, warm-up included

    def ratios(self, candidate: str, baseline: str, of: Measure = "throughput") -> list[float]:
        """Per-round ratios candidate / baseline, each pairing two endpoints' share of a round.

        `of="latency"` compares the rounds' median latencies instead of throughputs.
        """
        a, b = self.timings[candidate], self.timings[baseline]
        if of == "throughput":
            pairs = zip(a.throughputs, b.throughputs, strict=True)
        else:
            pairs = zip(
                map(statistics.median, a.round_latencies),
                map(statistics.median, b.round_latencies),
                strict=True,
            )
        return [x / y for x, y in pairs]

    def ratio(self, candidate: str, baseline: str, of: Measure = "throughput") -> float:
        """Median of the per-round ratios: robust to a round that noise hit on one side."""
        return statistics.median(self.ratios(candidate, baseline, of))


class Client:
    """A keep-alive HTTP/1.1 connection that reopens if the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"benchmarks send traffic to loopback only, not {parts.hostname}")
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")

    def send(self, endpoint: Endpoint) -> bytes:
        status, _, body = self.fetch(endpoint.method, body=endpoint.body, headers=endpoint.headers)
        if status != endpoint.expect_status:
            raise RuntimeError(
                f"{endpoint.label}: {endpoint.method} {endpoint.url} answered "
                f"{status}, expected {endpoint.expect_status}: {body[:300]!r}"
            )
        return body

    def fetch(
        self,
        method: str = "GET",
        path: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] = {},
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request on this connection, to `path` on the same server (default: the
        client's URL); the status, headers and whole body of the answer."""
        self._connection.request(method, path or self._target, body=body, headers=dict(headers))
        response = self._connection.getresponse()
        content = response.read()  # the whole body: the client has waited for all of it
        if response.will_close:
            self._connection.close()  # http.client reconnects on the next request
        return response.status, response.headers, content

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_once(endpoint: Endpoint) -> bytes:
    """One request on a connection of its own (e.g. to check an answer before timing)."""
    with Client(endpoint.url) as client:
        return client.send(endpoint)


def compare(
    endpoints: Sequence[Endpoint],
    settings: Settings = Settings(),
    progress: Callable[[str], None] = lambda _: None,
) -> Comparison:
    """A warm-up, then `settings.rounds` rounds of turns; a round ends after
    `settings.requests` turns or `settings.seconds` per endpoint, whichever comes first."""
    labels = [e.label for e in endpoints]
    if len(set(labels)) != len(labels):
        raise ValueError(f"endpoint labels must differ: {labels}")
    started = time.perf_counter()
    clients = {e.label: Client(e.url) for e in endpoints}
    timings = {e.label: Timings(e) for e in endpoints}
    n = len(endpoints)
    clock = time.perf_counter

    def turns(count: int, seconds: float) -> dict[str, list[float]]:
        latencies: dict[str, list[float]] = {label: [] for label in labels}
        deadline = clock() + seconds * n
        for turn in range(count):
            for endpoint in (*endpoints[turn % n :], *endpoints[: turn % n]):
                start = clock()
                clients[endpoint.label].send(endpoint)
                latencies[endpoint.label].append(clock() - start)
            if clock() >= deadline:
                break
        return latencies

    try:
        turns(settings.warmup_requests, settings.warmup_seconds)
        for r in range(settings.rounds):
            for label, latencies in turns(settings.requests, settings.seconds).items():
                timings[label].round_latencies.append(latencies)
            progress(
                f"round {r + 1}/{settings.rounds}: "
                + ", ".join(
                    f"{t.endpoint.label} {t.throughputs[-1]:.0f}/s" for t in timings.values()
                )
            )
    finally:
        for client in clients.values():
            client.close()
    return Comparison(timings, time.perf_counter() - started)
