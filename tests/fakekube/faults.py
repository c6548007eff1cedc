"""Fault injection: errors, dropped connections, cut streams and latency per route."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One rule. Unset match fields match anything.

    Firing: the first ``skip`` matching requests pass untouched; then ``count`` fires on
    the next N; else ``rate`` fires with that probability (seeded RNG); else every one.
    """

    verb: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    status: int | None = None  # 500, 503, 429, ...
    retry_after: int | None = None  # seconds, sent with 429/503
    message: str | None = None
    drop: bool = False  # close the connection without a response
    lose_response: bool = False  # carry the request out, then close before answering
    cut_after: int | None = None  # streams: end after this many lines/events
    latency: float = 0.0  # real seconds added before answering
    # Held: the request waits (after any latency) until the test sets this event, so a
    # client can be observed while it is stuck at that step.
    gate: threading.Event | None = None
    rate: float | None = None
    count: int | None = None
    skip: int = 0
    matched: int = 0
    fired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matches(
        self, verb: str, resource: str, subresource: str, namespace: str, name: str
    ) -> bool:
        if self.verb is not None and self.verb != verb:
            return False
        if self.resource is not None and self.resource != resource:
            return False
        if self.subresource is not None and self.subresource != subresource:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return self.name is None or self.name == name


@dataclass
class FaultDecision:
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    drop: bool = False
    lose_response: bool = False
    cut_after: int | None = None
    latency: float = 0.0
    gates: list[threading.Event] = field(default_factory=list)


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._rng = random.Random(seed)

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        message: str | None = None,
        drop: bool = False,
        lose_response: bool = False,
        cut_after: int | None = None,
        latency: float = 0.0,
        gate: threading.Event | None = None,
        rate: float | None = None,
        count: int | None = None,
        skip: int = 0,
    ) -> Fault:
        if resource and "/" in resource and subresource is None:
            resource, subresource = resource.split("/", 1)
        if status == 429 and retry_after is None:
            retry_after = 1
        rule = Fault(
            verb=verb,
            resource=resource,
            subresource=subresource,
            namespace=namespace,
            name=name,
            status=status,
            retry_after=retry_after,
            message=message,
            drop=drop,
            lose_response=lose_response,
            cut_after=cut_after,
            latency=latency,
            gate=gate,
            rate=rate,
            count=count,
            skip=skip,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: Fault) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def decide(
        self, verb: str, resource: str, subresource: str, namespace: str, name: str
    ) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(verb, resource, subresource, namespace, name):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.count is not None:
                    fires = rule.fired < rule.count
                elif rule.rate is not None:
                    fires = self._rng.random() < rule.rate
                else:
                    fires = True
                if not fires:
                    continue
                rule.fired += 1
                decision.latency += rule.latency
                if rule.gate is not None:
                    decision.gates.append(rule.gate)
                if rule.drop and not decision.drop and decision.status is None:
                    decision.drop = True
                if rule.lose_response:
                    decision.lose_response = True
                if rule.status is not None and decision.status is None and not decision.drop:
                    decision.status = rule.status
                    decision.retry_after = rule.retry_after
                    decision.message = rule.message
                if rule.cut_after is not None and decision.cut_after is None:
                    decision.cut_after = rule.cut_after
        return decision
