//! What each node is configured with, and why.
//!
//! - Every node is a cluster manager candidate and a data node; a 3-node
//!   cluster bootstraps from all three (`cluster.initial_cluster_manager_nodes`),
//!   so any two of them keep a quorum. One node is `discovery.type:
//!   single-node`: it elects itself and never looks for others.
//! - Loopback only; HTTP and transport ports from [`Layout`].
//! - Disk watermarks off: a developer's nearly full disk would otherwise
//!   make OpenSearch refuse to allocate shards (read-only indexes at 95%).
//! - The request bodies the project sends are small; defaults elsewhere.
//! - Logs: one file per node (`logs/server.log`), INFO, through a log4j2
//!   configuration of our own (properties format); OpenSearch's own
//!   `log4j2.properties` needs its Bootstrap, which the launcher skips.

use std::fmt::Write as _;
use std::path::Path;

/// The ports of a cluster, node `i` (1-based) at index `i - 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// HTTP ports.
    pub http_ports: Vec<u16>,
    /// Transport (node-to-node) ports.
    pub transport_ports: Vec<u16>,
}

impl Layout {
    /// Node ids, 1-based.
    pub fn node_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (1..).take(self.http_ports.len())
    }

    /// Every node's HTTP URL, comma-separated (what the indexer and the API
    /// take as their engine URLs).
    pub fn urls(&self) -> String {
        self.http_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }
}

/// The cluster's name: also what a node checks before it joins another.
pub const CLUSTER_NAME: &str = "imdb-local";

/// `opensearch.yml` of node `id`.
pub fn node_yml(layout: &Layout, id: u32, dir: &Path) -> String {
    let i = id as usize - 1;
    let mut yml = format!(
        concat!(
            "# Written by imdb-local-opensearch; see local-opensearch/src/settings.rs.\n",
            "cluster.name: {cluster}\n",
            "node.name: node-{id}\n",
            "path.data: {data}\n",
            "path.logs: {logs}\n",
            "network.host: 127.0.0.1\n",
            "http.port: {http}\n",
            "transport.port: {transport}\n",
            "cluster.routing.allocation.disk.threshold_enabled: false\n",
        ),
        cluster = CLUSTER_NAME,
        id = id,
        data = dir.join("data").display(),
        logs = dir.join("logs").display(),
        http = layout.http_ports[i],
        transport = layout.transport_ports[i],
    );
    if layout.http_ports.len() == 1 {
        yml.push_str("discovery.type: single-node\n");
    } else {
        let seeds: Vec<String> = layout.transport_ports.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        let names: Vec<String> = layout.node_ids().map(|n| format!("\"node-{n}\"")).collect();
        let _ = writeln!(yml, "discovery.seed_hosts: [{}]", seeds.join(", "));
        let _ = writeln!(yml, "cluster.initial_cluster_manager_nodes: [{}]", names.join(", "));
    }
    yml
}

/// The node's log4j2 configuration: INFO to one file, deprecation
/// warnings dropped (they are about requests, one line each).
pub fn log4j2(file: &Path) -> String {
    format!(
        concat!(
            "status = warn\n",
            "# The launcher closes the node in its own shutdown hook: logging must outlive it.\n",
            "shutdownHook = disable\n",
            "appender.file.type = File\n",
            "appender.file.name = file\n",
            "appender.file.fileName = {file}\n",
            "appender.file.layout.type = PatternLayout\n",
            "appender.file.layout.pattern = [%d{{ISO8601}}][%-5p][%c{{1.}}] %m%n\n",
            "rootLogger.level = INFO\n",
            "rootLogger.appenderRef.file.ref = file\n",
            "logger.deprecation.name = org.opensearch.deprecation\n",
            "logger.deprecation.level = ERROR\n",
        ),
        file = file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Layout {
        Layout { http_ports: vec![9200, 9201, 9202], transport_ports: vec![9300, 9301, 9302] }
    }

    #[test]
    fn three_nodes_find_each_other_and_bootstrap_together() {
        let yml = node_yml(&three(), 2, Path::new("/d/node-2"));
        assert!(yml.contains("node.name: node-2\n"));
        assert!(yml.contains("http.port: 9201\n") && yml.contains("transport.port: 9301\n"));
        assert!(yml.contains("path.data: /d/node-2/data\n"));
        assert!(yml.contains(r#"discovery.seed_hosts: ["127.0.0.1:9300", "127.0.0.1:9301", "127.0.0.1:9302"]"#));
        assert!(yml.contains(r#"cluster.initial_cluster_manager_nodes: ["node-1", "node-2", "node-3"]"#));
        assert!(!yml.contains("single-node"));
        assert!(yml.contains("disk.threshold_enabled: false"));
    }

    #[test]
    fn one_node_elects_itself() {
        let layout = Layout { http_ports: vec![9200], transport_ports: vec![9300] };
        let yml = node_yml(&layout, 1, Path::new("/d/node-1"));
        assert!(yml.contains("discovery.type: single-node\n"));
        assert!(!yml.contains("seed_hosts") && !yml.contains("initial_cluster_manager"));
        assert_eq!(three().urls(), "http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202");
    }

    #[test]
    fn the_log_configuration_escapes_its_pattern_braces() {
        let text = log4j2(Path::new("/d/node-1/logs/server.log"));
        assert!(text.contains("fileName = /d/node-1/logs/server.log\n"));
        assert!(text.contains("[%d{ISO8601}][%-5p][%c{1.}] %m%n"));
    }
}
