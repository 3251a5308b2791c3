//! The reader contexts a node keeps open between requests: scrolls and
//! points in time, each a [`Snapshot`] of its indexes under an opaque id.
//!
//! Contract:
//! - An id names one context of one [`Kind`]. An id that never was, was
//!   closed, expired, belongs to the other kind, or whose indexes were
//!   deleted is answered like Elasticsearch: 404
//!   `search_context_missing_exception`. A string that cannot be an id is a
//!   400 `illegal_argument_exception`.
//! - A context lives for its keep-alive after its last use; each use may set
//!   a new keep-alive. A keep-alive above [`Limits::max_keep_alive`] (24h,
//!   Elasticsearch's `search.max_keep_alive`) is refused with a 400.
//! - At most [`Limits::max_scrolls`] scrolls (Elasticsearch's
//!   `search.max_open_scroll_context`, 500) and [`Limits::max_pits`] points in
//!   time are open; one more is refused with a 429, after expired ones are
//!   dropped.
//! - Expired contexts are dropped by [`Contexts::reap`] (the node's
//!   refresher calls it every tick) and before every open, so the segments
//!   their searchers pin are released; a request that holds a context keeps
//!   it usable until it answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::collector::After;
use super::request::SearchRequest;
use super::snapshot::Snapshot;
use crate::error::EsError;

/// A scroll's search and where its next page starts.
#[derive(Debug, Default)]
pub struct Cursor {
    /// The search, as the first request gave it.
    pub request: SearchRequest,
    /// The last hit served (none yet: the first page again, which was empty).
    pub after: Option<After>,
    /// `hits.total` of the first page, repeated on every page.
    pub total: Option<Value>,
}

/// What a context is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A scroll: a search and where its next page starts.
    Scroll,
    /// A point in time: indexes frozen for any number of searches.
    PointInTime,
}

impl Kind {
    fn parse_error(self) -> &'static str {
        match self {
            Kind::Scroll => "Cannot parse scroll id",
            Kind::PointInTime => "Cannot parse point in time id",
        }
    }
}

/// How many contexts may be open and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open scrolls at most.
    pub max_scrolls: usize,
    /// Open points in time at most.
    pub max_pits: usize,
    /// The longest keep-alive.
    pub max_keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_scrolls: 500, max_pits: 500, max_keep_alive: Duration::from_secs(24 * 3600) }
    }
}

/// One open context.
#[derive(Debug)]
pub struct ReaderContext {
    /// Scroll or point in time.
    pub kind: Kind,
    /// The frozen indexes.
    pub snapshot: Snapshot,
    /// A scroll's search and position; `None` for a point in time. The lock
    /// also keeps two requests for the same scroll from serving one page twice.
    pub cursor: Option<Mutex<Cursor>>,
}

#[derive(Debug)]
struct Entry {
    context: Arc<ReaderContext>,
    keep_alive: Duration,
    last_used: Instant,
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_used) > self.keep_alive
    }
}

/// The node's open contexts.
#[derive(Debug, Default)]
pub struct Contexts {
    entries: Mutex<HashMap<String, Entry>>,
    limits: Limits,
}

/// The length of the ids [`crate::util::new_uuid`] makes.
const ID_LEN: usize = 22;

