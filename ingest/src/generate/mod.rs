//! Synthetic IMDb dataset generator (`imdb-ingest generate --titles N --seed S --out DIR`).
//!
//! Writes the seven files of the official IMDb non-commercial dump into `out`, gzipped:
//! `title.basics`, `title.akas`, `title.crew`, `title.episode`, `title.principals`, `title.ratings`
//! and `name.basics` (each `*.tsv.gz`), in their exact format: UTF-8, the official header line,
//! tab-separated fields, `\N` for null, `\n` line ends.
//!
//! Contract:
//! - **Ids.** Titles are `tt0000001..=tt{N}`, names `nm0000001..=nm{names_for(N)}` (seven digits, more
//!   when needed). Every file is sorted as IMDb's are: by its first column as text, byte-wise, so from
//!   10,000,000 on the 8-digit ids interleave with the 7-digit ones (`tt1000000` < `tt10000000` < ... <
//!   `tt10000009` < `tt1000001`); below that text order is numeric order. Principals and akas are
//!   sorted by `(id text, ordering)` with `ordering` starting at 1. Rows are generated in that order
//!   (see `text_order`), so a title's content depends on its position in the file, not on its id.
//!   Every referenced tconst exists in `title.basics`, every referenced nconst in `name.basics`; an
//!   episode's parent is a tvSeries/tvMiniSeries that comes earlier in the files (above 10M titles its
//!   id may be numerically larger than the episode's, as in `tt10000005` before `tt1000001`).
//! - **Determinism.** Output is a pure function of `(titles, seed)`: the same inputs give byte-identical
//!   files (own PRNG, no clocks, gzip headers without timestamp or file name).
//! - **Memory.** One streaming pass; state is a few reusable buffers plus a fixed ring of open series,
//!   so memory does not grow with N (~6 MB resident at any N). Names are written on a second thread.
//! - **Distributions** roughly follow the real dump: ~55% tvEpisode, 19% movie, 8% short, 6% tvSeries;
//!   0-3 weighted genres (Drama, Comedy, Documentary first) in alphabetical order, ~5% `\N`; start years
//!   peaking in the 2010s; ~75% of titles rated, Pareto-like vote counts (5 up to 3,000,000) around a
//!   6.5 mean rating; ~6 principals and ~3 akas per title; people drawn with a Zipf-like popularity bias
//!   so some have thousands of credits. Titles and names mix English words, accented and non-Latin
//!   text, numbers and punctuation, and never contain a tab or newline.

mod rng;
mod vocab;

use rng::{Rng, mix};
use vocab::*;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// How to generate.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    /// Titles to generate.
    pub titles: u64,
    /// The same seed and size give byte-identical files.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
}

/// Rows written per file (file name like "title.basics.tsv.gz" -> data rows, header excluded), and bytes written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub files: Vec<(String, u64)>,
    /// Compressed bytes on disk, all seven files together.
    pub bytes: u64,
}

/// The number of names generated for `titles` titles (about 1.25 per title, at least 10).
pub fn names_for(titles: u64) -> u64 {
    titles.saturating_add(titles / 4).max(10)
}

/// Writes the seven gzipped files into `config.out` (created if missing). Summary files come in the
/// order basics, akas, crew, episode, principals, ratings, names.
pub fn generate(config: &GenerateSettings) -> io::Result<GenerateSummary> {
    generate_padded(config, ID_WIDTH)
}

/// Ids are zero-padded to this many digits (IMDb's seven).
const ID_WIDTH: u32 = 7;

