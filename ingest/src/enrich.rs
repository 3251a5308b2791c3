//! Worker side of the IMDb TSV join: a chunk of rows in, raw batches and
//! enriched documents out.
//!
//! A title chunk holds a range of `title.basics` rows and, cut by the master
//! at the same ids, the rows of the other title-keyed files for that range.
//! Everything a title document needs is in its chunk, except person names,
//! which come from the [`NameTable`] built by pass
//! A. A secondary row whose title is not in the chunk's basics (the file is
//! out of order, or the title does not exist) is still published raw and is
//! counted as an orphan.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use imdb_model::topics::{PEOPLE, TITLES};
use imdb_model::{
    Aka, CastMember, EpisodeInfo, IdKind, ImdbId, KnownFor, PersonDoc, PersonRef, RawSource, TitleDoc, normalise_genres,
};

use crate::chunk::{Chunk, MAX_RECORD_BYTES};
use crate::error::IngestError;
use crate::sink::MAX_MESSAGE_BYTES;
use crate::stats::MessageKind;
use crate::tables::{NameTable, TitleMeta, TitleTable};
use crate::tsv::{self, AkaRow, Basics, Crew, Episode, Name, Principal, Rating};
use crate::worker::{Ctx, Line, check_size, lines};

/// Cast members kept per title (IMDb's principals are the top-billed ones).
pub const TOP_CAST: usize = 10;
/// Alternative titles kept per title (distinct texts, in IMDb's order).
pub const MAX_AKAS: usize = 50;

/// One aligned range of the title-keyed files.
#[derive(Debug, Default)]
pub struct TitleWork {
    /// `title.basics` rows, if any.
    pub basics: Option<Chunk>,
    /// Rows of the other title files for the same ids.
    pub others: Vec<(RawSource, Chunk)>,
}

/// Parses every row of `chunk`, dead-letters the bad ones, publishes the
/// good ones raw, and hands each parsed row to `keep`.
fn for_each_row<'c>(
    ctx: &Ctx<'_>,
    source: RawSource,
    chunk: &'c Chunk,
    mut keep: impl FnMut(&[&'c str], Line<'c>) -> Result<(), String>,
) -> Result<(), IngestError> {
    let mut raw = ctx.raw_batcher(source);
    let mut fields: Vec<&'c str> = Vec::with_capacity(9);
    let mut row = Vec::new();
    let mut count = 0;
    for line in lines(chunk) {
        count += 1;
        let checked = check_size(line.data.len(), MAX_RECORD_BYTES, "record")
            .and_then(|()| tsv::split_row(line.data, source, &mut fields))
            .and_then(|()| {
                row.clear();
                if ctx.raw.publish() {
                    tsv::write_raw_json(&mut row, source.columns(), &fields);
                }
                check_size(row.len(), MAX_MESSAGE_BYTES, "row as JSON")
            })
            .and_then(|()| keep(&fields, line));
        match checked {
            Err(reason) => ctx.reject(source, line.position(), &reason, line.data)?,
            Ok(()) if ctx.raw.publish() => raw.add(fields[0], &row)?,
            Ok(()) => {}
        }
    }
    ctx.stats.read(source, count, chunk.data.len() as u64);
    raw.flush()
}

/// The secondary rows of one chunk, by title number.
#[derive(Debug, Default)]
struct Secondary<'c> {
    /// Rows replaced by a later row for the same title (duplicates).
    replaced: u64,
    ratings: HashMap<u32, Rating>,
    crew: HashMap<u32, Crew<'c>>,
    principals: HashMap<u32, Vec<Principal<'c>>>,
    akas: HashMap<u32, Vec<AkaRow<'c>>>,
    episodes: HashMap<u32, Episode<'c>>,
}

