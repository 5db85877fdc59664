"""A small process that starts each measured command, so each command's peak RSS is its own.

Linux records a process's peak RSS across ``exec``: a child forked (or vforked) from the benchmark driver, which
has boto3 loaded, would start with the driver's ~90 MiB as its peak. This launcher imports nothing heavy, so the
floor it hands down is a few MiB. It reads one JSON request a line on stdin (argv, env, stdout path, timeout),
runs it, and answers one JSON line: wall seconds, CPU seconds (user + system), peak RSS in KiB (from ``wait4``,
the command's own), exit code and the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

_running: list[int] = []  # the process group of the command being measured, if any


def _stop(signum: int, _frame: object) -> None:
    """Stopped by the driver (interrupted or terminated): take the measured command's whole group down too."""
    for group in _running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    sys.exit(128 + signum)


def run(request: dict[str, object]) -> dict[str, object]:
    stdout_path = request.get("stdout")
    timeout = float(request["timeout"])  # type: ignore[arg-type]
    with tempfile.TemporaryFile() as errors:
        out = open(str(stdout_path), "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            started = time.perf_counter()
            try:
                process = subprocess.Popen(
                    request["argv"],  # type: ignore[arg-type]
                    env=request["env"],  # type: ignore[arg-type]
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=errors,
                    start_new_session=True,  # its own group: a timeout kills everything it started
                )
            except OSError as exc:
                return {
                    "seconds": 0.0,
                    "cpu": 0.0,
                    "maxrss_kib": 0,
                    "code": 127,
                    "stderr": str(exc),
                    "timed_out": False,
                }
            _running.append(process.pid)
            timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
                _running.remove(process.pid)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_path:
                out.close()  # type: ignore[union-attr]
        errors.seek(0)
        tail = errors.read()[-800:].decode(errors="replace").strip()
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_kib": usage.ru_maxrss,
        "code": process.returncode,
        "stderr": tail,
        "timed_out": seconds >= timeout,
    }


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the driver, which then stops this process
    for line in sys.stdin:
        sys.stdout.write(json.dumps(run(json.loads(line))) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
