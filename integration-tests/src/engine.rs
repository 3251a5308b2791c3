//! The search engine a test runs against, chosen by `IMDB_TEST_ENGINE`:
//! `search-node` (the default: the workspace's `imdb-search-node`) or
//! `opensearch` (a real OpenSearch cluster from `imdb-local-opensearch`).
//! The same test code runs on both; `scripts/test.sh` runs the engine
//! tests once per engine.
//!
//! Contract: [`TestEngine::start`] returns an engine that answers on every
//! URL it gives, or `None` (with a message saying why the test is skipped)
//! when OpenSearch was asked for and is not installed and
//! `IMDB_REQUIRE_OPENSEARCH` is unset. [`TestEngine::kill_all`] crashes
//! every node (SIGKILL); [`TestEngine::restart_all`] brings them all back
//! on their data and returns once they answer.

use imdb_local_opensearch::{Cluster, start_for_test};

use crate::search_node::SearchNode;

/// The variable that chooses the engine.
pub const ENGINE_ENV: &str = "IMDB_TEST_ENGINE";

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// `imdb-search-node`.
    SearchNode,
    /// OpenSearch.
    OpenSearch,
}

impl EngineKind {
    /// The engine [`ENGINE_ENV`] names; a name it does not know is a
    /// panic that lists the known ones (a typo must not test the default).
    pub fn from_env() -> EngineKind {
        match std::env::var(ENGINE_ENV).as_deref() {
            Err(_) | Ok("" | "search-node") => EngineKind::SearchNode,
            Ok("opensearch") => EngineKind::OpenSearch,
            Ok(other) => panic!("{ENGINE_ENV}={other}: the engines are search-node and opensearch"),
        }
    }
}

/// A running engine.
#[derive(Debug)]
pub enum TestEngine {
    /// One search node.
    SearchNode(SearchNode),
    /// An OpenSearch cluster.
    OpenSearch(Cluster),
}

impl TestEngine {
    /// The engine of [`ENGINE_ENV`], one node.
    pub fn start() -> Option<TestEngine> {
        TestEngine::start_nodes(1)
    }

    /// The engine of [`ENGINE_ENV`]: an OpenSearch cluster of `nodes`
    /// nodes, or one search node (it has no cluster mode).
    pub fn start_nodes(nodes: usize) -> Option<TestEngine> {
        match EngineKind::from_env() {
            EngineKind::SearchNode => {
                Some(TestEngine::SearchNode(SearchNode::start().expect("the search node starts")))
            }
            EngineKind::OpenSearch => start_for_test(nodes).map(TestEngine::OpenSearch),
        }
    }

    /// Which engine this is.
    pub fn kind(&self) -> EngineKind {
        match self {
            TestEngine::SearchNode(_) => EngineKind::SearchNode,
            TestEngine::OpenSearch(_) => EngineKind::OpenSearch,
        }
    }

    /// The first node's URL.
    pub fn url(&self) -> String {
        match self {
            TestEngine::SearchNode(node) => node.url(),
            TestEngine::OpenSearch(cluster) => cluster.url(1),
        }
    }

    /// Every node's URL, comma-separated.
    pub fn urls(&self) -> String {
        match self {
            TestEngine::SearchNode(node) => node.url(),
            TestEngine::OpenSearch(cluster) => cluster.urls(),
        }
    }

    /// The pids of the running nodes.
    pub fn pids(&mut self) -> Vec<u32> {
        match self {
            TestEngine::SearchNode(node) => node.pid().into_iter().collect(),
            TestEngine::OpenSearch(cluster) => {
                cluster.node_ids().into_iter().filter_map(|id| cluster.pid(id)).collect()
            }
        }
    }

    /// SIGKILL to every node.
    pub fn kill_all(&mut self) {
        match self {
            TestEngine::SearchNode(node) => node.kill9().expect("the search node is killed"),
            TestEngine::OpenSearch(cluster) => {
                for id in cluster.node_ids() {
                    cluster.kill(id).expect("the OpenSearch node is killed");
                }
            }
        }
    }

    /// Starts every node again on its data; returns once they answer.
    pub fn restart_all(&mut self) {
        match self {
            TestEngine::SearchNode(node) => node.restart().expect("the search node restarts"),
            TestEngine::OpenSearch(cluster) => cluster.start_stopped().expect("the OpenSearch nodes restart"),
        }
    }
}
