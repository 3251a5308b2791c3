#!/usr/bin/env python3
"""imdb-search-node benchmark: bulk indexing throughput, then query latency.

Generates `--docs` title documents (deterministic, `random.Random(42)`, kept in
`bench/.data/`), then `--runs` times, for each `--shards` count (interleaved,
so machine drift hits every variant alike), against a fresh server:
  load     `_bulk` batches of `--batch` documents from `--clients` threads into
           one index (replicas 0, refresh_interval 30s), then `_refresh`:
           timed from the first request until everything is searchable
  check    `_cat/indices` docs.count == docs, and `_count` of four filters
           against the counts the generator kept
  queries  `--query-clients` threads run each kind for `--query-seconds`
           (after `--warmup-seconds`): match, bool+filters, aggregations,
           function_score; every response is checked (status, hits, filters
           honoured, scores in order, aggregation buckets)

and prints medians as Markdown tables ready for bench/RESULTS.md, with date,
machine and command. The node's peak RSS is its VmHWM; the CPU busy in the
node, in this client and in the rest of the machine is reported beside each
figure, so a run skewed by other work shows. Every run starts the same copy
of the binary, taken when the session starts.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/search_node.py --docs 1000000 --runs 1
  python3 bench/search_node.py --docs 100000 --runs 3 --shards 1,2
Python 3 standard library only.
"""
import argparse
import datetime
import functools
import http.client
import itertools
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

from common import BIN as RELEASE, DATA, BenchError, build_info, free_port, machine

BIN = os.path.join(RELEASE, "imdb-search-node")
INDEX = "bench-titles"
GENERATOR_VERSION = 1  # bump when the documents change: cached files are keyed by it
KINDS = ["match", "bool+filters", "aggregations", "function_score"]

# --- documents -----------------------------------------------------------------------------------------------------

# The model's genre slugs (model/src/genre.rs) with the ingest generator's weights; adult only on adult titles.
GENRES = ["action", "adult", "adventure", "animation", "biography", "comedy", "crime", "documentary", "drama",
          "family", "fantasy", "film-noir", "game-show", "history", "horror", "music", "musical", "mystery", "news",
          "reality-tv", "romance", "sci-fi", "short", "sport", "talk-show", "thriller", "war", "western"]
GENRE_WEIGHTS = [70, 0, 50, 50, 20, 220, 60, 140, 300, 50, 30, 2, 20, 30, 50, 40, 10, 30, 20, 50, 70, 20, 40, 20, 40,
                 60, 10, 10]
TYPES = ["movie", "short", "tvEpisode", "tvSeries", "tvMovie", "video", "tvMiniSeries", "tvSpecial", "videoGame"]
TYPE_WEIGHTS = [60, 10, 12, 7, 4, 3, 2, 1, 1]
# The head of the title vocabulary, most frequent first; a synthetic tail follows (see vocabulary()).
COMMON = """the of a and in to my love night man last day girl life world house time dead black story one little
king city blood war dark death lady return christmas secret lost home heart woman life family big road great island
wild good two boy blue new game dream children bad shadow street american summer kill fire star moon sun river
mountain sea storm kingdom garden mirror train promise song winter highway forest empire angel ghost stranger hunter
witness queen soldier doctor detective iron golden hidden broken crimson eternal frozen burning savage final
forgotten endless distant sweet bitter lonely electric midnight perfect strange silent red white paris tokyo berlin
rome cairo chicago texas brooklyn vienna havana escape letters beginning part returns revenge murder mystery
adventure legend power money crazy happy young old brothers sisters father mother daughter son wedding school
summer spring autumn ocean desert space planet time machine journey voyage music dance heaven hell devil saint
sinner spy agent rose lion tiger dragon wolf bird horse dog cat eye eyes hand hands face voice silence words
café señor mädchen piñata fiancée été über naïve façade garçon""".split()
SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tor", "sel", "an", "du", "ri", "mo", "zen", "bar", "cor", "el", "fin",
             "gal", "har", "is", "jun", "kel", "lum", "mar", "nor", "ol", "per", "quin", "ros", "sa", "tal", "ul",
             "vor", "wen", "xa", "yor", "zu", "ber", "che", "dra", "fe", "go", "ha", "ji", "ku", "le", "na", "po",
             "sti"]
