"""Which process holds the server end of a TCP connection, read from Linux's /proc.

Several daphne processes accept on one shared socket (realtime_site/serve.py), so nothing in
an answer says which one took a connection. The kernel knows: /proc/net/tcp lists each
connection's local and remote port with its socket inode, and /proc/<pid>/fd links name the
inodes a process holds. Used by tests/fleet/test_serve.py and bench/fleet.py; IPv4 only.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

ESTABLISHED = "01"


def _connections(server_port: int) -> dict[int, str]:
    """{remote (client) port: socket inode} of the established connections to server_port."""
    found = {}
    with open("/proc/net/tcp") as table:
        next(table)  # header
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == ESTABLISHED and int(local.split(":")[1], 16) == server_port:
                found[int(remote.split(":")[1], 16)] = inode
    return found


def _inodes(pid: int) -> set[str]:
    held = set()
    folder = f"/proc/{pid}/fd"
    for name in os.listdir(folder):
        try:
            target = os.readlink(f"{folder}/{name}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held


def owners(server_port: int, client_ports: Iterable[int], pids: Iterable[int]
           ) -> dict[int, int | None]:
    """{client port: pid of the process holding the server end, or None}."""
    connections = _connections(server_port)
    held = {pid: _inodes(pid) for pid in pids}
    result = {}
    for port in client_ports:
        inode = connections.get(port)
        result[port] = next((pid for pid, inodes in held.items() if inode in inodes), None)
    return result


def per_process(server_port: int, pids: Iterable[int]) -> Counter:
    """{pid: established connections to server_port it holds}."""
    inodes = set(_connections(server_port).values())
    return Counter({pid: len(inodes & _inodes(pid)) for pid in pids})


def children(pid: int) -> list[int]:
    """The direct children of pid (Linux's /proc/<pid>/task/<tid>/children, all threads)."""
    found: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as text:
            found.extend(int(p) for p in text.read().split())
    return sorted(found)
