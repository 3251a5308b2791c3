//! What a search compiles once per index shape: indexes of equal settings
//! and mapping (`IndexContext::shape`, the indexes of one template) compile
//! a query alike, so a search over the 30 title indexes compiles it once,
//! not 30 times (analysis, automata, term building: a tenth of a search).
//!
//! Contract: a compilation that read the index's name (a query on
//! `_index`, see `query::on_index_name`) is never handed to another index.

use std::cell::Cell;
use std::sync::Arc;

use crate::error::EsError;
use crate::mapping::context::IndexContext;
use crate::query::Cx;

/// The compilations of one search, by index shape.
pub(crate) struct ByShape<T> {
    done: Vec<(Arc<IndexContext>, T)>,
}

impl<T> ByShape<T> {
    pub(crate) fn new() -> ByShape<T> {
        ByShape { done: Vec::new() }
    }

    /// `compile` run for `ctx`, or a `copy` of what an index of the same
    /// shape compiled before.
    pub(crate) fn get(
        &mut self,
        ctx: &Arc<IndexContext>,
        compile: impl FnOnce(Cx<'_>) -> Result<T, EsError>,
        copy: impl Fn(&T) -> T,
    ) -> Result<T, EsError> {
        if let Some((_, done)) = self.done.iter().find(|(c, _)| c.shape == ctx.shape) {
            return Ok(copy(done));
        }
        let name_read = Cell::new(false);
        let compiled = compile(Cx::new(ctx, &name_read))?;
        if !name_read.get() {
            self.done.push((ctx.clone(), copy(&compiled)));
        }
        Ok(compiled)
    }
}
