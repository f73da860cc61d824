"""The console script's `run`, in a process of its own that a test can SIGKILL, without a fresh
interpreter's start.

A new interpreter spends 1.5-2.5 s of CPU importing the CDK before the connector reads a byte;
the kill-and-resume tests killed a dozen of them, paying that for nothing they look at. Here a
fork server (Python's `multiprocessing` "forkserver": a single-threaded process that imports
this module, and with it the connector, once; the tests that use it share one xdist worker,
see harness.FORK_SERVER) forks a child per run: its own process and stdout, killed with a real
SIGKILL, running the same `run()` the console script calls. test_cli.py holds a forked run to
the console script's output and exit codes, and proves the script itself.

Only the standard library and the connector are imported here: the fork server imports it.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

from source_openai_chat.run import run


def start(args: list[str]) -> tuple[BaseProcess, socket.socket]:
    """Start `source-openai-chat ARGS` forked from the server; return it and the read end of
    its stdout (which ends when the process does, killed or not). Its stderr is discarded."""
    ours, theirs = socket.socketpair()
    process = _context().Process(target=_console_script, args=(args, theirs), daemon=True)
    process.start()
    theirs.close()  # the child holds its own copy: EOF comes when the child is gone
    return process, ours


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _console_script(args: list[str], stdout: socket.socket) -> None:
    """In the child: stdout and stderr where a console script's would go, then what the script
    does (`sys.exit(run())`), with an exception ending as the CDK's excepthook ends it."""
    os.dup2(stdout.fileno(), 1)
    stdout.close()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        run(args)  # a finished run exits here (run.exit_without_teardown)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    else:
        code = 0
    sys.__stdout__.flush()  # type: ignore[union-attr]
    os._exit(code)