impl<'c> Secondary<'c> {
    fn parse(ctx: &Ctx<'_>, others: &'c [(RawSource, Chunk)]) -> Result<Self, IngestError> {
        let mut s = Secondary::default();
        for (source, chunk) in others {
            match source {
                RawSource::TitleRatings => for_each_row(ctx, *source, chunk, |f, _| {
                    Rating::parse(f).map(|r| s.replaced += u64::from(s.ratings.insert(r.id.number, r).is_some()))
                })?,
                RawSource::TitleCrew => for_each_row(ctx, *source, chunk, |f, _| {
                    Crew::parse(f).map(|r| s.replaced += u64::from(s.crew.insert(r.id.number, r).is_some()))
                })?,
                RawSource::TitlePrincipals => for_each_row(ctx, *source, chunk, |f, _| {
                    Principal::parse(f).map(|r| s.principals.entry(r.id.number).or_default().push(r))
                })?,
                RawSource::TitleAkas => for_each_row(ctx, *source, chunk, |f, _| {
                    AkaRow::parse(f).map(|r| s.akas.entry(r.id.number).or_default().push(r))
                })?,
                RawSource::TitleEpisode => for_each_row(ctx, *source, chunk, |f, _| {
                    Episode::parse(f).map(|r| s.replaced += u64::from(s.episodes.insert(r.id.number, r).is_some()))
                })?,
                other => unreachable!("{other:?} is not a secondary title file"),
            }
        }
        Ok(s)
    }

    /// Rows left over once every basics row took its own.
    fn orphans(&self) -> u64 {
        let lists = |m: &HashMap<u32, Vec<_>>| m.values().map(|v: &Vec<_>| v.len() as u64).sum::<u64>();
        self.replaced
            + (self.ratings.len() + self.crew.len() + self.episodes.len()) as u64
            + self.principals.values().map(|v| v.len() as u64).sum::<u64>()
            + lists(&self.akas)
    }
}

fn person_ref(ctx: &Ctx<'_>, nconst: &str) -> PersonRef {
    let name = ImdbId::parse(IdKind::Name, nconst).and_then(|id| ctx.names.get(id.number)).map(|(n, ())| n.to_owned());
    if name.is_none() {
        ctx.stats.unresolved_names.fetch_add(1, Relaxed);
    }
    PersonRef { nconst: Some(nconst.to_owned()), name }
}

fn people(ctx: &Ctx<'_>, list: Option<&str>) -> Vec<PersonRef> {
    list.map(|l| l.split(',').filter(|s| !s.is_empty()).map(|n| person_ref(ctx, n)).collect()).unwrap_or_default()
}

/// `["Neo","Thomas Anderson"]` as IMDb writes characters; anything else is
/// kept as one character rather than dropped.
fn characters(raw: Option<&str>) -> Vec<String> {
    let Some(raw) = raw else { return Vec::new() };
    serde_json::from_str::<Vec<String>>(raw).unwrap_or_else(|_| vec![raw.trim_matches(['[', ']', '"']).to_owned()])
}

fn cast(ctx: &Ctx<'_>, mut principals: Vec<Principal<'_>>) -> Vec<CastMember> {
    principals.retain(|p| matches!(p.category, "actor" | "actress" | "self"));
    principals.sort_by_key(|p| p.ordering);
    principals
        .into_iter()
        .take(TOP_CAST)
        .map(|p| CastMember {
            name: person_ref(ctx, p.nconst).name,
            nconst: p.nconst.to_owned(),
            category: p.category.to_owned(),
            characters: characters(p.characters),
            ordering: p.ordering,
        })
        .collect()
}

fn akas(primary: &str, mut rows: Vec<AkaRow<'_>>) -> Vec<Aka> {
    rows.sort_by_key(|a| a.ordering);
    let mut out: Vec<Aka> = Vec::new();
    for row in rows {
        if out.len() == MAX_AKAS {
            break;
        }
        if row.title != primary && !out.iter().any(|a| a.title == row.title) {
            out.push(Aka {
                title: row.title.to_owned(),
                region: row.region.map(str::to_owned),
                language: row.language.map(str::to_owned),
                is_original: row.is_original,
            });
        }
    }
    out
}