/// [`generate`] with ids padded to `width` digits; tests use small widths to reach the ids past the
/// padding (where text order stops being numeric order) without writing ten million titles.
fn generate_padded(config: &GenerateSettings, width: u32) -> io::Result<GenerateSummary> {
    if config.titles == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "titles must be at least 1"));
    }
    fs::create_dir_all(&config.out)?;
    let (dir, seed, titles, names) = (config.out.as_path(), config.seed, config.titles, names_for(config.titles));
    // Names depend only on (seed, counts), never on the title stream, so they can be written in
    // parallel without giving up determinism.
    let (title_files, name_file) = std::thread::scope(|s| {
        let people = s.spawn(|| write_names(dir, width, seed, titles, names));
        let title_files = write_titles(dir, width, seed, titles, names);
        (title_files, people.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let mut summary = GenerateSummary::default();
    for (name, rows, bytes) in title_files?.into_iter().chain([name_file?]) {
        summary.files.push((name.to_owned(), rows));
        summary.bytes += bytes;
    }
    Ok(summary)
}

/// `1..=max` in the order of their decimal text zero-padded to `width` digits, byte-wise: the order of
/// IMDb's files. Numbers below `10^width` all have `width` characters, so among themselves text order
/// is numeric; a longer number sorts right after its prefix and before that prefix's successor
/// (`"1000000" < "10000000" < ... < "10000009" < "1000001"` for width 7). So this walks the tree where
/// each `n >= 10^(width-1)` has children `10n..=10n+9` (those `<= max`), depth first, in preorder:
/// constant memory, O(1) amortized per id. For `max < 10^width` it is exactly `1..=max`.
fn text_order(width: u32, max: u64) -> TextOrder {
    debug_assert!((1..=18).contains(&width), "{width}");
    let top = 10u64.pow(width);
    TextOrder { next: (max >= 1).then_some(1), max, top }
}

#[derive(Debug, Clone)]
struct TextOrder {
    next: Option<u64>,
    max: u64,
    /// `10^width`: the first number longer than the padding.
    top: u64,
}

impl Iterator for TextOrder {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        let current = self.next?;
        self.next = self.after(current);
        Some(current)
    }
}

impl TextOrder {
    fn after(&self, mut n: u64) -> Option<u64> {
        // First child, if any: n's text followed by "0". Padded numbers with a leading zero have none.
        if n >= self.top / 10 && n <= self.max / 10 {
            return Some(n * 10);
        }
        // Else the next sibling, climbing while the siblings run out (last digit 9, or past max).
        while n >= self.top {
            if n % 10 != 9 && n < self.max {
                return Some(n + 1);
            }
            n /= 10;
        }
        (n + 1 < self.top && n < self.max).then_some(n + 1)
    }
}

/// (file name, header line).
type Spec = (&'static str, &'static str);
const BASICS: Spec = (
    "title.basics.tsv.gz",
    "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres",
);
const AKAS: Spec =
    ("title.akas.tsv.gz", "titleId\tordering\ttitle\tregion\tlanguage\ttypes\tattributes\tisOriginalTitle");
const CREW: Spec = ("title.crew.tsv.gz", "tconst\tdirectors\twriters");
const EPISODES: Spec = ("title.episode.tsv.gz", "tconst\tparentTconst\tseasonNumber\tepisodeNumber");
const PRINCIPALS: Spec = ("title.principals.tsv.gz", "tconst\tordering\tnconst\tcategory\tjob\tcharacters");
const RATINGS: Spec = ("title.ratings.tsv.gz", "tconst\taverageRating\tnumVotes");
const NAMES: Spec =
    ("name.basics.tsv.gz", "nconst\tprimaryName\tbirthYear\tdeathYear\tprimaryProfession\tknownForTitles");

/// Gender as a pure function of the nconst, so the names file (first name, actor/actress) and the
/// principals (category, "Herself") agree without sharing state.
fn is_female(seed: u64, n: u64) -> bool {
    mix(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 100 < 45
}

const CHUNK: usize = 1 << 17;
/// (file name, data rows, compressed bytes).
type FileStats = (&'static str, u64, u64);

/// One gzipped TSV being written. Rows are assembled in a plain `Vec` (infallible pushes, so field
/// writers need no `?`) and handed to the encoder in large chunks, as a `BufWriter` would. Field
/// methods insert the tab separator themselves.
struct Out {
    name: &'static str,
    /// Digits ids are zero-padded to.
    width: usize,
    enc: GzEncoder<File>,
    buf: Vec<u8>,
    rows: u64,
    line_start: bool,
}

impl Out {
    fn create(dir: &Path, width: u32, (name, header): Spec) -> io::Result<Self> {
        let enc = GzEncoder::new(File::create(dir.join(name))?, Compression::fast());
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Out { name, width: width as usize, enc, buf, rows: 0, line_start: true })
    }
    fn field(&mut self) -> &mut Self {
        if !self.line_start {
            self.buf.push(b'\t');
        }
        self.line_start = false;
        self
    }
    fn raw(&mut self, s: &str) -> &mut Self {
        debug_assert!(!s.contains(['\t', '\n']), "{s:?}");
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// Decimal digits, zero-padded to `width` (never truncated).
    fn raw_num(&mut self, mut n: u64, width: usize) -> &mut Self {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&digits[i.min(20 - width)..]);
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        self.field().raw(s)
    }
    fn null(&mut self) -> &mut Self {
        self.text("\\N")
    }
    fn num(&mut self, n: u64) -> &mut Self {
        self.field().raw_num(n, 1)
    }
    fn opt(&mut self, n: Option<u64>) -> &mut Self {
        if let Some(n) = n { self.num(n) } else { self.null() }
    }
    fn tt(&mut self, n: u64) -> &mut Self {
        self.ids("tt", &[n])
    }
    /// Comma-separated ids, or `\N` when empty.
    fn ids(&mut self, prefix: &str, ids: &[u64]) -> &mut Self {
        if ids.is_empty() {
            return self.null();
        }
        self.field();
        let width = self.width;
        for (i, &n) in ids.iter().enumerate() {
            self.raw(if i == 0 { "" } else { "," }).raw(prefix).raw_num(n, width);
        }
        self
    }
    fn end(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.rows += 1;
        self.line_start = true;
        if self.buf.len() >= CHUNK {
            self.enc.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    fn finish(mut self) -> io::Result<FileStats> {
        self.enc.write_all(&self.buf)?;
        let bytes = self.enc.finish()?.metadata()?.len();
        Ok((self.name, self.rows, bytes))
    }
}

struct TitleFiles {
    basics: Out,
    akas: Out,
    crew: Out,
    episode: Out,
    principals: Out,
    ratings: Out,
}

/// A series that later episodes may attach to.
#[derive(Debug, Clone, Copy)]
struct Series {
    id: u64,
    start: Option<u64>,
    season: u64,
    episode: u64,
    numbered: bool,
    mini: bool,
}

/// Open series kept for episodes; its fixed size keeps memory independent of N.
const RING: usize = 64;

/// Title-stream state; the buffers are reused from row to row.
struct TitleGen {
    rng: Rng,
    seed: u64,
    names: u64,
    ring: Vec<Series>,
    primary: String,
    original: String,
    scratch: String,
    /// This title's people: directors, then writers, then cast.
    credited: Vec<u64>,
}

fn write_titles(dir: &Path, width: u32, seed: u64, titles: u64, names: u64) -> io::Result<Vec<FileStats>> {
    let create = |spec| Out::create(dir, width, spec);
    let (basics, akas, crew) = (create(BASICS)?, create(AKAS)?, create(CREW)?);
    let (episode, principals, ratings) = (create(EPISODES)?, create(PRINCIPALS)?, create(RATINGS)?);
    let mut f = TitleFiles { basics, akas, crew, episode, principals, ratings };
    let (rng, ring, credited) = (Rng::new(seed, 1), Vec::with_capacity(RING), Vec::new());
    let (primary, original, scratch) = (String::new(), String::new(), String::new());
    let mut g = TitleGen { rng, seed, names, ring, primary, original, scratch, credited };
    for t in text_order(width, titles) {
        g.title(t, &mut f)?;
    }
    let files = [f.basics, f.akas, f.crew, f.episode, f.principals, f.ratings];
    files.into_iter().map(Out::finish).collect()
}

impl TitleGen {
    fn title(&mut self, t: u64, f: &mut TitleFiles) -> io::Result<()> {
        let mut ty = self.rng.weighted(&TYPE_WEIGHTS);
        if ty == EPISODE && self.ring.is_empty() {
            ty = MOVIE;
        }
        let year = if ty == EPISODE {
            self.episode(t, &mut f.episode)?
        } else {
            english_title(&mut self.rng, &mut self.primary);
            start_year(&mut self.rng, ty)
        };
        self.original.clone_from(&self.primary);
        if ty != EPISODE && self.rng.pct(20) {
            let lang = self.rng.below(LANGS.len() as u64) as usize;
            foreign_title(&mut self.rng, lang, &mut self.original);
        }
        let r = &mut self.rng;
        let end_year = match (ty, year) {
            (SERIES, Some(y)) if r.pct(60) => Some((y + r.below(15)).min(2026)),
            (MINI, Some(y)) => Some((y + r.below(2)).min(2026)),
            _ => None,
        };
        let adult = matches!(ty, MOVIE | VIDEO | SHORT) && r.pct(3);
        let (genres, runtime) = (genres(r, ty, adult), runtime(r, ty));
        let b = &mut f.basics;
        b.tt(t).text(TYPES[ty]).text(&self.primary).text(&self.original);
        b.num(u64::from(adult)).opt(year).opt(end_year).opt(runtime);
        if genres == 0 {
            b.null();
        } else {
            let mut sep = "";
            b.field();
            for (_, g) in GENRES.iter().enumerate().filter(|(i, _)| genres & 1 << i != 0) {
                b.raw(sep).raw(g);
                sep = ",";
            }
        }
        b.end()?;
        if ty == SERIES || ty == MINI {
            self.open_series(t, year, ty == MINI);
        }
        rating(&mut self.rng, t, ty, &mut f.ratings)?;
        self.people(t, genres & SELF_GENRES != 0, f)?;
        self.akas(t, &mut f.akas)
    }

    /// Attaches episode `t` to an open series, writes its episode row, leaves its title in `primary`
    /// and returns its start year.
    fn episode(&mut self, t: u64, o: &mut Out) -> io::Result<Option<u64>> {
        let r = &mut self.rng;
        let slot = r.below(self.ring.len() as u64) as usize;
        let s = &mut self.ring[slot];
        if s.episode > 0 && !s.mini && r.pct(12) {
            s.season += 1;
            s.episode = 0;
        }
        s.episode += 1;
        let s = *s;
        let numbered = s.numbered && !r.pct(5);
        o.tt(t).tt(s.id);
        if numbered {
            o.num(s.season).num(s.episode)
        } else {
            o.null().null()
        };
        o.end()?;
        self.primary.clear();
        if numbered && r.pct(35) {
            let _ = write!(self.primary, "Episode #{}.{}", s.season, s.episode);
        } else if s.season == 1 && s.episode == 1 && r.pct(50) {
            self.primary.push_str("Pilot");
        } else {
            english_title(r, &mut self.primary);
        }
        Ok(s.start.map(|y| (y + s.season - 1).min(2026)))
    }

    fn open_series(&mut self, id: u64, start: Option<u64>, mini: bool) {
        let s = Series { id, start, season: 1, episode: 0, numbered: self.rng.pct(92), mini };
        if self.ring.len() < RING {
            self.ring.push(s);
        } else {
            // Random eviction gives series geometric lifetimes: a few run for a long time.
            self.ring[self.rng.below(RING as u64) as usize] = s;
        }
    }

    /// A popularity-biased nconst: 40% from a log-uniform (Zipf s=1) law, offset so the most popular
    /// person lands in ~0.1% of credits rather than 5%; the rest uniform.
    fn person(&mut self) -> u64 {
        const OFFSET: f64 = 50.0;
        let m = self.names;
        if self.rng.pct(40) {
            let x = OFFSET * ((m as f64 + OFFSET) / OFFSET).powf(self.rng.unit()) - OFFSET;
            (x as u64).min(m - 1) + 1
        } else {
            self.rng.below(m) + 1
        }
    }

    /// Credits a person not yet credited on this title, if a few tries find one.
    fn credit_new_person(&mut self) -> u64 {
        let mut p = self.person();
        for _ in 0..3 {
            if !self.credited.contains(&p) {
                break;
            }
            p = self.person();
        }
        self.credited.push(p);
        p
    }

    /// The crew row, then principals: cast, the crew's directors and writers, other crew.
    fn people(&mut self, t: u64, self_cast: bool, f: &mut TitleFiles) -> io::Result<()> {
        self.credited.clear();
        let directors = self.rng.weighted(&[8, 80, 12]);
        for _ in 0..directors {
            self.credit_new_person();
        }
        let writers = self.rng.weighted(&[25, 45, 22, 8]);
        for i in 0..writers {
            if i == 0 && directors > 0 && self.rng.pct(25) {
                self.credited.push(self.credited[0]); // writer-director
            } else {
                self.credit_new_person();
            }
        }
        let (d, w) = self.credited.split_at(directors);
        f.crew.tt(t).ids("nm", d).ids("nm", w).end()?;
        if self.rng.pct(8) {
            return Ok(());
        }
        let (p, mut ord) = (&mut f.principals, 0);
        for _ in 0..self.rng.weighted(&[6, 8, 12, 18, 26, 30]) {
            let n = self.credit_new_person();
            let female = is_female(self.seed, n);
            let category = if self_cast {
                "self"
            } else if female {
                "actress"
            } else {
                "actor"
            };
            credit(p, t, &mut ord, n, category, "\\N");
            characters(&mut self.rng, p, self_cast, female);
            p.end()?;
        }
        for &n in &self.credited[..directors] {
            credit(p, t, &mut ord, n, "director", "\\N").null().end()?;
        }
        for &n in &self.credited[directors..directors + writers] {
            let job = WRITER_JOBS[self.rng.weighted(&WRITER_JOB_WEIGHTS)];
            credit(p, t, &mut ord, n, "writer", job).null().end()?;
        }
        for (category, percent) in EXTRAS {
            if ord >= 10 || !self.rng.pct(percent) {
                continue;
            }
            let job = match category {
                "producer" => ["producer", "executive producer"][self.rng.weighted(&[7, 3])],
                "cinematographer" if self.rng.pct(20) => "director of photography",
                _ => "\\N",
            };
            let n = self.person();
            credit(p, t, &mut ord, n, category, job).null().end()?;
        }
        Ok(())
    }

    /// 0-6 akas; the first is usually the original title, listed as IMDb does.
    fn akas(&mut self, t: u64, o: &mut Out) -> io::Result<()> {
        let count = self.rng.weighted(&[10, 12, 16, 20, 18, 14, 10]) as u64;
        for ord in 1..=count {
            let r = &mut self.rng;
            o.tt(t).num(ord);
            if ord == 1 && r.pct(90) {
                o.text(&self.original).null().null().text("original").null().num(1).end()?;
                continue;
            }
            let (region, lang) = REGIONS[r.weighted(&REGION_WEIGHTS)];
            let title = match lang {
                Some(l) if r.pct(50) => foreign_title(r, l, &mut self.scratch),
                _ => &self.primary,
            };
            o.text(title).text(region);
            match lang {
                Some(l) if r.pct(30) => o.text(LANGS[l].code),
                None if region == "XWW" && r.pct(50) => o.text("en"),
                _ => o.null(),
            };
            o.text(AKA_TYPES[r.weighted(&AKA_TYPE_WEIGHTS)]);
            o.text(if r.pct(90) { "\\N" } else { r.pick(AKA_ATTRIBUTES) }).num(0).end()?;
        }
        Ok(())
    }
}

/// The first five principals fields, numbering the credit.
fn credit<'o>(p: &'o mut Out, t: u64, ord: &mut u64, n: u64, category: &str, job: &str) -> &'o mut Out {
    *ord += 1;
    p.tt(t).num(*ord).ids("nm", &[n]).text(category).text(job)
}

/// The `characters` field: a JSON array string, or `\N`. Word lists hold no `"` or `\`, so no escaping.
fn characters(r: &mut Rng, o: &mut Out, self_cast: bool, female: bool) {
    if r.pct(12) {
        o.null();
        return;
    }
    o.field().raw("[\"");
    if self_cast {
        o.raw(match r.below(4) {
            0 => "Self - Host",
            1 => "Self",
            _ if female => "Herself",
            _ => "Himself",
        });
    } else {
        character(r, o, female);
        if r.pct(8) {
            o.raw("\",\"");
            character(r, o, female);
        }
    }
    o.raw("\"]");
}

fn character(r: &mut Rng, o: &mut Out, female: bool) {
    let first = if female { FIRST_F } else { FIRST_M };
    match r.below(10) {
        0 => o.raw(r.pick(ROLES)),
        1 => o.raw(r.pick(ROLE_PREFIX)).raw(r.pick(LAST)),
        2..=4 => o.raw(r.pick(first)),
        _ => o.raw(r.pick(first)).raw(" ").raw(r.pick(LAST)),
    };
}

fn english_title(r: &mut Rng, s: &mut String) {
    let (adj, noun) = (r.pick(ADJ), r.pick(NOUN));
    let first = if r.pct(50) { r.pick(FIRST_F) } else { r.pick(FIRST_M) };
    let parts: [&str; 5] = match r.below(16) {
        0..=3 => ["The ", adj, " ", noun, ""],
        4 => [noun, " of the ", adj, " ", r.pick(NOUN)],
        5 | 6 => [r.pick(INTO_PLACE), r.pick(PLACE), "", "", ""],
        7 => [first, "'s ", noun, "", ""],
        8 => ["The ", noun, "", "", ""],
        9 | 10 => [adj, " ", noun, "", ""],
        11 => [r.pick(PLACE), " ", noun, "", ""],
        12 => [r.pick(NUMBERS), "", "", "", ""],
        13 => ["A ", noun, " in ", r.pick(PLACE), ""],
        14 => [first, " and the ", adj, " ", noun],
        _ => [first, "", "", "", ""],
    };
    s.clear();
    parts.iter().for_each(|p| s.push_str(p));
    if r.pct(6) {
        s.push_str(r.pick(SUFFIXES));
    }
}

fn foreign_title<'s>(r: &mut Rng, lang: usize, s: &'s mut String) -> &'s str {
    let l = &LANGS[lang];
    s.clear();
    s.push_str(r.pick(l.heads));
    if !l.tails.is_empty() && r.pct(60) {
        s.push_str(r.pick(l.tails));
    }
    s
}

