"""The two search engines a benchmark run can index into, behind one interface: the search node (one
`imdb-search-node` process, talked to with the standard library) and a 3-node OpenSearch cluster
(`imdb-local-opensearch start`, talked to with the `opensearch-py` client: the official Elasticsearch client refuses
any server that is not Elasticsearch). Each run starts a fresh engine in its own folder on free ports.

Interface: `name`, `urls` (comma-separated, what the indexer and the API take), `pids()`, `refresh()`,
`count(index)` (0 while the index does not exist), `sample()` (peak RSS so far; fails the run if a node exited),
`rss()` and `cpu()` per node, `settle()` (after indexing: OpenSearch waits for green, every replica copied),
`stop()` (clean: a non-zero exit fails the run), `kill()` (after a failure: stop, whatever the outcome) and
`log_tails()`.
"""
import os
import subprocess

from common import (BenchError, cluster_base_port, http_request, proc_cpu, start_node, status_mib, stop_cleanly,
                    tail)
from common import count as node_count

ENGINES = ("search-node", "opensearch")

try:
    from opensearchpy.exceptions import OpenSearchException
    # What a failed call to OpenSearch raises: a benchmark failure like the others.
    ENGINE_ERRORS = (OpenSearchException,)
except ImportError:
    ENGINE_ERRORS = ()


class SearchNode:
    name = "search-node"
    shape = "one `imdb-search-node` (the indexer's templates: 1 shard, 0 replicas)"

    def __init__(self, bins, run_dir, _heap):
        self.node = start_node(bins["imdb-search-node"], run_dir)
        self.urls = f"http://127.0.0.1:{self.node.port}"

    def pids(self):
        return [self.node.pid]

    def refresh(self):
        status, body = http_request(self.node.port, "POST", "/_refresh")
        if status != 200:
            raise BenchError(f"POST /_refresh: HTTP {status}: {body[:500].decode(errors='replace')}")

    def count(self, index):
        return node_count(self.node.port, index)

    def sample(self):
        self.node.sample()
        if not self.node.alive():
            raise BenchError(f"imdb-search-node exited with {self.node.proc.returncode} during the run")

    def rss(self):
        return [self.node.hwm]

    def cpu(self):
        return [proc_cpu(self.node.pid) or 0.0]

    def settle(self):
        pass

    def stop(self):
        stop_cleanly(self.node)

    def kill(self):
        self.node.stop()

    def log_tails(self):
        return f"imdb-search-node ({self.node.log_path}):\n{tail(self.node.log_path)}"


class OpenSearch:
    name = "opensearch"
    nodes = 3

    def __init__(self, bins, run_dir, heap):
        try:
            from opensearchpy import OpenSearch as Client
        except ImportError:
            raise BenchError("opensearch-py is not installed: run scripts/setup.sh, then this script with "
                             ".local/venv/bin/python")
        self.bin, self.dir = bins["imdb-local-opensearch"], os.path.join(run_dir, "opensearch")
        self.shape = (f"a 3-node OpenSearch 2.19.6 cluster (`imdb-local-opensearch`, {heap} heaps; the indexer's "
                      f"templates: 1 shard, 1 replica)")
        base = cluster_base_port(self.nodes)
        ports = [base + i for i in range(self.nodes)]
        self.urls = ",".join(f"http://127.0.0.1:{p}" for p in ports)
        # Not this script's children: `imdb-local-opensearch start` returns once every node counts every node.
        subprocess.run([self.bin, "start", "--data", self.dir, "--nodes", str(self.nodes), "--port", str(base),
                        "--heap", heap], check=True, stdout=subprocess.DEVNULL)
        self._pids = []
        for n in range(1, self.nodes + 1):
            with open(os.path.join(self.dir, f"node-{n}", "pid")) as f:
                self._pids.append(int(f.read().strip()))
        self.client = Client(hosts=[{"host": "127.0.0.1", "port": p} for p in ports], timeout=120)
        self.hwm = [0.0] * self.nodes

    def pids(self):
        return list(self._pids)

    def refresh(self):
        self.client.indices.refresh()

    def count(self, index):
        from opensearchpy.exceptions import NotFoundError
        try:
            return self.client.count(index=index)["count"]
        except NotFoundError:
            return 0

    def sample(self):
        for i, pid in enumerate(self._pids):
            v = status_mib(pid, "VmHWM")
            if v is None:
                raise BenchError(f"OpenSearch node {i + 1} (pid {pid}) exited during the run")
            self.hwm[i] = max(self.hwm[i], v)

    def rss(self):
        return list(self.hwm)

    def cpu(self):
        return [proc_cpu(p) or 0.0 for p in self._pids]

    def settle(self):
        # `timeout` as a keyword is the client's own request timeout: the server-side wait goes in `params`.
        health = self.client.cluster.health(params={"wait_for_status": "green", "timeout": "300s"},
                                            request_timeout=320)
        if health["status"] != "green":
            raise BenchError(f"the cluster is not green after indexing: {health}")

    def stop(self):
        self.sample()
        subprocess.run([self.bin, "stop", "--data", self.dir], check=True, stdout=subprocess.DEVNULL)

    def kill(self):
        subprocess.run([self.bin, "stop", "--data", self.dir], check=False, stdout=subprocess.DEVNULL)

    def log_tails(self):
        return "\n".join(f"OpenSearch node {n} ({path}):\n{tail(path, 15)}" for n in range(1, self.nodes + 1)
                         for path in [os.path.join(self.dir, f"node-{n}", "logs", "server.log")])


def start_engine(name, bins, run_dir, heap):
    return {"search-node": SearchNode, "opensearch": OpenSearch}[name](bins, run_dir, heap)
