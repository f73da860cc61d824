"""Ctrl-C (SIGINT) and SIGTERM end a run at once: exit 130 / 143, one plain line on stderr.

Why: the CDK's concurrent read blocks the main thread on its queue while non-daemon worker
threads make the requests. A KeyboardInterrupt raised there printed a traceback from the queue,
and the interpreter then waited for the workers (retrying, or waiting out a rate limit), so
the process never ended. Unwinding the engine cleanly from a signal handler is not something
the CDK offers; a read needs no cleanup of its own either: what the platform (or a person)
needs is every complete line printed so far, ending with the last STATE message, which is
where the next run resumes. So the handler hands over to a thread that prints the lines
already queued for stdout, writes one line on stderr and ends the process with `os._exit`:
no request is started after that, and every thread ends with the process.

Every stdout write goes through the CDK's `PRINT_BUFFER`, whole lines at a time under its
lock (run.py prints each message in one write): holding that lock while exiting means no line
is cut in half, even if another thread was flushing when the signal came.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType

from airbyte_cdk.entrypoint import PRINT_BUFFER

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as shells report
# How long to wait for a write already under way (a reader that stopped reading would block
# it forever): past this the process ends without printing what is still queued.
FLUSH_WAIT_SECONDS = 1.0


def exit_on_signals(reading: bool) -> None:
    """From now on SIGINT and SIGTERM end the process (call from the main thread)."""
    ending = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        # In the main thread, between two bytecodes of whatever it was doing (perhaps a write
        # under the print lock): the exit happens in a thread of its own, after that write.
        if not ending.is_set():
            ending.set()
            threading.Thread(
                target=_exit, args=(signum, reading), name="interrupted", daemon=True
            ).start()

    for signum in EXIT_CODES:
        signal.signal(signum, handle)


def interrupted_message(signum: int, reading: bool) -> str:
    name = signal.Signals(signum).name
    if not reading:
        return f"source-openai-chat: interrupted by {name}.\n"
    return (
        f"source-openai-chat: interrupted by {name}; the read stopped. The last STATE message "
        "it printed is where the next run resumes.\n"
    )


def _exit(signum: int, reading: bool) -> None:
    if PRINT_BUFFER.lock.acquire(timeout=FLUSH_WAIT_SECONDS):
        with contextlib.suppress(OSError):  # stdout closed by its reader: nothing reaches it
            PRINT_BUFFER.flush()
    # Straight to the file descriptor: during a run the CDK points sys.stderr at stdout.
    os.write(2, interrupted_message(signum, reading).encode())
    os._exit(EXIT_CODES[signal.Signals(signum)])