/// Mostly a gamma-shaped age (peak ~12 years back, median ~2006) with a thin uniform tail, never
/// before the medium existed.
fn start_year(r: &mut Rng, ty: usize) -> Option<u64> {
    if r.pct(3) {
        return None;
    }
    let floor = match ty {
        GAME => 1972,
        VIDEO => 1960,
        SERIES | MINI | TV_MOVIE | SPECIAL | TV_SHORT => 1936,
        _ => 1894,
    };
    let span = 2027 - floor;
    let age = -12.0 * ((1.0 - r.unit()) * (1.0 - r.unit())).ln();
    let age = if r.pct(5) { r.below(span) } else { (age as u64).min(span - 1) };
    Some(2026 - age)
}

fn runtime(r: &mut Rng, ty: usize) -> Option<u64> {
    if r.pct(20) || (ty == GAME && r.pct(90)) {
        return None;
    }
    Some(match ty {
        MOVIE => 70 + r.below(21) + r.below(21) + r.below(21) + u64::from(r.pct(8)) * r.below(90),
        SHORT | TV_SHORT => 1 + r.below(40).min(r.below(40)),
        EPISODE | SERIES => [22, 24, 25, 30, 42, 44, 45, 50, 60][r.below(9) as usize],
        MINI => 40 + r.below(21),
        TV_MOVIE => 60 + r.below(61),
        SPECIAL => 30 + r.below(91),
        _ => 5 + r.below(116),
    })
}