SMALL = {"the", "of", "a", "and", "in", "to", "my"}  # lower-case inside titles; never queried alone
FIRST = ["James", "John", "Robert", "Michael", "David", "William", "Richard", "Thomas", "Charles", "Daniel", "Paul",
         "Mark", "George", "Peter", "Jack", "Henry", "Luis", "Carlos", "Pierre", "Jean", "Hans", "Giovanni",
         "Hiroshi", "Kenji", "Raj", "Ahmed", "Ivan", "Olaf", "José", "Søren", "François", "Björn", "Léon", "Jürgen",
         "Andrés", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
         "Karen", "Emma", "Olivia", "Sophie", "Anna", "Maria", "Laura", "Julia", "Yuki", "Mei", "Priya", "Fatima",
         "Olga", "Ingrid", "Chiara", "Zoë", "Renée", "Amélie", "Inès", "Chloé", "Małgorzata", "Dagný", "Lucía"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
        "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King",
        "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
        "Evans", "Müller", "Schmidt", "Dubois", "Lefèvre", "García", "Núñez", "Rossi", "Bianchi", "Tanaka", "Suzuki",
        "Kim", "Park", "Singh", "Patel", "Kowalski", "Novák", "Dvořák", "Jensen", "Ørsted", "Björnsson", "O'Brien",
        "Ivanov", "Silva", "Santos", "Çelik", "Nguyen", "Wang"]
MALE_FIRST = 35  # FIRST[:35] are men's names: their cast category is actor, else actress
ROLES = ["Narrator", "Bartender", "Nurse", "The Stranger", "Waitress", "Policeman", "Reporter", "Young Boy",
         "Party Guest", "Voice", "Soldier", "Thug #2", "Neo"]


def cumulative(weights):
    """Cumulative weights: `rng.choices(..., cum_weights=...)` then bisects instead of summing on every call."""
    return list(itertools.accumulate(weights))


# Runtime by title type: mean, standard deviation, bounds, in minutes.
RUNTIMES = {"movie": (100, 20, 60, 240), "short": (15, 8, 1, 45), "tvEpisode": (35, 12, 5, 90),
            "tvSeries": (45, 10, 10, 90)}
GENRE_CUM, TYPE_CUM = cumulative(GENRE_WEIGHTS), cumulative(TYPE_WEIGHTS)
WORDS_CUM, GENRES_CUM = cumulative((15, 30, 25, 15, 10, 5)), cumulative((45, 35, 20))
DIRECTORS_CUM, CAST_CUM = cumulative((85, 12, 3)), cumulative((5, 10, 15, 20, 20, 15, 15))


def vocabulary(rng, size=30000):
    """COMMON words, then distinct synthetic words of 2-4 syllables up to `size`, with Zipf cumulative weights."""
    words, seen = list(COMMON), set(COMMON)
    while len(words) < size:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words, cumulative(1.0 / (rank + 1) ** 1.05 for rank in range(size))


@functools.lru_cache(maxsize=None)
def person(i):
    """A person of the pool, the same name for the same id: (reference, is a man)."""
    h = (i * 2654435761) & 0xFFFFFFFF
    first = h % len(FIRST)
    return {"nconst": f"nm{i + 1:07d}", "name": f"{FIRST[first]} {LAST[(h >> 8) % len(LAST)]}"}, first < MALE_FIRST


def title(rng, words, cum):
    n = rng.choices((1, 2, 3, 4, 5, 6), cum_weights=WORDS_CUM)[0]
    picked = rng.choices(words, cum_weights=cum, k=n)
    while all(w in SMALL for w in picked):
        picked = rng.choices(words, cum_weights=cum, k=n)
    text = " ".join(w if w in SMALL and i > 0 else w.capitalize() for i, w in enumerate(picked))
    if rng.random() < 0.03:
        text += rng.choice((" 2", " 3", ": Part II", ": The Beginning", " Returns"))
    return text


