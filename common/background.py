"""File work done in a thread while training goes on: on a GPU an epoch lasts ~1–2 s, and the end of
each would otherwise wait for matplotlib, the GIF encoder and the checkpoint's write."""

import threading
import time


class Worker:
    """One thread doing jobs by name while training goes on: the loss plot and the progress GIF (the
    drawing thread), the checkpoint (the saving thread). Only the newest job of each name waits (an
    older one still queued is dropped: a drawing is redone from the run's record anyway); a caller
    that must not lose a job waits for the previous one before submitting the next (the checkpoint).
    An error in the thread is raised in the caller's thread, at the next `submit`, at
    `raise_error` or at `close`."""

    def __init__(self, name):
        self.name = name
        self.pending, self.error, self.busy_seconds = {}, None, 0.0
        self.cond = threading.Condition()
        self.thread = None

    def submit(self, name, job):
        self.raise_error()
        with self.cond:
            self.pending[name] = job
            self.cond.notify()
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self.thread.start()

    def _work(self):
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                name, job = next(iter(self.pending.items()))
            started = time.perf_counter()
            try:
                if job is not None:
                    job()
            except Exception as e:  # noqa: BLE001 (handed to the caller's thread)
                self.error = self.error or e
            with self.cond:
                if self.pending.get(name) is job:
                    del self.pending[name]
                self.busy_seconds += time.perf_counter() - started
                self.cond.notify_all()
                if job is None:
                    return

    def wait(self):
        """Until every submitted job is done."""
        with self.cond:
            while self.pending:
                self.cond.wait()

    def raise_error(self):
        error, self.error = self.error, None
        if error is not None:
            raise error

    def close(self, quiet=False):
        """Finish the jobs, stop the thread, and raise what went wrong in it (unless `quiet`)."""
        if self.thread is not None:
            self.wait()
            with self.cond:
                self.pending[None] = None
                self.cond.notify()
            self.thread.join()
            self.thread = None
        if quiet:
            self.error = None
        self.raise_error()
