"""The worker's own cost: CPU its service threads run, counted by thread name."""

import threading
import time

from ladder_worker import probe


def burn(cpu_s: float) -> None:
    t0 = time.thread_time()
    while time.thread_time() - t0 < cpu_s:
        pass


def test_counts_the_cpu_of_threads_named_as_the_workers_service_threads_only():
    before = probe.service_cpu_s()
    assert before is not None and before >= 0
    burned, done = threading.Event(), threading.Event()

    def serve():  # a thread is counted while it lives: this one waits until it has been read
        probe.name_this_thread("ladder-io")
        burn(0.3)
        burned.set()
        done.wait()

    def compute():
        probe.name_this_thread("compute")
        burn(0.3)

    threads = [threading.Thread(target=serve), threading.Thread(target=compute)]
    for t in threads:
        t.start()
    threads[1].join()
    assert burned.wait(30)
    spent = probe.service_cpu_s() - before
    done.set()
    threads[0].join()
    # The service thread's 0.3 s, not the compute thread's.
    assert 0.29 <= spent < 0.45, spent