def document(rng, words, cum, people):
    kind = rng.choices(TYPES, cum_weights=TYPE_CUM)[0]
    adult = rng.random() < 0.01
    primary = title(rng, words, cum)
    doc = {"title_type": kind, "primary_title": primary,
           "original_title": primary if rng.random() < 0.85 else title(rng, words, cum), "is_adult": adult,
           "start_year": min(2025, int(1900 + 126 * rng.random() ** 0.5))}
    if kind in ("tvSeries", "tvMiniSeries") and rng.random() < 0.6:
        doc["end_year"] = min(2025, doc["start_year"] + rng.randint(0, 10))
    if rng.random() < 0.9:
        mean, sd, lo, hi = RUNTIMES.get(kind, (90, 25, 20, 200))
        doc["runtime_minutes"] = max(lo, min(hi, int(rng.gauss(mean, sd))))
    genres = {"adult"} if adult else set()
    for g in rng.choices(GENRES, cum_weights=GENRE_CUM, k=rng.choices((1, 2, 3), cum_weights=GENRES_CUM)[0]):
        genres.add(g)
    doc["genres"] = sorted(genres)
    if rng.random() < 0.9:  # IMDb leaves many titles unrated
        doc["average_rating"] = round(max(1.0, min(10.0, rng.gauss(6.3, 1.3))), 1)
        doc["num_votes"] = int(10 ** rng.uniform(0, 6.5))
    doc["directors"] = [person(int(people * rng.random() ** 2))[0]
                        for _ in range(rng.choices((1, 2, 3), cum_weights=DIRECTORS_CUM)[0])]
    cast = []
    for order in range(1, rng.choices((0, 1, 2, 3, 4, 5, 6), cum_weights=CAST_CUM)[0] + 1):
        p, man = person(int(people * rng.random() ** 3))  # a few people in many titles, most in few
        cast.append({**p, "category": "actor" if man else "actress", "characters": [rng.choice(ROLES)],
                     "ordering": order})
    if cast:
        doc["cast"] = cast
    return doc


