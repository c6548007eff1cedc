"""Shared fixtures: ``fakekube`` gives each test a fresh fake API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakekube import FakeKube


@pytest.fixture
def fakekube() -> Iterator[FakeKube]:
    """A fresh fake kube-apiserver (speed 20; set ``fakekube.speed`` to change it)."""
    fk = FakeKube(speed=20.0)
    try:
        yield fk
    finally:
        fk.stop()


@pytest.fixture
def cluster(fakekube: FakeKube) -> FakeKube:
    """The fake server set up the way nfk8s's README asks an admin to (runner SA, work PVC)."""
    from tests.support import provision

    provision(fakekube)
    return fakekube