/// A bit mask over `GENRES`; 0 means `\N`.
fn genres(r: &mut Rng, ty: usize, adult: bool) -> u32 {
    if !adult && r.pct(5) {
        return 0;
    }
    let mut mask = u32::from(adult) << ADULT_GENRE;
    if matches!(ty, SHORT | TV_SHORT) && r.pct(60) {
        mask |= 1 << SHORT_GENRE;
    }
    let want = 1 + r.weighted(&[45, 30, 25]) as u32;
    while mask.count_ones() < want {
        mask |= 1 << r.weighted(&GENRE_WEIGHTS);
    }
    mask
}

/// Pareto-tailed votes (steeper for episodes), bent softly under the 3,000,000 cap instead of piling
/// up on it, and a roughly normal rating around 6.5, wider when votes are few.
fn rating(r: &mut Rng, t: u64, ty: usize, o: &mut Out) -> io::Result<()> {
    if !r.pct(if ty == EPISODE { 60 } else { 90 }) {
        return Ok(());
    }
    let alpha = if ty == EPISODE { 1.0 } else { 0.75 };
    let pareto = 5.0 * (1.0 - r.unit()).powf(-1.0 / alpha);
    let votes = (pareto * 3e6 / (3e6 + pareto)).max(5.0) as u64;
    let z = (r.unit() + r.unit() + r.unit() + r.unit() - 2.0) * 3f64.sqrt();
    let sd = if votes < 50 { 1.4 } else { 1.0 };
    let tenths = ((6.5 + sd * z) * 10.0).round().clamp(10.0, 100.0) as u64;
    o.tt(t).num(tenths / 10).raw(".").raw_num(tenths % 10, 1).num(votes).end()
}

