"""Fixtures for the Nextflow simulator tests: a fresh in-memory cluster per test."""

from __future__ import annotations

import pytest

from tests.fakekube import nextflow_sim
from tests.sim_tests.fakes import ManualClock, Store


@pytest.fixture(autouse=True)
def _fresh_results() -> None:
    nextflow_sim.reset()


@pytest.fixture
def store() -> Store:
    return Store(ManualClock())