fn title_doc(ctx: &Ctx<'_>, b: &Basics<'_>, s: &mut Secondary<'_>) -> TitleDoc {
    let n = b.id.number;
    let rating = s.ratings.remove(&n);
    let crew = s.crew.remove(&n);
    TitleDoc {
        tconst: b.tconst.to_owned(),
        title_type: b.title_type.map(str::to_owned),
        primary_title: b.primary_title.to_owned(),
        original_title: b.original_title.map(str::to_owned),
        is_adult: b.is_adult,
        start_year: b.start_year,
        end_year: b.end_year,
        runtime_minutes: b.runtime_minutes,
        genres: normalise_genres(b.genres.unwrap_or("").split(',')),
        average_rating: rating.as_ref().map(|r| r.average),
        num_votes: rating.as_ref().map(|r| r.votes),
        directors: people(ctx, crew.as_ref().and_then(|c| c.directors)),
        writers: people(ctx, crew.as_ref().and_then(|c| c.writers)),
        cast: cast(ctx, s.principals.remove(&n).unwrap_or_default()),
        akas: akas(b.primary_title, s.akas.remove(&n).unwrap_or_default()),
        episode: s.episodes.remove(&n).map(|e| EpisodeInfo {
            parent_tconst: e.parent.to_owned(),
            season: e.season,
            episode: e.episode,
        }),
        ..TitleDoc::default()
    }
}

/// The outcome of publishing a document, as a row check: a document too
/// large to publish rejects its row; a sink error is kept to end the chunk.
fn publish(
    result: Result<Result<(), String>, IngestError>,
    sink_error: &mut Option<IngestError>,
) -> Result<(), String> {
    match result {
        Ok(checked) => checked,
        Err(e) => {
            sink_error.get_or_insert(e);
            Ok(())
        }
    }
}

/// Pass B: joins one aligned chunk into title documents. Returns the
/// chunk's part of the title table (for person documents).
pub fn process_titles(ctx: &Ctx<'_>, work: &TitleWork) -> Result<TitleTable, IngestError> {
    let mut secondary = Secondary::parse(ctx, &work.others)?;
    let mut table = TitleTable::default();
    let mut buf = Vec::with_capacity(2048);
    if let Some(basics) = &work.basics {
        // Documents go out as they are made (holding a chunk's documents
        // would cost ~2 KB per title); a sink error ends the chunk.
        let mut sink_error = None;
        for_each_row(ctx, RawSource::TitleBasics, basics, |f, _| {
            let row = Basics::parse(f)?;
            let doc = title_doc(ctx, &row, &mut secondary);
            table.push(
                row.id.number,
                row.primary_title,
                TitleMeta::new(row.start_year, row.title_type, doc.num_votes),
            )?;
            publish(ctx.publish_doc(TITLES, MessageKind::Title, &doc.tconst, &doc, &mut buf), &mut sink_error)
        })?;
        if let Some(error) = sink_error {
            return Err(error);
        }
    }
    ctx.stats.orphans.fetch_add(secondary.orphans(), Relaxed);
    Ok(table)
}

/// Pass A: the id and name of every row, nothing else (rows are validated
/// and published in pass C).
pub fn collect_names(chunk: &Chunk) -> Result<NameTable, IngestError> {
    let mut table = NameTable::default();
    for line in lines(chunk) {
        let mut fields = line.data.splitn(3, |b| *b == b'\t');
        let (Some(id), Some(name)) = (fields.next(), fields.next()) else { continue };
        let (Ok(id), Ok(name)) = (std::str::from_utf8(id), std::str::from_utf8(name)) else { continue };
        if let Some(id) = ImdbId::parse(IdKind::Name, id)
            && name != tsv::NULL
        {
            table.push(id.number, name, ()).map_err(IngestError::Internal)?;
        }
    }
    Ok(table)
}