fn write_names(dir: &Path, width: u32, seed: u64, titles: u64, names: u64) -> io::Result<FileStats> {
    let (mut o, mut r, mut known) = (Out::create(dir, width, NAMES)?, Rng::new(seed, 2), Vec::with_capacity(4));
    for n in text_order(width, names) {
        let female = is_female(seed, n);
        o.ids("nm", &[n]).field().raw(r.pick(if female { FIRST_F } else { FIRST_M }));
        if r.pct(4) {
            o.raw(" ").raw(r.pick(INITIALS));
        }
        o.raw(" ").raw(r.pick(LAST)).raw(if r.pct(1) { " Jr." } else { "" });
        let (birth, death) = life(&mut r);
        o.opt(birth).opt(death);
        professions(&mut r, &mut o, female);
        known.clear();
        for _ in 0..r.weighted(&[15, 20, 20, 15, 30]) {
            let t = r.below(titles) + 1;
            if !known.contains(&t) {
                known.push(t);
            }
        }
        o.ids("tt", &known).end()?;
    }
    o.finish()
}

/// Birth year (half unknown, mostly 20th century) and a plausible death year.
fn life(r: &mut Rng) -> (Option<u64>, Option<u64>) {
    if r.pct(50) {
        return (None, r.pct(3).then(|| 1900 + r.below(126)));
    }
    let birth = 1850 + (161.0 * (1.0 - r.unit().powi(3))) as u64;
    let dies = match birth {
        ..1925 => 75,
        1925..1950 => 30,
        _ => 3,
    };
    let death = (birth <= 2006 && r.pct(dies)).then(|| birth + 20 + r.below(2007 - birth));
    (Some(birth), death)
}

/// 0-3 distinct professions, most important first.
fn professions(r: &mut Rng, o: &mut Out, female: bool) {
    if r.pct(8) {
        o.null();
        return;
    }
    let (count, mut mask) = (1 + r.weighted(&[50, 30, 20]) as u32, 0u32);
    o.field();
    while mask.count_ones() < count {
        let p = r.weighted(&PROFESSION_WEIGHTS);
        if mask & 1 << p == 0 {
            o.raw(if mask == 0 { "" } else { "," }).raw(if p == 0 && female { "actress" } else { PROFESSIONS[p] });
            mask |= 1 << p;
        }
    }
}

#[cfg(test)]
mod tests;
