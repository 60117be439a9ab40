"""The console lines of `make prod` (supervisord's `watch` program): when the assistant
is ready, and when a Rasa replica, the action server or the web process stops or starts
answering again. Standard library only; prints no token.

A replica answers when its `/status` gives a loaded model; the action server and the web
process when their port accepts a connection (their logs stay free of probes).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request
from urllib.parse import urlencode

INTERVAL = 2.0
FAILURES = 3  # probes failed in a row before a process is said to have stopped answering


def answers(target: str, token: str | None = None) -> bool:
    if token is None:
        try:
            with socket.create_connection(("127.0.0.1", int(target)), timeout=5):
                return True
        except OSError:
            return False
    try:
        url = target + "?" + urlencode({"token": token})
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(json.load(response).get("model_id"))
    except (OSError, ValueError):
        return False


def main() -> int:
    env = os.environ
    public = env["WATCH_PUBLIC_URL"]
    token = env["RASA_TOKEN"]
    probes: dict[str, tuple[str, str | None]] = {
        name: (f"http://127.0.0.1:{port}/status", token)
        for name, port in (item.split("=") for item in env["WATCH_REPLICAS"].split(","))
    }
    probes["actions"] = (env["ACTIONS_PORT"], None)
    probes["web"] = (env["WEB_PORT"], None)
    seen: dict[str, bool] = {}
    failures = dict.fromkeys(probes, 0)
    ever: set[str] = set()
    announced = False
    while True:
        for name, (target, secret) in probes.items():
            up = answers(target, secret)
            failures[name] = 0 if up else failures[name] + 1
            if not up and name in ever and failures[name] < FAILURES:
                continue  # a busy machine answers late once in a while
            if announced and seen[name] != up:
                news = (
                    ("answers again" if name in ever else "answers") if up else "stopped answering"
                )
                print(f"{name} {news}", flush=True)
            seen[name] = up
            if up:
                ever.add(name)
        replicas = [name for name in probes if name.startswith("rasa") and seen[name]]
        if not announced and replicas and seen["actions"] and seen["web"]:
            print(
                f"Assistant ready: open {public}/ ({len(replicas)} of "
                f"{len(probes) - 2} Rasa replicas answer; logs in {env['WATCH_LOG_DIR']})",
                flush=True,
            )
            announced = True
        time.sleep(INTERVAL)


if __name__ == "__main__":
    sys.exit(main())
