"""Helpers shared by the benchmark scripts: free ports, HTTP, child processes with their peak memory and CPU, the
indexer's metrics, a Kafka cluster (`imdb-local-kafka`) and a search node per run, copies of the release binaries,
failure reports, and the machine's description for the result tables. Python 3 standard library only.
"""
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
DATA = os.path.join(ROOT, "bench", ".data")
TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port, method, path, body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def proc_cpu(pid):
    """utime + stime of a process in seconds, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return None


def machine_cpu():
    """Busy seconds of the whole machine (all of /proc/stat's cpu line but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def status_mib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({path}: {e})"


# --- metrics ---------------------------------------------------------------------------------------------------------

METRIC = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def parse_metrics(text):
    """{name: value} for plain series, {name: [(le, cumulative)]} for histogram buckets."""
    out = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2), float(m.group(3))
        if name.endswith("_bucket"):
            le = re.search(r'le="([^"]+)"', labels).group(1)
            out.setdefault(name, []).append((float("inf") if le == "+Inf" else float(le), value))
        elif not labels:
            out[name] = value
        else:
            # Labelled series (consumer lag by partition): their sum.
            out[name + "{*}"] = out.get(name + "{*}", 0.0) + value
    return out


def histogram_quantile(buckets, q):
    """Prometheus's estimate: linear within the bucket holding the q-th observation; the last finite bound if it
    falls in +Inf."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cum in buckets:
        if cum >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cum - below, 1e-9)
        lower, below = bound, cum
    return lower


# --- processes -------------------------------------------------------------------------------------------------------

class Process:
    """A child process with its output in a log file."""

    def __init__(self, name, cmd, log_path, env=None):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        self.hwm = 0.0
        self.cpu = 0.0

    def alive(self):
        return self.proc.poll() is None

    def sample(self):
        """Notes its peak RSS and CPU seconds so far (the last sample stands once it exited)."""
        v = status_mib(self.pid, "VmHWM")
        if v is not None:
            self.hwm = max(self.hwm, v)
        c = proc_cpu(self.pid)
        if c is not None:
            self.cpu = max(self.cpu, c)

    def stop(self, timeout=60):
        """SIGTERM, then the exit code (SIGKILL and None after `timeout`)."""
        if self.alive():
            self.sample()
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.log.close()
        return code


def stop_cleanly(*procs):
    """SIGTERM to each process in turn; any exit status but 0 fails the run."""
    for p in procs:
        code = p.stop()
        if code != 0:
            raise BenchError(f"{p.name} exited with {code} on SIGTERM (None: killed after 60 s)")


def sample_alive(*procs):
    """Samples each process's peak RSS; a process that exited fails the run."""
    for p in procs:
        p.sample()
        if not p.alive():
            raise BenchError(f"{p.name} exited with {p.proc.returncode} during the run")


def disk_mib(*tops):
    """What the folders under `tops` hold on disk (allocated blocks), in MiB."""
    total = 0
    for top in tops:
        for folder, _, files in os.walk(top):
            for f in files:
                try:
                    total += os.lstat(os.path.join(folder, f)).st_blocks * 512
                except FileNotFoundError:  # a merge or a log roll removed it meanwhile
                    pass
    return total / 2 ** 20


def run_folder(kind, label):
    """A fresh folder for one run, and the Kafka cluster's folder in it."""
    run_dir = os.path.join(DATA, f"{kind}-run-{os.getpid()}-{label}")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    return run_dir, os.path.join(run_dir, "kafka")


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cluster_base_port(nodes):
    """A first port whose cluster ports (brokers from it, controllers from it + 100) are all free now."""
    for _ in range(200):
        base = free_port()
        if base + 100 + nodes < 65536 and all(port_free(base + off + i) for off in (0, 100) for i in range(nodes)):
            return base
    raise BenchError("no free port range for a Kafka cluster")


class LocalCluster:
    """A cluster of JVM nodes started in the background by one of the project's launchers (`imdb-local-kafka`,
    `imdb-local-opensearch`: `start --data D --nodes N --port P ...`, `stop --data D`), each node in `D/node-N` with
    its pid file and `logs/server.log`. The nodes are not children of this script: their CPU and peak RSS (VmHWM) are
    read from /proc while they run."""

    what = "node"

    def __init__(self, launcher, data_dir, nodes, port, extra_args=()):
        self.bin, self.dir, self.nodes = launcher, data_dir, nodes
        subprocess.run([launcher, "start", "--data", data_dir, "--nodes", str(nodes), "--port", str(port),
                        *extra_args], check=True, stdout=subprocess.DEVNULL)
        self.pids = []
        for n in range(1, nodes + 1):
            with open(os.path.join(data_dir, f"node-{n}", "pid")) as f:
                self.pids.append(int(f.read().strip()))

    def cpu(self):
        """CPU seconds of each node so far."""
        return [proc_cpu(p) or 0.0 for p in self.pids]

    def rss(self):
        """Peak RSS (VmHWM, MiB) of each node so far."""
        return [status_mib(p, "VmHWM") or 0.0 for p in self.pids]

    def check_alive(self):
        """Fails the run if a node exited."""
        for n, pid in enumerate(self.pids, 1):
            if status_mib(pid, "VmHWM") is None:
                raise BenchError(f"{self.what} {n} (pid {pid}) exited during the run")

    def log_tails(self, lines=15):
        return "\n".join(f"{self.what} {n} ({path}):\n{tail(path, lines)}" for n in range(1, self.nodes + 1)
                         for path in [os.path.join(self.dir, f"node-{n}", "logs", "server.log")])

    def stop(self, check=True):
        subprocess.run([self.bin, "stop", "--data", self.dir], check=check, stdout=subprocess.DEVNULL)