def dataset(n):
    """The documents (one JSON per line, the i-th is tt{i+1:07d}) and what the checks and queries need, generated
    once per size and kept in bench/.data/. Files appear whole (written aside, then renamed)."""
    base = os.path.join(DATA, f"search-node-titles-{n}-v{GENERATOR_VERSION}")
    if not os.path.exists(base + ".json"):
        print(f"generating {n:,} documents into {base}.ndjson", file=sys.stderr, flush=True)
        start = time.monotonic()
        os.makedirs(DATA, exist_ok=True)
        rng = random.Random(42)
        words, cum = vocabulary(rng)
        people = max(1000, int(n * 0.4))
        counts = {"genre_drama": 0, "years_1990s": 0, "votes_1000": 0, "movies": 0}
        sample_every = max(1, n // 20000)
        titles = []
        with open(base + ".ndjson.tmp", "w", encoding="utf-8") as out:
            for i in range(n):
                doc = document(rng, words, cum, people)
                out.write(json.dumps({"tconst": f"tt{i + 1:07d}", **doc}, ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
                counts["genre_drama"] += "drama" in doc["genres"]
                counts["years_1990s"] += 1990 <= doc["start_year"] <= 1999
                counts["votes_1000"] += doc.get("num_votes", 0) >= 1000
                counts["movies"] += doc["title_type"] == "movie"
                if i % sample_every == 0:
                    titles.append(doc["primary_title"])
        os.replace(base + ".ndjson.tmp", base + ".ndjson")
        with open(base + ".json.tmp", "w", encoding="utf-8") as out:
            json.dump({"docs": n, "counts": counts, "titles": titles}, out, ensure_ascii=False)
        os.replace(base + ".json.tmp", base + ".json")
        print(f"generated in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    with open(base + ".json", encoding="utf-8") as f:
        meta = json.load(f)
    with open(base + ".ndjson", "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    assert len(lines) == n, f"{base}.ndjson has {len(lines)} lines, expected {n}: delete it to regenerate"
    return lines, meta


def bulk_bodies(lines, batch):
    bodies = []
    for start in range(0, len(lines), batch):
        parts = []
        for i in range(start, min(start + batch, len(lines))):
            parts.append(b'{"index":{"_id":"tt%07d"}}\n' % (i + 1))
            parts.append(lines[i])
            parts.append(b"\n")
        bodies.append((min(batch, len(lines) - start), b"".join(parts)))
    return bodies


MAPPING = {
    "dynamic": "strict",
    "properties": {
        "tconst": {"type": "keyword"},
        "title_type": {"type": "keyword"},
        "primary_title": {"type": "text", "analyzer": "folded", "fields": {
            "english": {"type": "text", "analyzer": "english"},
            "keyword": {"type": "keyword", "ignore_above": 256}}},
        "original_title": {"type": "text", "analyzer": "folded", "fields": {
            "english": {"type": "text", "analyzer": "english"}}},
        "is_adult": {"type": "boolean"},
        "start_year": {"type": "short"},
        "end_year": {"type": "short"},
        "runtime_minutes": {"type": "integer"},
        "genres": {"type": "keyword"},
        "average_rating": {"type": "float"},
        "num_votes": {"type": "long"},
        "directors": {"properties": {"nconst": {"type": "keyword"}, "name": {"type": "text", "analyzer": "folded"}}},
        "cast": {"properties": {
            "nconst": {"type": "keyword"}, "name": {"type": "text", "analyzer": "folded"},
            "category": {"type": "keyword"}, "characters": {"type": "text"}, "ordering": {"type": "short"}}},
    },
}


def index_body(shards):
    return {"settings": {"index": {"number_of_shards": shards, "number_of_replicas": 0, "refresh_interval": "30s"},
                         "analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                                              "filter": ["lowercase", "asciifolding"]}}}},
            "mappings": MAPPING}


# --- queries -------------------------------------------------------------------------------------------------------

def query_text(rng, titles):
    """1-3 consecutive words of an indexed title (so every text query has hits), not only small words."""
    while True:
        words = titles[rng.randrange(len(titles))].replace(":", "").split()
        n = min(len(words), rng.choices((1, 2, 3), (45, 40, 15))[0])
        start = rng.randrange(len(words) - n + 1)
        picked = words[start:start + n]
        if any(w.lower() not in SMALL for w in picked):
            return " ".join(picked)


def make_query(kind, rng, titles):
    """(body, expectation) of one request of a kind."""
    text = query_text(rng, titles)
    if kind == "match":
        return {"query": {"match": {"primary_title": {"query": text, "operator": "or"}}}}, {}
    if kind == "bool+filters":
        genres = rng.sample([g for g in GENRES if g != "adult"], rng.choice((1, 2)))
        year = rng.randrange(1900, 2020)
        votes = rng.choice((0, 10, 100, 1000))
        body = {"query": {"bool": {"must": [{"match": {"primary_title": text}}], "filter": [
            {"terms": {"genres": genres}}, {"range": {"start_year": {"gte": year, "lte": year + 25}}},
            {"range": {"num_votes": {"gte": votes}}}]}}}
        return body, {"genres": set(genres), "years": (year, year + 25), "votes": votes}
    if kind == "aggregations":
        return {"size": 0, "query": {"match": {"primary_title": text}}, "aggs": {
            "genres": {"terms": {"field": "genres", "size": 10}},
            "decades": {"histogram": {"field": "start_year", "interval": 10}},
            "ratings": {"range": {"field": "average_rating",
                                  "ranges": [{"to": 5}, {"from": 5, "to": 7}, {"from": 7, "to": 8.5}, {"from": 8.5}]}},
            "avg_votes": {"avg": {"field": "num_votes"}}}}, {}
    return {"query": {"function_score": {
        "query": {"multi_match": {"query": text, "fields": ["primary_title^3", "primary_title.english",
                                                            "original_title"]}},
        "field_value_factor": {"field": "num_votes", "modifier": "log1p", "missing": 1},
        "boost_mode": "multiply"}}}, {}


def check_response(kind, expect, res):
    """Why a search response is wrong, or None. Returns (problem, total hits)."""
    hits = res.get("hits", {})
    total = hits.get("total", {}).get("value", 0)
    docs = hits.get("hits", [])
    if kind != "aggregations" and total > 0 and not docs:
        return "hits.total > 0 but no hits", total
    if kind in ("match", "function_score", "aggregations") and total == 0:
        return "no hits for words of an indexed title", total
    scores = [h.get("_score") or 0 for h in docs]
    if kind != "aggregations" and scores != sorted(scores, reverse=True):
        return f"hits not in score order: {scores}", total
    if kind == "bool+filters":
        for h in docs:
            s = h["_source"]
            if not (expect["genres"] & set(s["genres"]) and expect["years"][0] <= s["start_year"] <= expect["years"][1]
                    and s.get("num_votes", -1) >= expect["votes"]):
                return f"hit {h['_id']} does not pass the filters {expect}: {s}", total
    if kind == "aggregations":
        aggs = res.get("aggregations", {})
        if not aggs.get("genres", {}).get("buckets") or not aggs.get("decades", {}).get("buckets"):
            return f"empty terms or histogram buckets: {str(aggs)[:300]}", total
        if len(aggs.get("ratings", {}).get("buckets", [])) != 4 or "value" not in aggs.get("avg_votes", {}):
            return f"range or avg missing: {str(aggs)[:300]}", total
        exact = hits.get("total", {}).get("relation") == "eq"
        if exact and sum(b["doc_count"] for b in aggs["decades"]["buckets"]) != total:
            return "decade buckets do not add up to hits.total", total  # every document has a start_year
    return None, total


# --- the server and its clients ------------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP connection; no retries, so a dropped connection fails the run."""

    def __init__(self, port, timeout=1800):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.conn.request(method, path, body, {"Content-Type": content_type} if body is not None else {})
        res = self.conn.getresponse()
        return res.status, res.read()

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status != 200:
            raise BenchError(f"{method} {path}: HTTP {status}: {data[:1000].decode(errors='replace')}")
        return json.loads(data)

    def close(self):
        self.conn.close()


class Server:
    """imdb-search-node on a free port with its own data folder and log; samples VmRSS every half second."""

    def __init__(self, node_bin, run_dir):
        self.port = free_port()
        self.log_path = os.path.join(run_dir, "node.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([node_bin, "--listen", f"127.0.0.1:{self.port}", "--data",
                                      os.path.join(run_dir, "data")], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "NO_COLOR": "1"})
        self.max_anon = 0.0  # RssAnon sampled: the heap, without the index files mapped into memory
        self.sampling = True
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"imdb-search-node exited with {self.proc.returncode} on start")
            try:
                c = Client(self.port, timeout=5)
                if c.request("GET", "/")[0] == 200:
                    c.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("imdb-search-node did not answer within 60 s")
            time.sleep(0.1)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while self.sampling and self.proc.poll() is None:
            self.max_anon = max(self.max_anon, self.status_mib("RssAnon"))
            time.sleep(0.5)

    def cpu_seconds(self):
        """User and system CPU time of the node so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def status_mib(self, key):
        """A /proc/<pid>/status size (VmRSS, VmHWM, RssAnon) in MiB, 0 once the process is gone."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=40):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def problems(self):
        """The log's WARN and ERROR lines."""
        with open(self.log_path, "rb") as f:
            return [line.decode(errors="replace") for line in f if b" WARN " in line or b" ERROR " in line]

    def stop(self):
        """SIGTERM (the node commits and exits), SIGKILL after 2 minutes; returns the exit code."""
        self.sampling = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class CpuMeter:
    """CPU cores busy from now until read(): the node's (/proc/<pid>/stat), this client process's (getrusage), and
    everything else on the machine (/proc/stat less those two): other work skews the figures."""

    def __init__(self, server):
        self.server, self.start = server, time.monotonic()
        self.node, self.client, self.machine = server.cpu_seconds(), self.own(), self.busy()

    @staticmethod
    def own():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def busy():
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:]]
        return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

    def read(self):
        """(node, client, other) cores."""
        elapsed = time.monotonic() - self.start
        node, client = self.server.cpu_seconds() - self.node, self.own() - self.client
        other = max(0.0, self.busy() - self.machine - node - client)
        return node / elapsed, client / elapsed, other / elapsed


def quantile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def load(server, bodies, clients):
    """Sends every bulk body from `clients` threads, then `_refresh`. Returns the timings."""
    lock = threading.Lock()
    state = {"next": 0, "docs": 0, "bytes": 0, "running": clients}
    all_done = threading.Event()  # set by the last worker to finish, so the end is not a polling interval late
    latencies, errors = [], []

    def worker():
        client = Client(server.port)
        try:
            while not errors:
                with lock:
                    if state["next"] >= len(bodies):
                        return
                    n, body = bodies[state["next"]]
                    state["next"] += 1
                t0 = time.perf_counter()
                status, data = client.request("POST", f"/{INDEX}/_bulk", body, "application/x-ndjson")
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise BenchError(f"_bulk: HTTP {status}: {data[:1000].decode(errors='replace')}")
                res = json.loads(data)
                if res.get("errors") is not False or len(res.get("items", [])) != n:
                    bad = [i for i in res.get("items", []) if next(iter(i.values())).get("status", 0) >= 300]
                    raise BenchError(f"_bulk: errors={res.get('errors')}, {len(res.get('items', []))} items for "
                                     f"{n} documents, {len(bad)} failed; first: {json.dumps(bad[:3])[:1500]}")
                with lock:
                    latencies.append(elapsed)
                    state["docs"] += n
                    state["bytes"] += len(body)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            client.close()
            with lock:
                state["running"] -= 1
                if state["running"] == 0:
                    all_done.set()

    start = time.monotonic()
    meter = CpuMeter(server)
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    while not all_done.wait(10):
        elapsed = time.monotonic() - start
        print(f"  load: {state['docs']:,} docs in {elapsed:.0f} s ({state['docs'] / elapsed:,.0f}/s), "
              f"server RSS {server.status_mib('VmRSS'):,.0f} MiB", file=sys.stderr, flush=True)
    if errors:
        raise errors[0] if isinstance(errors[0], BenchError) else BenchError(f"_bulk failed: {errors[0]!r}")
    bulk_end = time.monotonic()
    client = Client(server.port)
    res = client.json("POST", f"/{INDEX}/_refresh")
    end = time.monotonic()
    node_cpu, client_cpu, other_cpu = meter.read()
    client.close()
    if res.get("_shards", {}).get("failed", 1) != 0:
        raise BenchError(f"_refresh: {res}")
    seconds = end - start
    return {"seconds": seconds, "docs_s": state["docs"] / seconds, "mb_s": state["bytes"] / seconds / 1e6,
            "bulk_seconds": bulk_end - start, "refresh_seconds": end - bulk_end,
            "bulk_p50": statistics.median(latencies) * 1e3, "bulk_p99": quantile(latencies, 0.99) * 1e3,
            "node_cpu": node_cpu, "client_cpu": client_cpu, "other_cpu": other_cpu}


COUNT_CHECKS = {"genre_drama": {"term": {"genres": "drama"}},
                "years_1990s": {"range": {"start_year": {"gte": 1990, "lte": 1999}}},
                "votes_1000": {"range": {"num_votes": {"gte": 1000}}},
                "movies": {"term": {"title_type": "movie"}}}


def parse_size(text):
    """`_cat` sizes (`812.4mb`) in MiB."""
    units = {"b": 1 / 2 ** 20, "kb": 1 / 1024, "mb": 1, "gb": 1024, "tb": 2 ** 20}
    number = text.rstrip("bkmgt")
    return float(number) * units[text[len(number):]]


def check_index(server, meta):
    """docs.count is every document and four filters count what the generator counted."""
    client = Client(server.port)
    rows = client.json("GET", f"/_cat/indices/{INDEX}?format=json")
    count, size = int(rows[0]["docs.count"]), rows[0]["store.size"]
    if count != meta["docs"]:
        raise BenchError(f"_cat/indices docs.count is {count:,}, expected {meta['docs']:,}")
    for name, query in COUNT_CHECKS.items():
        got = client.json("POST", f"/{INDEX}/_count", {"query": query})["count"]
        if got != meta["counts"][name]:
            raise BenchError(f"_count {json.dumps(query)} is {got:,}, the generator counted {meta['counts'][name]:,}")
    client.close()
    return count, size


def query_pools(titles, size=2000):
    """Per kind, `size` encoded request bodies with what to check; the same in every run."""
    pools = {}
    for k, kind in enumerate(KINDS):
        rng = random.Random(1000 + k)
        pools[kind] = [(json.dumps(b).encode(), e) for b, e in (make_query(kind, rng, titles) for _ in range(size))]
    return pools


def run_queries(server, kind, pool, clients, warmup, seconds):
    """Closed loop: each thread sends its next query as soon as the last one is answered. Requests started in the
    `seconds` after the warm-up are measured."""
    begin = time.monotonic() + warmup
    until = begin + seconds
    latencies, totals, errors = [], [], []

    def worker(k):
        client = Client(server.port)
        mine, hits = [], []
        i = k
        try:
            while not errors:
                started = time.monotonic()
                if started >= until:
                    break
                body, expect = pool[i % len(pool)]
                i += clients
                t0 = time.perf_counter()
                status, data = client.request("POST", f"/{INDEX}/_search", body)
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise BenchError(f"{kind}: HTTP {status} for {body[:500].decode()}: "
                                     f"{data[:1000].decode(errors='replace')}")
                problem, total = check_response(kind, expect, json.loads(data))
                if problem:
                    raise BenchError(f"{kind}: {problem}; request {body.decode()[:500]}")
                if started >= begin:
                    mine.append(elapsed)
                    hits.append(total)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e if isinstance(e, BenchError) else BenchError(f"{kind}: {e!r}"))
        finally:
            client.close()
            latencies.extend(mine)
            totals.extend(hits)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, begin - time.monotonic()))
    meter = CpuMeter(server)
    time.sleep(max(0.0, until - time.monotonic()))
    node_cpu, client_cpu, other_cpu = meter.read()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if not latencies:
        raise BenchError(f"{kind}: no request completed in {seconds} s")
    return {"requests": len(latencies), "rps": len(latencies) / seconds, "p50": statistics.median(latencies) * 1e3,
            "p99": quantile(latencies, 0.99) * 1e3, "hits": statistics.median(totals), "node_cpu": node_cpu,
            "client_cpu": client_cpu, "other_cpu": other_cpu}


