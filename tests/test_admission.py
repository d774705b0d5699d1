"""Admission control: a bounded queue, worker slots and a memory budget."""

from __future__ import annotations

import asyncio

import pytest

from proxy.admission import Admission
from proxy.errors import ServiceUnavailable
from proxy.metrics import Metrics


def gate(slots: int = 2, max_queue: int = 4, budget: int = 100, wait: float = 1.0) -> Admission:
    return Admission(
        slots=slots, max_queue=max_queue, budget_bytes=budget, wait_seconds=wait, metrics=Metrics()
    )


async def hold(
    admission: Admission, cost: int, release: asyncio.Event, log: list[str], name: str
) -> None:
    async with admission.admit(cost):
        log.append(f"start {name}")
        await release.wait()
        log.append(f"end {name}")


async def test_renders_beyond_the_slots_wait_their_turn() -> None:
    admission = gate(slots=1)
    release = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(hold(admission, 10, release, log, "a"))
    second = asyncio.create_task(hold(admission, 10, release, log, "b"))
    await asyncio.sleep(0.05)

    assert log == ["start a"]
    assert admission.waiting == 1
    release.set()
    await asyncio.gather(first, second)
    assert log == ["start a", "end a", "start b", "end b"]


async def test_a_full_queue_is_an_immediate_503_with_retry_after() -> None:
    admission = gate(slots=1, max_queue=1)
    release = asyncio.Event()
    running = asyncio.create_task(hold(admission, 10, release, [], "running"))
    queued = asyncio.create_task(hold(admission, 10, release, [], "queued"))
    await asyncio.sleep(0.05)

    with pytest.raises(ServiceUnavailable) as refused:
        async with admission.admit(10):
            pass  # pragma: no cover

    assert refused.value.headers()["Retry-After"]
    release.set()
    await asyncio.gather(running, queued)


async def test_the_memory_budget_holds_back_renders_that_do_not_fit() -> None:
    admission = gate(slots=4, budget=100)
    release = asyncio.Event()
    log: list[str] = []
    big = asyncio.create_task(hold(admission, 70, release, log, "big"))
    await asyncio.sleep(0.02)
    other = asyncio.create_task(hold(admission, 40, release, log, "other"))
    small = asyncio.create_task(hold(admission, 30, release, log, "small"))
    await asyncio.sleep(0.05)

    assert log == ["start big", "start small"]
    assert admission.used == 100
    release.set()
    await asyncio.gather(big, other, small)
    assert admission.used == 0


async def test_a_render_bigger_than_the_budget_runs_alone() -> None:
    admission = gate(slots=4, budget=100)
    release = asyncio.Event()
    log: list[str] = []
    small = asyncio.create_task(hold(admission, 10, release, log, "small"))
    await asyncio.sleep(0.02)
    huge = asyncio.create_task(hold(admission, 500, release, log, "huge"))
    await asyncio.sleep(0.05)
    assert log == ["start small"]

    release.set()
    await asyncio.gather(small, huge)
    assert log == ["start small", "end small", "start huge", "end huge"]


async def test_waiting_longer_than_the_deadline_is_a_503() -> None:
    admission = gate(slots=1, wait=0.1)
    release = asyncio.Event()
    running = asyncio.create_task(hold(admission, 10, release, [], "running"))
    await asyncio.sleep(0.02)

    with pytest.raises(ServiceUnavailable):
        async with admission.admit(10):
            pass  # pragma: no cover

    assert admission.waiting == 0
    release.set()
    await running
