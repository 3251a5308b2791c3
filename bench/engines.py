"""The two search engines a benchmark run can index into, behind one interface: the search node (one
`imdb-search-node` process, talked to with the standard library) and a 3-node OpenSearch cluster
(`imdb-local-opensearch start`, talked to with the `opensearch-py` client: the official Elasticsearch client refuses
any server that is not Elasticsearch). Each run starts a fresh engine in its own folder on free ports.

Interface: `name`, `urls` (comma-separated, what the indexer and the API take), `pids()`, `refresh()`,
`count(index)` (0 while the index does not exist), `sample()` (fails the run if a node exited; the search node's
peak RSS is noted, a child process's being gone once it exits), `rss()` (peak, MiB) and `cpu()` per node, `settle()` (after indexing: OpenSearch waits for green, every replica copied),
`stop()` (clean: a non-zero exit fails the run), `kill()` (after a failure: stop, whatever the outcome) and
`log_tails()`.
"""
import os

from common import (BenchError, LocalCluster, cluster_base_port, http_request, proc_cpu, start_node, stop_cleanly,
                    tail)
from common import count as node_count

try:
    from opensearchpy import OpenSearch as Client
    from opensearchpy.exceptions import NotFoundError, OpenSearchException
    # What a failed call to OpenSearch raises: a benchmark failure like the others.
    ENGINE_ERRORS = (OpenSearchException,)
except ImportError:
    Client = None
    ENGINE_ERRORS = ()

ENGINES = ("search-node", "opensearch")


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
        if Client is None:
            raise BenchError("opensearch-py is not installed: run scripts/setup.sh, then this script with "
                             ".local/venv/bin/python")
        self.shape = (f"a 3-node OpenSearch 2.19.6 cluster (`imdb-local-opensearch`, {heap} heaps; the indexer's "
                      f"templates: 1 shard, 1 replica)")
        base = cluster_base_port(self.nodes)
        ports = [base + i for i in range(self.nodes)]
        self.urls = ",".join(f"http://127.0.0.1:{p}" for p in ports)
        # `imdb-local-opensearch start` returns once every node counts every node.
        self.cluster = LocalCluster(bins["imdb-local-opensearch"], os.path.join(run_dir, "opensearch"), self.nodes,
                                    base, ("--heap", heap))
        self.cluster.what = "OpenSearch node"
        self.client = Client(hosts=[{"host": "127.0.0.1", "port": p} for p in ports], timeout=120)

    def pids(self):
        return list(self.cluster.pids)

    def refresh(self):
        self.client.indices.refresh()

    def count(self, index):
        try:
            return self.client.count(index=index)["count"]
        except NotFoundError:
            return 0

    def sample(self):
        self.cluster.check_alive()

    def rss(self):
        return self.cluster.rss()

    def cpu(self):
        return self.cluster.cpu()

    def settle(self):
        # `timeout` as a keyword is the client's own request timeout: the server-side wait goes in `params`.
        health = self.client.cluster.health(params={"wait_for_status": "green", "timeout": "300s"},
                                            request_timeout=320)
        if health["status"] != "green":
            raise BenchError(f"the cluster is not green after indexing: {health}")

    def stop(self):
        self.cluster.stop()

    def kill(self):
        self.cluster.stop(check=False)

    def log_tails(self):
        return self.cluster.log_tails()


def start_engine(name, bins, run_dir, heap):
    return {"search-node": SearchNode, "opensearch": OpenSearch}[name](bins, run_dir, heap)
