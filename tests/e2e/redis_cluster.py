"""The shared test Redis Cluster (scripts/test.sh's cluster pass) seen from a failover test:
which primary owns a key, its replica, and kill -9 / SIGSTOP / restart of one node."""

import os
import pathlib
import signal
import subprocess


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", *args], capture_output=True, text=True, timeout=10)
    return out.stdout


def replica_cli(port, *args):
    """One read on a replica (after READONLY on the same connection); its reply's text."""
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw"], input=f"READONLY\n{' '.join(args)}\n",
                         capture_output=True, text=True, timeout=10)
    return out.stdout.splitlines()[-1] if out.stdout else ""


class Node:
    def __init__(self, node_id, port, role, primary_id, slots):
        self.id, self.port, self.role, self.primary_id, self.slots = node_id, port, role, primary_id, slots

    def pid(self):
        info = cli(self.port, "INFO", "server")
        return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("process_id:")))


class Cluster:
    def __init__(self, stack):
        self.stack = stack
        self.restarted = []

    def nodes(self):
        """CLUSTER NODES as the first node that answers sees it (failed nodes left out)."""
        for port in self.stack.redis_ports:
            text = cli(port, "CLUSTER", "NODES")
            if text.strip():
                break
        nodes = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 8 or "fail" in fields[2] or "disconnected" in fields[7]:
                continue
            role = "primary" if "master" in fields[2] else "replica"
            slots = []
            for part in fields[8:]:
                if part[0].isdigit():
                    bounds = [int(b) for b in part.split("-")]
                    slots.append(range(bounds[0], bounds[-1] + 1))
            nodes.append(Node(fields[0], int(fields[1].split("@")[0].rsplit(":", 1)[1]), role, fields[3], slots))
        return nodes

    def slot(self, key):
        return int(cli(self.stack.redis_ports[0], "CLUSTER", "KEYSLOT", key))

    def primary_of(self, key):
        slot = self.slot(key)
        return next(n for n in self.nodes() if n.role == "primary" and any(slot in r for r in n.slots))

    def replica_of(self, primary):
        return next(n for n in self.nodes() if n.role == "replica" and n.primary_id == primary.id)

    def kill(self, node):
        """kill -9; answers the node's redis.conf (scripts/lib.sh starts each node from one in its
        directory), to start it again with."""
        config = pathlib.Path(cli(node.port, "CONFIG", "GET", "dir").split("\n")[1]) / "redis.conf"
        os.kill(node.pid(), signal.SIGKILL)
        return config

    def restart(self, name, config):
        """Starts a killed node again as a process of the stack (stopped with it); it rejoins as a
        replica of the node that took over its slots."""
        log = open(self.stack.state / f"{name}.log", "ab")
        self.stack.procs[name] = subprocess.Popen(["redis-server", str(config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def healthy(self):
        """3 primaries, each with a connected replica, and every node says cluster_state:ok."""
        nodes = self.nodes()
        primaries = [n for n in nodes if n.role == "primary" and n.slots]
        replicas = [n for n in nodes if n.role == "replica"]
        ok = all("cluster_state:ok" in cli(n.port, "CLUSTER", "INFO") for n in nodes)
        return ok and len(primaries) == 3 and {r.primary_id for r in replicas} == {p.id for p in primaries}


def cut_off(primary, replica):
    """Stops `replica` (SIGSTOP) and closes its link on `primary`, so nothing the primary writes
    from now on reaches it (a stopped replica alone would still read what its socket buffered);
    answers its pid for ``resume``."""
    pid = replica.pid()
    os.kill(pid, signal.SIGSTOP)
    cli(primary.port, "CLIENT", "KILL", "TYPE", "replica")
    return pid


def resume(pid):
    os.kill(pid, signal.SIGCONT)
