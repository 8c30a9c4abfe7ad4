"""Bounded capture of a command's output: a chatty command cannot exhaust the job's memory."""

import threading
from typing import IO

#: The default bound: bytes kept of each stream.
MAX_OUTPUT = 1 << 20


class Capture(threading.Thread):
    """Reads a pipe to its end in a daemon thread, keeping at most ``limit`` bytes of it.

    It keeps the first and the last half of ``limit``, with a line at the cut
    that says how many bytes were dropped, and decodes them as UTF-8: a byte
    that is not UTF-8 becomes U+FFFD. :attr:`text` holds the result once the
    thread has ended.
    """

    def __init__(self, pipe: IO[bytes], limit: int = MAX_OUTPUT) -> None:
        super().__init__(name="capture", daemon=True)
        self.pipe, self.limit = pipe, limit
        #: What was kept, decoded; set when the pipe is read to its end.
        self.text = ""

    def run(self) -> None:
        """Read, keep the head and the tail, count what falls between."""
        with self.pipe:
            head, tail, keep, dropped = (
                self.pipe.read(self.limit - self.limit // 2),
                bytearray(),
                self.limit // 2,
                0,
            )
            for chunk in iter(lambda: self.pipe.read(1 << 16), b""):
                tail += chunk
                excess = len(tail) - keep
                if excess > 0:
                    dropped += excess
                    del tail[:excess]
        cut = (
            f"\n[... {dropped} bytes cut: the output passed max_output={self.limit} ...]\n" if dropped else ""
        )
        self.text = head.decode(errors="replace") + cut + tail.decode(errors="replace")