def one_run(label, node_bin, shards, bodies, meta, pools, args):
    run_dir = os.path.join(DATA, f"search-node-run-{os.getpid()}-{label}")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    server = None
    try:
        server = Server(node_bin, run_dir)
        client = Client(server.port)
        client.json("PUT", f"/{INDEX}", index_body(shards))
        client.close()
        result = load(server, bodies, args.clients)
        result["count"], result["store"] = check_index(server, meta)
        result["rss_load"], result["anon_load"] = server.status_mib("VmHWM"), server.max_anon
        print(f"  {label}: {result['docs_s']:,.0f} docs/s over {result['seconds']:.1f} s (refresh "
              f"{result['refresh_seconds']:.1f} s), docs.count {result['count']:,}, store.size {result['store']}, "
              f"peak RSS {result['rss_load']:,.0f} MiB (anon {result['anon_load']:,.0f}), CPU node "
              f"{result['node_cpu']:.2f} client {result['client_cpu']:.2f} other {result['other_cpu']:.2f}",
              file=sys.stderr, flush=True)
        result["queries"] = {}
        for kind in KINDS:
            q = run_queries(server, kind, pools[kind], args.query_clients, args.warmup_seconds, args.query_seconds)
            result["queries"][kind] = q
            print(f"  {label} {kind}: {q['requests']:,} requests, {q['rps']:,.1f}/s, p50 {q['p50']:.1f} ms, "
                  f"p99 {q['p99']:.1f} ms, median hits {q['hits']:,.0f}, CPU node {q['node_cpu']:.2f} client "
                  f"{q['client_cpu']:.2f} other {q['other_cpu']:.2f}", file=sys.stderr, flush=True)
        result["rss_all"] = server.status_mib("VmHWM")
        result["anon"] = server.max_anon
        if not server.alive():
            raise BenchError(f"imdb-search-node exited with {server.proc.returncode} during the run")
    except (BenchError, OSError, http.client.HTTPException) as e:
        state = "running" if server and server.alive() else f"exited with {server.proc.returncode}" if server else "-"
        print(f"\nFAILED ({label}): {e}\ncommand: {' '.join(sys.argv)}\nserver: {state}; data and log kept in "
              f"{run_dir}", file=sys.stderr)
        if server:
            server.stop()
            print(f"server log tail ({server.log_path}):\n{server.log_tail()}", file=sys.stderr)
        sys.exit(1)
    code = server.stop()
    for line in server.problems()[:10]:
        print(f"  node log: {line.rstrip()}", file=sys.stderr)
    if code != 0:
        print(f"\nimdb-search-node exited with {code} on SIGTERM; log tail:\n{server.log_tail()}", file=sys.stderr)
        sys.exit(1)
    if not args.keep:
        shutil.rmtree(run_dir)
    return result


