"""The worker's side of the socket.

One I/O thread owns the ZeroMQ DEALER socket (sockets are not thread-safe). It sends heartbeats
every interval even while the main thread computes, forwards jobs to the main thread through an
inproc pair, and ends the process when the controller has been silent for too long.

On 2 cores every wake of this thread takes a core from a compute thread, so it wakes only when
something is due: a message, its next heartbeat, or the controller's deadline. A heartbeat from the
controller is answered in the same wake when ours is due within half an interval, so the two sides'
beats fall together (about one wake a second instead of three).
"""

import os
import threading
import time

import zmq

from . import probe, protocol


class Channel:
    def __init__(self, endpoint: str, controller_timeout_s: float):
        self.ctx = zmq.Context.instance()
        self._pipe_addr = f"inproc://ladder-pipe-{id(self)}"
        self._main = self.ctx.socket(zmq.PAIR)  # main thread's end
        self._main.bind(self._pipe_addr)
        self._endpoint = endpoint
        self._timeout = controller_timeout_s
        self._busy = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._io_loop, name="ladder-io", daemon=True)
        self._thread.start()
        self._ready.wait()

    def set_busy(self, what: str | None) -> None:
        self._busy = what

    def send(self, msg: dict) -> None:
        self._main.send(protocol.encode(msg, "worker"))

    def recv(self) -> dict:
        return protocol.decode(self._main.recv(), "controller")

    def close(self) -> None:
        """Wait until the I/O thread has passed on the last message (it stops after 'bye')."""
        self._thread.join(timeout=5)

    def _io_loop(self) -> None:
        probe.name_this_thread("ladder-io")  # probe.service_cpu_s counts what it runs during passes
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 2000)
        dealer.connect(self._endpoint)
        pipe = self.ctx.socket(zmq.PAIR)
        pipe.connect(self._pipe_addr)
        self._ready.set()
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(pipe, zmq.POLLIN)
        interval = protocol.HEARTBEAT_INTERVAL_S
        last_heard = last_beat = time.monotonic()
        while True:
            due = min(last_beat + interval, last_heard + self._timeout)
            events = dict(poller.poll(timeout=max(0.0, due - time.monotonic()) * 1000 + 1))
            now = time.monotonic()
            if pipe in events:
                data = pipe.recv()
                dealer.send(data)
                last_beat = now
                if protocol.decode(data, "worker")["type"] == "bye":
                    dealer.close()  # LINGER lets the bye reach the controller before we exit
                    return
            if dealer in events:
                data = dealer.recv()
                last_heard = now
                try:
                    kind = protocol.decode(data, "controller")["type"]
                except protocol.ProtocolError as exc:
                    # A controller speaking another protocol version: fail loudly, never guess.
                    os.write(2, f"ladder worker: protocol error: {exc}\n".encode())
                    os._exit(4)
                if kind != "heartbeat":
                    pipe.send(data)
            # Beat now if due, or soon and we are awake anyway for the controller's beat.
            if now - last_beat >= (interval / 2 if dealer in events else interval):
                dealer.send(protocol.encode(protocol.message("heartbeat", busy=self._busy)))
                last_beat = now
            if now - last_heard > self._timeout:
                # The controller is gone: nobody will read our results, so stop burning the CPU.
                os.write(2, b"ladder worker: controller silent, exiting\n")
                os._exit(3)
