//! The node's search threads: one fixed pool runs the shard searches of
//! every request, as Elasticsearch's `search` thread pool does.
//!
//! Contract: a request's shard jobs run on the pool (the request's own
//! thread waits for them) and come back in job order, so merging stays
//! deterministic. A request with one job runs it on its own thread: a hop
//! to the pool would only add latency. The pool is sized once per process
//! ([`configure`], from the node's settings; one thread per core when never
//! configured) and its threads live as long as the process, so a search
//! never pays for starting a thread. With more concurrent requests than
//! threads, jobs queue on the pool instead of oversubscribing the cores.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::EsError;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// Sizes the pool: `threads` search threads, 0 for one per core. Only the
/// first call (before any search) decides; a later one is an error.
pub fn configure(threads: usize) -> Result<(), EsError> {
    let pool = build(threads)?;
    POOL.set(pool).map_err(|_| EsError::internal("the search pool is already configured"))
}

fn build(threads: usize) -> Result<rayon::ThreadPool, EsError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|n| format!("search-{n}"))
        .build()
        .map_err(|e| EsError::internal(format!("search pool: {e}")).caused_by(e))
}

fn pool() -> &'static rayon::ThreadPool {
    // A node that never configured it (tests, embedders) gets the default.
    POOL.get_or_init(|| build(0).expect("a thread pool of the default size starts"))
}

/// The number of search threads.
pub fn threads() -> usize {
    pool().current_num_threads()
}

/// Runs `job` for every item on the pool; the results in item order.
pub fn map<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    match items {
        [] => Vec::new(),
        [one] => vec![job(one)],
        _ => pool().install(|| items.par_iter().map(&job).collect()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn results_come_back_in_item_order() {
        let items: Vec<u32> = (0..500).collect();
        let doubled = map(&items, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert!(map(&[] as &[u32], |n| *n).is_empty());
    }

    #[test]
    fn jobs_run_on_the_pool_threads_and_one_job_runs_inline() {
        let names = Mutex::new(HashSet::new());
        let items: Vec<u32> = (0..64).collect();
        map(&items, |_| {
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            names.lock().unwrap().insert(name);
            std::thread::sleep(std::time::Duration::from_millis(1));
        });
        let names = names.into_inner().unwrap();
        assert!(!names.is_empty() && names.len() <= threads(), "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("search-")), "the caller only waits: {names:?}");
        let caller = std::thread::current().name().map(str::to_owned);
        // One job: the caller's own thread, whatever the pool.
        let inline = map(&[1], |_| std::thread::current().name().map(str::to_owned));
        assert_eq!(inline, vec![caller]);
    }
}
