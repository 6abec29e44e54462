"""The readers-writer lock: readers share, a writer is alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from matcher.rwlock import ReadWriteLock


def test_readers_share_the_lock() -> None:
    lock = ReadWriteLock()
    inside = threading.Barrier(3, timeout=5)

    def reader() -> None:
        with lock.read():
            inside.wait()  # all three readers are inside at once, or this times out

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    with lock.read():
        inside.wait()
    for t in threads:
        t.join()


def test_writer_excludes_readers_and_writers() -> None:
    lock = ReadWriteLock()
    state = {"writers": 0, "readers": 0}
    violations: list[str] = []
    guard = threading.Lock()

    def writer() -> None:
        for _ in range(200):
            with lock.write():
                with guard:
                    state["writers"] += 1
                    if state["writers"] != 1 or state["readers"]:
                        violations.append(f"writer with {state}")
                time.sleep(0)
                with guard:
                    state["writers"] -= 1

    def reader() -> None:
        for _ in range(400):
            with lock.read():
                with guard:
                    state["readers"] += 1
                    if state["writers"]:
                        violations.append(f"reader with {state}")
                time.sleep(0)
                with guard:
                    state["readers"] -= 1

    threads = [threading.Thread(target=f) for f in (writer, writer, reader, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not violations, violations[:3]


def test_waiting_writer_is_not_starved_by_new_readers() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    first_reader_in = threading.Event()
    release_first = threading.Event()

    def long_reader() -> None:
        with lock.read():
            first_reader_in.set()
            release_first.wait(5)
        order.append("reader-1 out")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        with lock.read():
            order.append("reader-2")

    r1 = threading.Thread(target=long_reader)
    r1.start()
    first_reader_in.wait(5)
    w = threading.Thread(target=writer)
    w.start()
    _wait_until(lambda: lock._writers_waiting == 1)
    r2 = threading.Thread(target=late_reader)
    r2.start()
    _wait_until(lambda: r2.is_alive())
    time.sleep(0.05)  # give the late reader every chance to (wrongly) overtake the writer
    release_first.set()
    for t in (r1, w, r2):
        t.join(5)
    assert order.index("writer") < order.index("reader-2")


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)