fn can_be_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A duration as Elasticsearch writes one (`1d`, `90m`, `1500ms`).
fn time_text(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

impl Contexts {
    /// No contexts yet, under these limits.
    pub fn new(limits: Limits) -> Contexts {
        Contexts { entries: Mutex::default(), limits }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Refuses a keep-alive above the limit.
    pub fn check_keep_alive(&self, keep_alive: Duration) -> Result<(), EsError> {
        if keep_alive > self.limits.max_keep_alive {
            return Err(EsError::illegal_argument(format!(
                "Keep alive for request ({}) is too large. It must be less than ({}). This limit can be set by changing the [search.max_keep_alive] cluster level setting.",
                time_text(keep_alive),
                time_text(self.limits.max_keep_alive)
            )));
        }
        Ok(())
    }

    /// Opens a context kept `keep_alive` after each use; returns its id.
    pub fn open(&self, context: ReaderContext, keep_alive: Duration) -> Result<String, EsError> {
        self.check_keep_alive(keep_alive)?;
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("not poisoned");
        entries.retain(|_, e| !e.expired(now) && e.context.snapshot.is_live());
        let open = entries.values().filter(|e| e.context.kind == context.kind).count();
        match context.kind {
            Kind::Scroll if open >= self.limits.max_scrolls => {
                return Err(EsError::too_many_scroll_contexts(self.limits.max_scrolls));
            }
            Kind::PointInTime if open >= self.limits.max_pits => {
                return Err(EsError::too_many_pit_contexts(self.limits.max_pits));
            }
            _ => {}
        }
        let id = crate::util::new_uuid();
        debug_assert!(can_be_id(&id));
        entries.insert(id.clone(), Entry { context: Arc::new(context), keep_alive, last_used: now });
        Ok(id)
    }

    /// The context `id` of `kind`, marked used now (with a new keep-alive
    /// when given).
    pub fn get(&self, id: &str, kind: Kind, keep_alive: Option<Duration>) -> Result<Arc<ReaderContext>, EsError> {
        if !can_be_id(id) {
            return Err(EsError::illegal_argument(kind.parse_error()));
        }
        if let Some(keep_alive) = keep_alive {
            self.check_keep_alive(keep_alive)?;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("not poisoned");
        let usable = entries.get(id).map(|e| !e.expired(now) && e.context.snapshot.is_live());
        match usable {
            Some(true) => {}
            Some(false) => {
                entries.remove(id);
                return Err(EsError::search_context_missing(id));
            }
            None => return Err(EsError::search_context_missing(id)),
        }
        let entry = entries.get_mut(id).expect("checked");
        if entry.context.kind != kind {
            return Err(EsError::search_context_missing(id));
        }
        entry.last_used = now;
        if let Some(keep_alive) = keep_alive {
            entry.keep_alive = keep_alive;
        }
        Ok(entry.context.clone())
    }

    /// Closes the contexts of `kind` among `ids`; returns how many were
    /// open (expired ones do not count). Ids that cannot be ids are an error
    /// before anything is closed.
    pub fn close(&self, ids: &[String], kind: Kind) -> Result<usize, EsError> {
        if ids.iter().any(|id| !can_be_id(id)) {
            return Err(EsError::illegal_argument(kind.parse_error()));
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("not poisoned");
        let mut freed = 0;
        for id in ids {
            if entries.get(id).is_some_and(|e| e.context.kind == kind)
                && let Some(entry) = entries.remove(id)
                && !entry.expired(now)
            {
                freed += 1;
            }
        }
        Ok(freed)
    }

    /// Closes every context of `kind`; returns how many were open.
    pub fn close_all(&self, kind: Kind) -> usize {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("not poisoned");
        let before = entries.len();
        let mut expired = 0;
        entries.retain(|_, e| {
            let drop = e.context.kind == kind;
            expired += usize::from(drop && e.expired(now));
            !drop
        });
        before - entries.len() - expired
    }

    /// Drops expired contexts and those whose indexes were deleted; returns
    /// how many.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("not poisoned");
        let before = entries.len();
        entries.retain(|_, e| !e.expired(now) && e.context.snapshot.is_live());
        before - entries.len()
    }

    /// Open contexts of `kind` (expired ones not yet reaped included).
    pub fn count(&self, kind: Kind) -> usize {
        self.entries.lock().expect("not poisoned").values().filter(|e| e.context.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pit() -> ReaderContext {
        ReaderContext { kind: Kind::PointInTime, snapshot: Snapshot::default(), cursor: None }
    }

    fn scroll() -> ReaderContext {
        ReaderContext { kind: Kind::Scroll, snapshot: Snapshot::default(), cursor: Some(Mutex::new(Cursor::default())) }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn ids_find_their_own_kind_only() {
        let contexts = Contexts::default();
        let p = contexts.open(pit(), MINUTE).unwrap();
        let s = contexts.open(scroll(), MINUTE).unwrap();
        assert_ne!(p, s);
        assert_eq!(contexts.get(&p, Kind::PointInTime, None).unwrap().kind, Kind::PointInTime);
        assert_eq!(contexts.get(&s, Kind::Scroll, None).unwrap().kind, Kind::Scroll);
        let e = contexts.get(&p, Kind::Scroll, None).unwrap_err();
        assert_eq!((e.es_type(), e.status().as_u16()), ("search_context_missing_exception", 404));
        assert_eq!(e.reason, format!("No search context found for id [{p}]"));
        let e = contexts.get("not an id", Kind::Scroll, None).unwrap_err();
        assert_eq!(
            (e.es_type(), e.status().as_u16(), e.reason.as_str()),
            ("illegal_argument_exception", 400, "Cannot parse scroll id")
        );
        let never = "A".repeat(ID_LEN);
        assert_eq!(contexts.get(&never, Kind::Scroll, None).unwrap_err().status().as_u16(), 404);
    }

    #[test]
    fn contexts_expire_after_their_keep_alive_and_each_use_rearms_it() {
        let contexts = Contexts::default();
        let short = Duration::from_millis(150);
        let id = contexts.open(pit(), short).unwrap();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(80));
            contexts.get(&id, Kind::PointInTime, None).unwrap();
        }
        // A use can lengthen it...
        contexts.get(&id, Kind::PointInTime, Some(MINUTE)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(contexts.reap(), 0);
        // ...or shorten it.
        contexts.get(&id, Kind::PointInTime, Some(Duration::from_millis(10))).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(contexts.count(Kind::PointInTime), 1);
        assert_eq!(contexts.reap(), 1);
        assert_eq!(contexts.count(Kind::PointInTime), 0);
        assert_eq!(
            contexts.get(&id, Kind::PointInTime, None).unwrap_err().es_type(),
            "search_context_missing_exception"
        );
        // Expired but not reaped yet: missing as well.
        let id = contexts.open(scroll(), Duration::from_millis(10)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(contexts.get(&id, Kind::Scroll, None).unwrap_err().status().as_u16(), 404);
    }

    #[test]
    fn open_contexts_are_bounded_per_kind() {
        let contexts = Contexts::new(Limits { max_scrolls: 2, max_pits: 1, ..Limits::default() });
        let first = contexts.open(scroll(), MINUTE).unwrap();
        contexts.open(scroll(), MINUTE).unwrap();
        let e = contexts.open(scroll(), MINUTE).unwrap_err();
        assert_eq!((e.es_type(), e.status().as_u16()), ("too_many_scroll_contexts_exception", 429));
        assert!(e.reason.contains("[2]") && e.reason.contains("search.max_open_scroll_context"), "{}", e.reason);
        contexts.open(pit(), MINUTE).unwrap();
        assert_eq!(contexts.open(pit(), MINUTE).unwrap_err().status().as_u16(), 429);
        // Closing one makes room; so does expiry.
        assert_eq!(contexts.close(std::slice::from_ref(&first), Kind::Scroll).unwrap(), 1);
        let brief = contexts.open(scroll(), Duration::from_millis(10)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        contexts.open(scroll(), MINUTE).unwrap();
        assert_eq!(contexts.get(&brief, Kind::Scroll, None).unwrap_err().status().as_u16(), 404);
    }

    #[test]
    fn close_counts_what_was_open() {
        let contexts = Contexts::default();
        let a = contexts.open(scroll(), MINUTE).unwrap();
        let b = contexts.open(scroll(), MINUTE).unwrap();
        let p = contexts.open(pit(), MINUTE).unwrap();
        assert_eq!(contexts.close(&[a.clone(), p.clone()], Kind::Scroll).unwrap(), 1);
        assert_eq!(contexts.close(std::slice::from_ref(&a), Kind::Scroll).unwrap(), 0);
        assert_eq!(contexts.close(&["bad".into()], Kind::Scroll).unwrap_err().status().as_u16(), 400);
        contexts.open(scroll(), MINUTE).unwrap();
        assert_eq!(contexts.close_all(Kind::Scroll), 2);
        assert!(contexts.get(&b, Kind::Scroll, None).is_err());
        assert_eq!(contexts.close(&[p], Kind::PointInTime).unwrap(), 1);
    }

    #[test]
    fn keep_alives_above_a_day_are_refused() {
        let contexts = Contexts::default();
        let e = contexts.open(pit(), Duration::from_secs(2 * 86_400)).unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(
            e.reason.starts_with("Keep alive for request (2d) is too large. It must be less than (1d)."),
            "{}",
            e.reason
        );
        let id = contexts.open(pit(), MINUTE).unwrap();
        assert_eq!(
            contexts.get(&id, Kind::PointInTime, Some(Duration::from_secs(90_000))).unwrap_err().status().as_u16(),
            400
        );
        assert_eq!(time_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(time_text(Duration::from_secs(90 * 60)), "90m");
    }
}
