"""How supervisord starts some programs: `python -m deploy.program [options] -- COMMAND…`.

It prepares, then replaces itself with COMMAND (`exec`: supervisord's signals reach the
program itself):

- `--wait HOST:PORT`: until that port accepts connections (the web process migrates the
  account database at start-up, so it waits for PostgreSQL), 120 s at most;
- `--clear-nginx-on PORT`: nginx's workers outlive a master killed with SIGKILL, and keep
  the listening sockets, so a new nginx could not bind them. The processes named nginx
  that hold a listening socket on PORT are asked to finish (SIGQUIT: their requests in
  progress end normally), then killed after 10 s. No other process is touched.
- `--pid-file PATH`: the children of a program killed with SIGKILL outlive it (the web
  process's inspection workers). supervisord starts each program in a process group of
  its own, named by its pid, which this file keeps: if the program recorded there is
  gone, what is left of its group is stopped. Linux never gives a new process the number
  of a group that still exists, so nothing else can be in that group.

Standard library only: it runs before each start.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path

WAIT_SECONDS = 120
QUIT_SECONDS = 10
LISTEN = "0A"  # the TCP state in /proc/net/tcp


def wait_for(address: str, timeout: float = WAIT_SECONDS) -> bool:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def tcp_sockets(port: int) -> list[tuple[str, str]]:
    """(state, inode) of each TCP socket whose local port is `port`, from /proc/net/tcp*."""
    sockets = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                sockets.append((fields[3], fields[9]))
    return sockets


def listening_inodes(port: int) -> set[str]:
    return {inode for state, inode in tcp_sockets(port) if state == LISTEN}


def holders(inodes: set[str], name: str = "nginx") -> set[int]:
    """The processes called `name` that hold one of these sockets."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
            for descriptor in (entry / "fd").iterdir():
                if os.readlink(descriptor) in wanted:
                    found.add(int(entry.name))
                    break
        except OSError:
            continue
    return found


def clear_nginx(ports: list[int]) -> None:
    inodes = set().union(*(listening_inodes(port) for port in ports)) if ports else set()
    stale = holders(inodes) if inodes else set()
    if not stale:
        return
    print(f"stopping nginx processes left by a killed master: {sorted(stale)}", flush=True)
    for pid in stale:
        _signal(pid, signal.SIGQUIT)
    deadline = time.monotonic() + QUIT_SECONDS
    while time.monotonic() < deadline and any(_alive(pid) for pid in stale):
        time.sleep(0.2)
    for pid in stale:
        _signal(pid, signal.SIGKILL)


def clear_group(pid_file: Path) -> None:
    """Stop what is left of the process group of the program recorded in `pid_file`, if
    that program is gone; then record this process (its pid survives `exec`)."""
    try:
        previous = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        previous = 0
    if previous and previous != os.getpid() and not _alive(previous):
        for number in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(previous, number)
            except (ProcessLookupError, PermissionError):
                break
            print(f"stopping what was left of process group {previous}", flush=True)
            time.sleep(2)
    pid_file.write_text(f"{os.getpid()}\n")


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.program")
    parser.add_argument("--wait", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--clear-nginx-on", action="append", type=int, default=[])
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")
    clear_nginx(args.clear_nginx_on)
    if args.pid_file is not None:
        clear_group(args.pid_file)
    for address in args.wait:
        if not wait_for(address):
            print(f"{address} does not answer after {WAIT_SECONDS} s; starting anyway", flush=True)
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
