//! Merging a shard's segments on request (`_forcemerge`) and once it has
//! gone quiet.
//!
//! A bulk load leaves a shard with a dozen segments or more (one per
//! refresh, merged by tantivy's log policy only when 8 of a size pile up),
//! and a search pays per segment: its scorers, sort columns and
//! aggregation readers are opened for each one. The node therefore merges
//! a shard into one segment once nothing has been written to it for a
//! while ([`Shard::merge_if_idle`], driven by the node's merger thread):
//! once per quiet spell, the next write re-arms it. A shard written to all
//! the time keeps the log policy's segments.
//!
//! While a shard is written to, tantivy's log merge policy merges it, with
//! one change ([`policy`]): small segments climb levels as they grow.
//!
//! Contract: writes go on during a merge (the shard's lock is held to start
//! it, not while it runs); the merged segment is committed (it survives a
//! restart) and searchable when the call returns. A merge can fail when
//! tantivy's own policy is merging some of the same segments; the idle
//! merge then tries again on a later tick.

use std::time::Duration;

use tantivy::indexer::LogMergePolicy;

use super::Shard;
use crate::error::EsError;

/// Segments smaller than this count as this size when the log merge policy
/// groups segments into levels. Tantivy's default, 10,000, puts every
/// segment below 10,000 documents in one level, so under a 1 s refresh a
/// small shard's newest merged segment is merged again with each 8 new
/// ones until it holds 10,000 documents: about nine rewrites of each
/// document, each merge paying tantivy's fixed cost per term dictionary
/// (an FST builder of about 1 MB per field). At 1,000 small segments climb
/// levels as they grow, as larger ones do. Measured end to end at 1M
/// titles: 6,162 docs/s against 4,840-5,577 with the default (bench/RESULTS.md).
const MIN_LAYER_DOCS: u32 = 1_000;

/// The merge policy of every shard writer.
pub(super) fn policy() -> Box<LogMergePolicy> {
    let mut policy = LogMergePolicy::default();
    policy.set_min_layer_size(MIN_LAYER_DOCS);
    Box::new(policy)
}

impl Shard {
    /// Merges the shard's segments into at most `max_segments` (at least
    /// one), smallest first, as `_forcemerge` asks; then makes the result
    /// searchable. Writes go on meanwhile: the lock is held to start the
    /// merge, not during it. A merge the writer's own policy already runs
    /// on those segments makes this one fail; the caller may ask again.
    /// Whether there was anything to merge.
    pub fn force_merge(&self, max_segments: usize) -> Result<bool, EsError> {
        self.refresh()?;
        let merge = {
            let mut state = self.state.lock().expect("not poisoned");
            let metas = state.index.searchable_segment_metas()?;
            let excess = metas.len().saturating_sub(max_segments.max(1));
            let Some(writer) = state.writer.as_mut() else { return Ok(false) };
            if excess == 0 {
                return Ok(false);
            }
            let mut by_size: Vec<_> = metas.iter().map(|m| (m.num_docs(), m.id())).collect();
            by_size.sort_unstable_by_key(|(docs, _)| *docs);
            // Merging n + 1 segments into one leaves n fewer.
            let ids: Vec<_> = by_size.iter().take(excess + 1).map(|(_, id)| *id).collect();
            writer.merge(&ids)
        };
        merge.wait()?;
        let state = self.state.lock().expect("not poisoned");
        state.reader.reload()?;
        *self.searcher.write().expect("not poisoned") = (state.reader.searcher(), std::sync::Arc::default());
        Ok(true)
    }

    /// Merges the shard into one segment if nothing was written to it for
    /// `idle` and it was not merged since; whether a merge ran.
    pub fn merge_if_idle(&self, idle: Duration) -> Result<bool, EsError> {
        {
            let mut state = self.state.lock().expect("not poisoned");
            if state.merged || state.dirty || state.last_write.elapsed() < idle {
                return Ok(false);
            }
            state.merged = true;
        }
        let merged = self.force_merge(1);
        if merged.is_err() {
            self.state.lock().expect("not poisoned").merged = false;
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{acknowledged, context, index};
    use super::*;
    use crate::storage::shard::Conditions;

    #[test]
    fn a_grown_small_segment_is_not_merged_again_with_each_new_batch() {
        use tantivy::index::SegmentId;
        use tantivy::indexer::MergePolicy;
        let index = tantivy::Index::create_in_ram(tantivy::schema::Schema::builder().build());
        let grown = index.new_segment_meta(SegmentId::generate_random(), 5_000);
        let mut metas = vec![grown.clone()];
        metas.extend((0..8).map(|_| index.new_segment_meta(SegmentId::generate_random(), 75)));
        let candidates = policy().compute_merge_candidates(&metas);
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].0.len(), 8, "the eight new segments merge together");
        assert!(!candidates[0].0.contains(&grown.id()), "the grown segment is left alone");
        // Tantivy's default would rewrite the grown segment with them.
        let default = LogMergePolicy::default().compute_merge_candidates(&metas);
        assert!(default[0].0.contains(&grown.id()));
    }

    fn segments(shard: &Shard) -> usize {
        shard.searcher().segment_readers().len()
    }

    /// A shard with `docs` documents in a segment each.
    fn shard_of(dir: &std::path::Path, docs: usize) -> (Shard, crate::mapping::context::IndexContext) {
        let ctx = context();
        let shard = Shard::open(dir, &ctx).unwrap();
        for n in 0..docs {
            acknowledged(&shard, &ctx, index(&ctx, &n.to_string(), "Alien", Conditions::default())).unwrap();
            shard.refresh().unwrap();
        }
        (shard, ctx)
    }

    #[test]
    fn a_force_merge_leaves_at_most_the_segments_asked_for_and_every_document() {
        let dir = tempfile::tempdir().unwrap();
        let (shard, ctx) = shard_of(dir.path(), 5);
        assert!(segments(&shard) > 2, "a segment per refresh");
        shard.force_merge(2).unwrap();
        assert_eq!((segments(&shard), shard.doc_count()), (2, 5));
        shard.force_merge(1).unwrap();
        assert_eq!((segments(&shard), shard.doc_count()), (1, 5));
        drop(shard);
        let reopened = Shard::open(dir.path(), &ctx).unwrap();
        assert_eq!((segments(&reopened), reopened.doc_count()), (1, 5), "the merge is committed");
    }

    #[test]
    fn a_quiet_shard_is_merged_once_and_a_write_re_arms_it() {
        let dir = tempfile::tempdir().unwrap();
        let (shard, ctx) = shard_of(dir.path(), 3);
        assert!(!shard.merge_if_idle(Duration::from_secs(3600)).unwrap(), "not quiet long enough");
        assert!(shard.merge_if_idle(Duration::ZERO).unwrap());
        assert_eq!((segments(&shard), shard.doc_count()), (1, 3));
        assert!(!shard.merge_if_idle(Duration::ZERO).unwrap(), "once per quiet spell");
        assert!(!shard.force_merge(1).unwrap(), "nothing left to merge");
        acknowledged(&shard, &ctx, index(&ctx, "9", "Aliens", Conditions::default())).unwrap();
        assert!(!shard.merge_if_idle(Duration::ZERO).unwrap(), "not with writes waiting for a refresh");
        shard.refresh().unwrap();
        assert_eq!(segments(&shard), 2);
        assert!(shard.merge_if_idle(Duration::ZERO).unwrap(), "the write re-armed it");
        assert_eq!((segments(&shard), shard.doc_count()), (1, 4));
    }
}
