"""The two search engines a benchmark run can index into, behind one interface: the search node (one
`imdb-search-node` process) and an OpenSearch 2.19.6 cluster of 1 or 3 nodes (`imdb-local-opensearch start
--nodes N`). Both are talked to over plain HTTP with the standard library, so both get the same bytes. Each run
starts a fresh engine in its own folder on free ports.

Interface: `name`, `shape` (a sentence for the report), `port` (the first node's HTTP port), `urls`
(comma-separated, what the indexer and the API take), `pids()`, `alive()`, `refresh()`, `count(index)` (0 while the
index does not exist), `sample()` (fails the run if a node exited; the search node's peak RSS is noted, a child
process's being gone once it exits), `rss()` (peak, MiB) and `cpu()` per node, `data_dirs()` (where the indexes
are on disk), `settle()` (after indexing: OpenSearch waits for green, every replica copied), `stop()` (clean: a
non-zero exit fails the run), `kill()` (after a failure: stop, whatever the outcome), `log_tails()` and
`problems()` (the log's warnings and errors).
"""
import json
import os

from common import (BenchError, LocalCluster, cluster_base_port, http_request, proc_cpu, start_node, status_mib,
                    stop_cleanly, tail)
from common import count as node_count

ENGINES = ("search-node", "opensearch")


def log_problems(path, marks):
    """The lines of a log holding one of `marks` (its warnings and errors)."""
    try:
        with open(path, "rb") as f:
            return [line.decode(errors="replace").rstrip() for line in f if any(m in line for m in marks)]
    except OSError:
        return []


class SearchNode:
    name = "search-node"
    shape = "one `imdb-search-node` (the indexer's templates: 1 shard, 0 replicas)"

    def __init__(self, bins, run_dir, _heap, _nodes=1):
        self.node = start_node(bins["imdb-search-node"], run_dir)
        self.port = self.node.port
        self.urls = f"http://127.0.0.1:{self.port}"
        self.data = os.path.join(run_dir, "node")

    def pids(self):
        return [self.node.pid]

    def alive(self):
        return self.node.alive()

    def refresh(self):
        status, body = http_request(self.port, "POST", "/_refresh")
        if status != 200:
            raise BenchError(f"POST /_refresh: HTTP {status}: {body[:500].decode(errors='replace')}")

    def count(self, index):
        return node_count(self.port, index)

    def sample(self):
        self.node.sample()
        if not self.node.alive():
            raise BenchError(f"imdb-search-node exited with {self.node.proc.returncode} during the run")

    def rss(self):
        self.node.sample()
        return [self.node.hwm]

    def cpu(self):
        return [proc_cpu(self.node.pid) or 0.0]

    def data_dirs(self):
        return [self.data]

    def settle(self):
        pass

    def stop(self):
        stop_cleanly(self.node)

    def kill(self):
        self.node.stop()

    def log_tails(self):
        return f"imdb-search-node ({self.node.log_path}):\n{tail(self.node.log_path)}"

    def problems(self):
        return log_problems(self.node.log_path, (b" WARN ", b" ERROR "))


class OpenSearch:
    name = "opensearch"

    def __init__(self, bins, run_dir, heap, nodes=3):
        self.nodes = nodes
        replicas = "1 replica" if nodes > 1 else "0 replicas"
        self.shape = (f"{'a 3-node OpenSearch 2.19.6 cluster' if nodes > 1 else 'one OpenSearch 2.19.6 node'} "
                      f"(`imdb-local-opensearch --nodes {nodes}`, {heap} heap{'s' if nodes > 1 else ''}; the "
                      f"indexer's templates: 1 shard, {replicas})")
        base = cluster_base_port(nodes)
        self.ports = [base + i for i in range(nodes)]
        self.port = self.ports[0]
        self.urls = ",".join(f"http://127.0.0.1:{p}" for p in self.ports)
        self.dir = os.path.join(run_dir, "opensearch")
        # `imdb-local-opensearch start` returns once every node counts every node.
        self.cluster = LocalCluster(bins["imdb-local-opensearch"], self.dir, nodes, base, ("--heap", heap))
        self.cluster.what = "OpenSearch node"

    def pids(self):
        return list(self.cluster.pids)

    def alive(self):
        return all(status_mib(pid, "VmHWM") is not None for pid in self.cluster.pids)

    def refresh(self):
        status, body = http_request(self.port, "POST", "/_refresh", timeout=120)
        if status != 200:
            raise BenchError(f"POST /_refresh: HTTP {status}: {body[:500].decode(errors='replace')}")

    def count(self, index):
        return node_count(self.port, index)

    def sample(self):
        self.cluster.check_alive()

    def rss(self):
        return self.cluster.rss()

    def cpu(self):
        return self.cluster.cpu()

    def data_dirs(self):
        return [os.path.join(self.dir, f"node-{n}", "data") for n in range(1, self.nodes + 1)]

    def settle(self):
        status, body = http_request(self.port, "GET", "/_cluster/health?wait_for_status=green&timeout=300s",
                                    timeout=320)
        health = json.loads(body) if status in (200, 408) else {}
        if health.get("status") != "green":
            raise BenchError(f"the cluster is not green after indexing: HTTP {status}: "
                             f"{body[:500].decode(errors='replace')}")

    def stop(self):
        self.cluster.stop()

    def kill(self):
        self.cluster.stop(check=False)

    def log_tails(self):
        return self.cluster.log_tails()

    def problems(self):
        # Every start logs that dangling indices are not imported (the launcher's setting): not a problem.
        return [line for n in range(1, self.nodes + 1)
                for line in log_problems(os.path.join(self.dir, f"node-{n}", "logs", "server.log"),
                                         (b"[WARN ]", b"[ERROR]")) if "DanglingIndicesState" not in line]


def start_engine(name, bins, run_dir, heap, nodes=3):
    """A fresh engine: `nodes` is the OpenSearch cluster's size (the search node is always one process)."""
    return {"search-node": SearchNode, "opensearch": OpenSearch}[name](bins, run_dir, heap, nodes)