fn known_for(titles: &TitleTable, list: Option<&str>) -> Vec<KnownFor> {
    let Some(list) = list else { return Vec::new() };
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|tconst| {
            let entry = ImdbId::parse(IdKind::Title, tconst).and_then(|id| titles.get(id.number));
            KnownFor {
                tconst: tconst.to_owned(),
                title: entry.map(|(t, _)| t.to_owned()),
                start_year: entry.and_then(|(_, m)| m.year()),
                title_type: entry.and_then(|(_, m)| m.title_type()).map(str::to_owned),
                num_votes: entry.and_then(|(_, m)| m.votes()),
            }
        })
        .collect()
}

/// The votes of `titles` added up; `None` when none is rated.
fn total_votes(titles: &[KnownFor]) -> Option<u64> {
    titles.iter().filter_map(|k| k.num_votes).reduce(u64::saturating_add)
}

/// Pass C: person documents from a chunk of `name.basics`.
pub fn process_names(ctx: &Ctx<'_>, chunk: &Chunk) -> Result<(), IngestError> {
    let (mut buf, mut sink_error) = (Vec::with_capacity(1024), None);
    for_each_row(ctx, RawSource::NameBasics, chunk, |f, _| {
        let row = Name::parse(f)?;
        let doc = PersonDoc {
            nconst: row.nconst.to_owned(),
            primary_name: row.name.to_owned(),
            birth_year: row.birth_year,
            death_year: row.death_year,
            professions: row.professions.map(|p| p.split(',').map(str::to_owned).collect()).unwrap_or_default(),
            known_for: known_for(ctx.titles, row.known_for),
            known_for_votes: None,
        };
        let doc = PersonDoc { known_for_votes: total_votes(&doc.known_for), ..doc };
        publish(ctx.publish_doc(PEOPLE, MessageKind::Person, &doc.nconst, &doc, &mut buf), &mut sink_error)
    })?;
    sink_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::sink::MemorySink;
    use crate::stats::Stats;
    use crate::worker::RawSettings;

    fn chunk(text: &str) -> Chunk {
        Chunk { data: text.as_bytes().to_vec(), first_line: 2, first_byte: 0, positions: Vec::new() }
    }

    fn aka(ordering: u32, title: &str) -> AkaRow<'_> {
        AkaRow {
            id: ImdbId::parse(IdKind::Title, "tt0000001").unwrap(),
            ordering,
            title,
            region: None,
            language: None,
            is_original: false,
        }
    }

    #[test]
    fn characters_are_read_as_imdb_writes_them_and_kept_otherwise() {
        assert_eq!(characters(Some(r#"["Neo","Thomas Anderson"]"#)), ["Neo", "Thomas Anderson"]);
        assert_eq!(characters(Some(r#"["Neo"#)), ["Neo"], "malformed: kept as one character");
        assert!(characters(None).is_empty());
    }

    #[test]
    fn akas_are_distinct_in_imdb_order_without_the_primary_title_and_capped() {
        let rows = vec![aka(3, "C"), aka(1, "Primary"), aka(2, "B"), aka(4, "B")];
        let titles: Vec<String> = akas("Primary", rows).into_iter().map(|a| a.title).collect();
        assert_eq!(titles, ["B", "C"]);
        let names: Vec<String> = (0..MAX_AKAS + 5).map(|i| format!("T{i}")).collect();
        let many = names.iter().enumerate().map(|(i, t)| aka(u32::try_from(i).unwrap(), t)).collect();
        assert_eq!(akas("Primary", many).len(), MAX_AKAS);
    }

    #[test]
    fn votes_add_up_over_rated_titles_only() {
        let k = |votes| KnownFor { tconst: "tt0000001".into(), num_votes: votes, ..KnownFor::default() };
        assert_eq!(total_votes(&[k(Some(3)), k(None), k(Some(4))]), Some(7));
        assert_eq!(total_votes(&[k(None)]), None, "none rated: unknown, not zero");
        assert_eq!(total_votes(&[k(Some(u64::MAX)), k(Some(1))]), Some(u64::MAX));
    }

    #[test]
    fn pass_a_keeps_ids_and_names_and_skips_the_rest() {
        let mut table =
            collect_names(&chunk("nm0000001\tAda\t1815\nnm0000002\t\\N\t1900\nbad\tNobody\nnm0000003\tGrace\t1906\n"))
                .unwrap();
        table.finish();
        assert_eq!(table.get(1).map(|(n, ())| n), Some("Ada"));
        assert_eq!(table.get(2), None, "no name");
        assert_eq!(table.get(3).map(|(n, ())| n), Some("Grace"));
        assert_eq!(table.len(), 2);
    }

    /// A chunk's title documents: everything from the chunk's rows, names
    /// from pass A's table; a secondary row whose title is not in the chunk
    /// is published raw and counted as an orphan.
    #[test]
    fn pass_b_joins_a_chunk_into_title_documents() {
        let mut names = NameTable::default();
        names.push(1, "Ada Director", ()).unwrap();
        names.push(2, "Neo Actor", ()).unwrap();
        let (sink, stats, titles, paths, logged) =
            (MemorySink::default(), Stats::default(), TitleTable::default(), HashMap::new(), AtomicU64::new(0));
        let ctx = Ctx {
            sink: &sink,
            stats: &stats,
            names: &names,
            titles: &titles,
            paths: &paths,
            raw: RawSettings { no_raw: false, max_rows: 100, max_bytes: 1 << 20 },
            logged: &logged,
        };
        let work = TitleWork {
            basics: Some(chunk("tt0000001\tmovie\tThe Film\tLe Film\t0\t1999\t\\N\t120\tDrama,Sci-Fi\n")),
            others: vec![
                (RawSource::TitleRatings, chunk("tt0000001\t7.5\t1000\ntt0000009\t5.0\t3\n")),
                (RawSource::TitleCrew, chunk("tt0000001\tnm0000001,nm0000007\t\\N\n")),
                (
                    RawSource::TitlePrincipals,
                    chunk(
                        "tt0000001\t2\tnm0000002\tactor\t\\N\t[\"Neo\"]\ntt0000001\t1\tnm0000001\tdirector\t\\N\t\\N\n",
                    ),
                ),
                (RawSource::TitleAkas, chunk("tt0000001\t1\tDer Film\tDE\tde\t\\N\t\\N\t0\n")),
            ],
        };
        let table = process_titles(&ctx, &work).unwrap();
        assert_eq!(table.len(), 1, "one title for the person documents");
        let messages = sink.messages();
        let docs: Vec<TitleDoc> = messages
            .iter()
            .filter(|m| m.kind == MessageKind::Title)
            .map(|m| serde_json::from_slice(&m.payload).unwrap())
            .collect();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(
            (doc.tconst.as_str(), doc.primary_title.as_str(), doc.start_year),
            ("tt0000001", "The Film", Some(1999))
        );
        assert_eq!((doc.average_rating, doc.num_votes), (Some(7.5), Some(1000)));
        assert_eq!(doc.genres, normalise_genres(["Drama", "Sci-Fi"]));
        let directors: Vec<_> = doc.directors.iter().map(|p| p.name.as_deref()).collect();
        assert_eq!(directors, [Some("Ada Director"), None], "an unknown person keeps its id, no name");
        assert_eq!(doc.cast.len(), 1, "only actors, actresses and self are cast");
        assert_eq!(
            (doc.cast[0].name.as_deref(), doc.cast[0].characters.as_slice()),
            (Some("Neo Actor"), &["Neo".to_owned()][..])
        );
        assert_eq!(doc.akas.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(), ["Der Film"]);
        assert_eq!(stats.orphans.load(Relaxed), 1, "tt0000009's rating has no title in the chunk");
        assert_eq!(stats.unresolved_names.load(Relaxed), 1);
        let raw_ratings: u64 =
            messages.iter().filter(|m| m.topic == RawSource::TitleRatings.topic().name).map(|m| m.records).sum();
        assert_eq!(raw_ratings, 2, "the orphan is still published raw");
    }
}
