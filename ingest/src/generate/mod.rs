//! Synthetic IMDb dataset generator (`imdb-ingest generate --titles N --seed S --out DIR`).
//!
//! Writes the seven files of the official IMDb non-commercial dump into `out`, gzipped:
//! `title.basics`, `title.akas`, `title.crew`, `title.episode`, `title.principals`, `title.ratings`
//! and `name.basics` (each `*.tsv.gz`), in their exact format: UTF-8, the official header line,
//! tab-separated fields, `\N` for null, `\n` line ends.
//!
//! Contract:
//! - **Ids.** Titles are `tt0000001..=tt{N}`, names `nm0000001..=nm{names_for(N)}` (seven digits, more
//!   when needed). Every file is sorted by its first column in numeric order; principals and akas by
//!   `(id, ordering)` with `ordering` starting at 1. Every referenced tconst exists in `title.basics`,
//!   every referenced nconst in `name.basics`; an episode's parent is an earlier tvSeries/tvMiniSeries.
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
pub struct GenerateConfig {
    pub titles: u64,
    pub seed: u64,
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
pub fn generate(config: &GenerateConfig) -> io::Result<GenerateSummary> {
    if config.titles == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "titles must be at least 1"));
    }
    fs::create_dir_all(&config.out)?;
    let (dir, seed, titles, names) = (config.out.as_path(), config.seed, config.titles, names_for(config.titles));
    // Names depend only on (seed, counts), never on the title stream, so they can be written in
    // parallel without giving up determinism.
    let (title_files, name_file) = std::thread::scope(|s| {
        let people = s.spawn(|| write_names(dir, seed, titles, names));
        let title_files = write_titles(dir, seed, titles, names);
        (title_files, people.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let mut summary = GenerateSummary::default();
    for (name, rows, bytes) in title_files?.into_iter().chain([name_file?]) {
        summary.files.push((name.to_owned(), rows));
        summary.bytes += bytes;
    }
    Ok(summary)
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
    enc: GzEncoder<File>,
    buf: Vec<u8>,
    rows: u64,
    line_start: bool,
}

impl Out {
    fn create(dir: &Path, (name, header): Spec) -> io::Result<Self> {
        let enc = GzEncoder::new(File::create(dir.join(name))?, Compression::fast());
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Out { name, enc, buf, rows: 0, line_start: true })
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
        for (i, &n) in ids.iter().enumerate() {
            self.raw(if i == 0 { "" } else { "," }).raw(prefix).raw_num(n, 7);
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

fn write_titles(dir: &Path, seed: u64, titles: u64, names: u64) -> io::Result<Vec<FileStats>> {
    let (basics, akas, crew) = (Out::create(dir, BASICS)?, Out::create(dir, AKAS)?, Out::create(dir, CREW)?);
    let (episode, principals) = (Out::create(dir, EPISODES)?, Out::create(dir, PRINCIPALS)?);
    let mut f = TitleFiles { basics, akas, crew, episode, principals, ratings: Out::create(dir, RATINGS)? };
    let (rng, ring, credited) = (Rng::new(seed, 1), Vec::with_capacity(RING), Vec::new());
    let (primary, original, scratch) = (String::new(), String::new(), String::new());
    let mut g = TitleGen { rng, seed, names, ring, primary, original, scratch, credited };
    for t in 1..=titles {
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

fn write_names(dir: &Path, seed: u64, titles: u64, names: u64) -> io::Result<FileStats> {
    let (mut o, mut r, mut known) = (Out::create(dir, NAMES)?, Rng::new(seed, 2), Vec::with_capacity(4));
    for n in 1..=names {
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
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    const ALL: [Spec; 7] = [BASICS, AKAS, CREW, EPISODES, PRINCIPALS, RATINGS, NAMES];

    fn run(dir: &Path, titles: u64, seed: u64) -> io::Result<GenerateSummary> {
        generate(&GenerateConfig { titles, seed, out: dir.to_path_buf() })
    }

    fn id(field: &str) -> u64 {
        field[2..].parse().unwrap_or_else(|_| panic!("bad id {field:?}"))
    }

    fn ids(field: &str) -> Vec<u64> {
        if field == "\\N" { Vec::new() } else { field.split(',').map(id).collect() }
    }

    /// Data rows of one file, after checking its header, shape and sort order.
    fn rows(dir: &Path, (name, header): Spec) -> Vec<Vec<String>> {
        let mut text = String::new();
        GzDecoder::new(File::open(dir.join(name)).unwrap()).read_to_string(&mut text).unwrap();
        assert!(text.ends_with('\n') && !text.contains('\r'), "{name}");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header), "{name}");
        let width = header.split('\t').count();
        let by_ordering = header.split('\t').nth(1) == Some("ordering");
        let (mut prev, mut out) = ((0, 0), Vec::new());
        for line in lines {
            let f: Vec<String> = line.split('\t').map(str::to_owned).collect();
            assert_eq!(f.len(), width, "{name}: {line:?}");
            assert!(f.iter().all(|x| !x.is_empty()), "{name}: {line:?}");
            let key = (id(&f[0]), if by_ordering { f[1].parse().unwrap() } else { 0u64 });
            assert!(key > prev, "{name} unsorted at {line:?}");
            let next = key.1 == 1 || (key.0 == prev.0 && key.1 == prev.1 + 1);
            assert!(!by_ordering || next, "{name} ordering gap at {line:?}");
            prev = key;
            out.push(f);
        }
        out
    }

    #[test]
    fn deterministic_per_seed() {
        let [a, b, c] = [(), (), ()].map(|()| tempfile::tempdir().unwrap());
        run(a.path(), 300, 1).unwrap();
        run(b.path(), 300, 1).unwrap();
        run(c.path(), 300, 2).unwrap();
        let read = |d: &tempfile::TempDir, n: &str| fs::read(d.path().join(n)).unwrap();
        for (name, _) in ALL {
            assert_eq!(read(&a, name), read(&b, name), "{name}");
            assert_ne!(read(&a, name), read(&c, name), "{name}");
        }
    }

    #[test]
    fn rejects_zero_titles_and_sizes_names() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run(dir.path(), 0, 1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!([names_for(1), names_for(100), names_for(1000)], [10, 125, 1250]);
        let summary = run(&dir.path().join("new/sub"), 10, 3).unwrap();
        assert_eq!(summary.files[0], (BASICS.0.to_owned(), 10));
        assert_eq!(summary.files[6], (NAMES.0.to_owned(), names_for(10)));
    }

    #[test]
    fn files_are_consistent() {
        let (dir, n) = (tempfile::tempdir().unwrap(), 2000);
        let summary = run(dir.path(), n, 42).unwrap();
        let all = ALL.map(|spec| rows(dir.path(), spec));
        let counts = ALL.iter().zip(&all).map(|(s, r)| (s.0.to_owned(), r.len() as u64));
        assert_eq!(summary.files, counts.collect::<Vec<_>>());
        let size = |s: &Spec| fs::metadata(dir.path().join(s.0)).unwrap().len();
        assert_eq!(summary.bytes, ALL.iter().map(size).sum::<u64>());

        let [basics, akas, crew, episodes, principals, ratings, names] = &all;
        assert!(basics.iter().map(|r| id(&r[0])).eq(1..=n));
        assert!(names.iter().map(|r| id(&r[0])).eq(1..=names_for(n)));
        // Ids are dense (checked just above), so existence is a range check.
        let title_type = |t: u64| basics[t as usize - 1][1].as_str();
        let (is_title, is_person) = (|t: &u64| (1..=n).contains(t), |p: &u64| (1..=names_for(n)).contains(p));
        for row in basics {
            assert!(TYPES.contains(&row[1].as_str()) && ["0", "1"].contains(&row[4].as_str()), "{row:?}");
            let g: Vec<&str> = row[8].split(',').collect();
            assert!(row[8] == "\\N" || (g.is_sorted() && g.iter().all(|g| GENRES.contains(g))), "{row:?}");
        }
        for rows in [akas, crew, episodes, principals, ratings] {
            assert!(rows.iter().all(|r| is_title(&id(&r[0]))));
        }
        assert!(crew.iter().all(|r| [ids(&r[1]), ids(&r[2])].concat().iter().all(is_person)));
        assert!(names.iter().all(|r| ids(&r[5]).iter().all(is_title)));
        for row in principals {
            let c = &row[5];
            assert!(is_person(&id(&row[2])), "{row:?}");
            assert!(c == "\\N" || (c.starts_with("[\"") && c.ends_with("\"]")), "{c}");
        }
        for row in episodes {
            let (t, parent) = (id(&row[0]), id(&row[1]));
            assert!(parent < t && title_type(t) == "tvEpisode", "{row:?}");
            assert!(["tvSeries", "tvMiniSeries"].contains(&title_type(parent)), "{row:?}");
        }
        let all_episodes = basics.iter().filter(|r| r[1] == "tvEpisode").count();
        assert_eq!((episodes.len(), crew.len() as u64), (all_episodes, n));

        // Loose distribution checks: the shape, not exact numbers.
        let per_title = |rows: &Vec<Vec<String>>| rows.len() as f64 / n as f64;
        assert!((0.45..0.65).contains(&per_title(episodes)));
        assert!((0.65..0.85).contains(&per_title(ratings)));
        assert!((4.5..7.5).contains(&per_title(principals)));
        assert!((2.5..3.5).contains(&per_title(akas)));
    }
}