# --- report --------------------------------------------------------------------------------------------------------

def report(args, shard_list, results, ndjson_bytes, build):
    first = shard_list[0]
    ratio = len(shard_list) > 1
    print(f"\n## imdb-search-node: bulk indexing and query latency ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/search_node.py "
          f"{' '.join(sys.argv[1:])}`")
    print(f"- Data: {args.docs:,} generated titles (seed 42), {ndjson_bytes / 1e6:,.0f} MB of bulk NDJSON; one index, "
          f"replicas 0, refresh_interval 30s; `_bulk` of {args.batch} documents from {args.clients} client threads. "
          f"Queries: {args.query_clients} client threads, {args.query_seconds:g} s per kind after "
          f"{args.warmup_seconds:g} s of warm-up. Clients (Python) and node share the machine; CPU columns are "
          f"cores busy (other: the rest of the machine). Medians of {args.runs} run{'s' if args.runs > 1 else ''}.\n")
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    print("| docs | shards | seconds | docs/s | MB/s | bulk p50 ms | bulk p99 ms | refresh s | docs.count | store MiB "
          "| peak RSS MiB (load) | peak anon MiB (load) | peak RSS MiB (all) | node CPU | client CPU | other CPU |"
          + (f" docs/s vs {first} |" if ratio else ""))
    print("|" + "---:|" * (16 + ratio))
    base = med(results[first], "docs_s")
    for shards in shard_list:
        rs = results[shards]
        store = statistics.median(parse_size(r["store"]) for r in rs)
        print(f"| {args.docs:,} | {shards} | {med(rs, 'seconds'):.1f} | {med(rs, 'docs_s'):,.0f} | "
              f"{med(rs, 'mb_s'):.1f} | {med(rs, 'bulk_p50'):,.0f} | {med(rs, 'bulk_p99'):,.0f} | "
              f"{med(rs, 'refresh_seconds'):.1f} | {rs[0]['count']:,} | {store:,.0f} | {med(rs, 'rss_load'):,.0f} | "
              f"{med(rs, 'anon_load'):,.0f} | {med(rs, 'rss_all'):,.0f} | {med(rs, 'node_cpu'):.2f} | "
              f"{med(rs, 'client_cpu'):.2f} | {med(rs, 'other_cpu'):.2f} |"
              + (f" {med(rs, 'docs_s') / base:.2f} |" if ratio else ""))
    print("\n| docs | shards | query | requests | req/s | p50 ms | p99 ms | median hits | node CPU | client CPU "
          "| other CPU |" + (f" req/s vs {first} |" if ratio else ""))
    print("|---:|---:|---|" + "---:|" * (8 + ratio))
    for kind in KINDS:
        base = statistics.median(r["queries"][kind]["rps"] for r in results[first])
        for shards in shard_list:
            qs = [r["queries"][kind] for r in results[shards]]
            print(f"| {args.docs:,} | {shards} | {kind} | {med(qs, 'requests'):,.0f} | {med(qs, 'rps'):,.1f} | "
                  f"{med(qs, 'p50'):.1f} | {med(qs, 'p99'):.1f} | {med(qs, 'hits'):,.0f} | "
                  f"{med(qs, 'node_cpu'):.2f} | {med(qs, 'client_cpu'):.2f} | {med(qs, 'other_cpu'):.2f} |"
                  + (f" {med(qs, 'rps') / base:.2f} |" if ratio else ""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1000000, help="title documents to index")
    p.add_argument("--runs", type=int, default=1, help="repetitions; medians are reported")
    p.add_argument("--shards", default="1", help="comma-separated shard counts, compared side by side")
    p.add_argument("--batch", type=int, default=1000, help="documents per _bulk request")
    p.add_argument("--clients", type=int, default=2, help="concurrent _bulk client threads")
    p.add_argument("--query-clients", type=int, default=4, help="concurrent search client threads")
    p.add_argument("--query-seconds", type=float, default=20, help="measured seconds per query kind")
    p.add_argument("--warmup-seconds", type=float, default=2, help="unmeasured seconds before each query kind")
    p.add_argument("--keep", action="store_true", help="keep the node's data folders and logs in bench/.data/")
    args = p.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} not found: run `cargo build --release --workspace --bins` from the repository root first")
    shard_list = [int(s) for s in args.shards.split(",")]
    build = build_info(("imdb-search-node",), ("search-node",))
    # Every run uses this copy: a rebuild of target/ during the session cannot mix two binaries.
    os.makedirs(DATA, exist_ok=True)
    node_bin = os.path.join(DATA, f"imdb-search-node-{os.getpid()}")
    shutil.copy2(BIN, node_bin)
    lines, meta = dataset(args.docs)
    bodies = bulk_bodies(lines, args.batch)
    del lines
    pools = query_pools(meta["titles"])
    results = {s: [] for s in shard_list}
    try:
        for run in range(args.runs):
            for shards in shard_list:  # interleaved, so drift hits every variant alike
                print(f"run {run + 1}/{args.runs}, {shards} shard(s)", file=sys.stderr, flush=True)
                results[shards].append(one_run(f"s{shards}-r{run + 1}", node_bin, shards, bodies, meta, pools, args))
    finally:
        os.unlink(node_bin)
    report(args, shard_list, results, sum(len(b) for _, b in bodies), build)


if __name__ == "__main__":
    main()