class Cluster(LocalCluster):
    """A Kafka cluster started with `imdb-local-kafka start` in its own folder, with its bootstrap servers."""

    what = "broker"

    def __init__(self, kafka_bin, data_dir, nodes=3, heap="512MiB"):
        base = cluster_base_port(nodes)
        super().__init__(kafka_bin, data_dir, nodes, base, ("--heap", heap))
        self.bootstrap = ",".join(f"127.0.0.1:{base + i}" for i in range(nodes))


def topic_messages(ingest_bin, brokers):
    """{topic: messages} from `imdb-ingest topics --json`."""
    out = subprocess.run([ingest_bin, "topics", "--brokers", brokers, "--json"], check=True, capture_output=True)
    return {t["name"]: sum(p["high"] - p["low"] for p in t["partitions"]) for t in json.loads(out.stdout)}


def fail(label, error, run_dir, procs, cluster=None):
    """Reports a failed run (the error, the command, each process's state and log tail), stops what runs, and
    exits 1, keeping the run folder."""
    print(f"\nFAILED ({label}): {error!r}\ncommand: {' '.join(sys.argv)}\ndata and logs kept in {run_dir}",
          file=sys.stderr)
    for p in procs:
        if p:
            state = "running" if p.alive() else f"exited with {p.proc.returncode}"
            code = p.stop()
            print(f"\n{p.name} ({state}; on SIGTERM now: {code}), log tail ({p.log_path}):\n{tail(p.log_path)}",
                  file=sys.stderr)
    if cluster:
        print(f"\n{cluster.log_tails()}", file=sys.stderr)
        cluster.stop(check=False)
    sys.exit(1)


def start_node(node_bin, run_dir):
    port = free_port()
    node = Process("imdb-search-node", [node_bin, "--listen", f"127.0.0.1:{port}", "--data",
                                        os.path.join(run_dir, "node")], os.path.join(run_dir, "node.log"))
    node.port = port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not node.alive():
            raise BenchError(f"imdb-search-node exited with {node.proc.returncode} at start")
        try:
            if http_request(port, "GET", "/", timeout=2)[0] == 200:
                return node
        except OSError:
            pass
        time.sleep(0.1)
    node.stop()
    raise BenchError("imdb-search-node did not answer within 30 s")


def dataset(ingest_bin, titles):
    """The generated dataset of `titles` titles (`imdb-ingest generate --seed 42`), made once in bench/.data/gen-N."""
    out = os.path.join(DATA, f"gen-{titles}")
    if not os.path.exists(os.path.join(out, "name.basics.tsv.gz")):
        print(f"generating {titles:,} titles into {out}", file=sys.stderr, flush=True)
        subprocess.run([ingest_bin, "generate", "--titles", str(titles), "--seed", "42", "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def count(port, index):
    status, data = http_request(port, "GET", f"/{index}/_count")
    if status == 404:
        return 0
    if status != 200:
        raise BenchError(f"GET /{index}/_count: HTTP {status}: {data[:500].decode(errors='replace')}")
    return json.loads(data)["count"]


def finish_run(cluster, run_dir, keep):
    """After a good run: stops the cluster and deletes the run folder unless `keep`."""
    cluster.stop()
    if not keep:
        shutil.rmtree(run_dir)


def machine():
    mem = cpu = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2 ** 20:.1f} GiB RAM"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} vCPU ({cpu}), {mem}, Linux {platform.release()}"


def copy_bins(prefix, names):
    """Copies of the release binaries for one session: a rebuild of target/ meanwhile cannot mix two builds. Exits
    with a message when one is not built."""
    missing = [n for n in names if not os.access(os.path.join(BIN, n), os.X_OK)]
    if missing:
        sys.exit(f"{', '.join(missing)} not found in {BIN}: run `cargo build --release --workspace --bins` from the "
                 f"repository root first")
    os.makedirs(DATA, exist_ok=True)
    bin_dir = os.path.join(DATA, f"{prefix}-bin-{os.getpid()}")
    os.makedirs(bin_dir, exist_ok=True)
    bins = {}
    for n in names:
        bins[n] = os.path.join(bin_dir, n)
        shutil.copy2(os.path.join(BIN, n), bins[n])
    return bin_dir, bins


def build_info(binaries, sources):
    """When the release `binaries` were built and the tree they were probably built from, noting uncommitted changes
    under the `sources` folders: read when the session starts, for the result table's header."""
    def git(*a):
        return subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--", *sources)
    built = datetime.datetime.fromtimestamp(max(os.path.getmtime(os.path.join(BIN, b)) for b in binaries))
    return (f"release binaries built {built:%Y-%m-%d %H:%M}, tree at {git('rev-parse', '--short', 'HEAD')}"
            + (" plus uncommitted changes" if dirty else ""))
