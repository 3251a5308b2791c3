"""The title documents bench/search_node.py indexes: the fields of the model's `TitleDoc`, generated
deterministically (`random.Random(42)`) and kept in `bench/.data/search-node-titles-<docs>-v<n>.ndjson` with what
the checks and queries need (counts of four filters, a sample of titles) beside it. Python 3 standard library only.
"""
import functools
import itertools
import json
import os
import random
import sys
import time

from common import DATA

GENERATOR_VERSION = 1  # bump when the documents change: cached files are keyed by it

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
