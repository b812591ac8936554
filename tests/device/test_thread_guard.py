"""The guard that keeps a leaked thread from hanging pytest at exit (``thread_guard``)."""

from __future__ import annotations

import threading

from .thread_guard import described, lingering


def test_a_thread_left_running_is_found_by_name_and_one_that_ended_is_not() -> None:
    before = set(threading.enumerate())
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="split-main")
    stuck.start()
    try:
        left = lingering(before, grace_s=0.01)
        assert left == [stuck] and described(left) == "split-main"
    finally:
        release.set()
        stuck.join()
    assert lingering(before, grace_s=0.01) == []


def test_daemon_threads_and_thread_pool_workers_do_not_hang_an_exit() -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = set(threading.enumerate())
    release = threading.Event()
    daemon = threading.Thread(target=release.wait, daemon=True)
    daemon.start()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: None).result()
        try:
            assert lingering(before, grace_s=0.01) == []
        finally:
            release.set()
            daemon.join()
