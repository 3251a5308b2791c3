//! A local OpenSearch cluster: 1 or 3 nodes on loopback, each its own JVM.
//!
//! Contract:
//! - [`Cluster::start`] starts every node at once (a new cluster's nodes
//!   elect their cluster manager together; a node alone waits up to 30 s
//!   for one before it opens HTTP) and returns only once every node
//!   answers `/_cluster/health` counting every node, the cluster not red.
//!   A start that fails kills what it started and leaves running what it
//!   found running.
//! - A data folder remembers its cluster (`cluster.properties`: node
//!   count, ports); starting it again with another shape is refused (the
//!   nodes' state names their peers). Nodes still running from an earlier
//!   start (found by their pid files) are kept, not started twice.
//! - [`Cluster::kill`] is SIGKILL; [`Cluster::restart`] starts a node again
//!   on its data and waits until every node counts it again (its shards
//!   recover after that: wait for green through the API when it matters).
//! - [`Cluster::stop`] sends SIGTERM to every node at once (each closes
//!   cleanly), and kills what is left after the grace period. Dropping a
//!   cluster in a temporary folder kills it (its data goes with the
//!   folder); dropping one with a data folder of its own stops it, unless
//!   [`Cluster::detach`] handed it over.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imdb_local_jvm::folder::{self, node_dirs};
use imdb_local_jvm::group::{Group, Node};
use imdb_local_jvm::process::stop_together;
use imdb_local_jvm::{Install, Jvm, JvmCommand, free_ports};

use crate::probe::{Health, health};
use crate::settings::{self, Layout};
use crate::{LAUNCHER, OPENSEARCH, OpenSearchError, TEST_HEAP, jvm_options};

/// How long [`Cluster::start`] and [`Cluster::restart`] wait for readiness.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long SIGTERM gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// The file in the data folder that records the cluster's shape.
pub const RECORD_FILE: &str = "cluster.properties";
/// Each node's log, inside its folder.
pub const LOG_FILE: &str = "logs/server.log";
/// The launcher's main class.
const MAIN_CLASS: &str = "LocalOpenSearch";

/// Which ports the nodes get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Ports free at the first start (tests).
    Free,
    /// HTTP from this port on, transport from this port + 100.
    From(u16),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Number of nodes.
    pub nodes: usize,
    /// Data folder (a temporary one if `None`, removed with the cluster).
    pub data_dir: Option<PathBuf>,
    /// Ports.
    pub ports: Ports,
    /// Heap of each node, in bytes.
    pub heap: usize,
    /// Where the jars are (default: see [`imdb_local_jvm::install`]).
    pub libs: Option<PathBuf>,
}

impl ClusterSettings {
    /// `nodes` nodes in a temporary folder on free ports, test heaps.
    pub fn new(nodes: usize) -> ClusterSettings {
        ClusterSettings { nodes, data_dir: None, ports: Ports::Free, heap: TEST_HEAP, libs: None }
    }
}

/// A running local cluster.
#[derive(Debug)]
pub struct Cluster {
    layout: Layout,
    group: Group,
    detached: bool,
}

impl Cluster {
    /// Starts (or resumes) a cluster and waits until it is ready.
    pub fn start(config: ClusterSettings) -> Result<Cluster, OpenSearchError> {
        if config.nodes == 0 {
            return Err(OpenSearchError::Setting("a cluster needs at least one node".into()));
        }
        let install = Install::find(config.libs.as_deref(), &[OPENSEARCH, LAUNCHER])?;
        let (temp, data_dir) = folder::open(config.data_dir.as_deref(), "opensearch-")
            .map_err(OpenSearchError::io("opening the data folder"))?;
        let layout = record(&data_dir, &config)?;
        let mut cluster = Cluster { layout, group: Group::new(data_dir, temp), detached: false };
        match cluster.bring_up(&install, config.heap) {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.group.abandon();
                cluster.detached = true;
                Err(e)
            }
        }
    }

    fn bring_up(&mut self, install: &Install, heap: usize) -> Result<(), OpenSearchError> {
        let class_path = format!("{}:{}", install.class_path(OPENSEARCH), install.class_path(LAUNCHER));
        for id in self.layout.node_ids().collect::<Vec<_>>() {
            let dir = self.group.node_dir(id);
            write(&dir.join("config/opensearch.yml"), &settings::node_yml(&self.layout, id, &dir))?;
            let log_config = dir.join("config/log4j2-local.properties");
            write(&log_config, &settings::log4j2(&dir.join(LOG_FILE)))?;
            let command = JvmCommand {
                java: install.java.clone(),
                class_path: class_path.clone(),
                main: MAIN_CLASS.into(),
                args: vec![dir.display().to_string()],
                heap,
                properties: vec![("log4j2.configurationFile".into(), log_config.display().to_string())],
                options: jvm_options(),
            };
            self.group.nodes.push(Node { id, jvm: Jvm::new(dir.clone(), dir.clone(), command), dir });
        }
        self.start_stopped()
    }

    /// Waits until every running node counts every running node, and the
    /// cluster is not red.
    fn wait_ready(&mut self) -> Result<(), OpenSearchError> {
        let ports = self.layout.http_ports.clone();
        let result = self.group.wait_ready(READY_TIMEOUT, |id, running| {
            let address = SocketAddr::from(([127, 0, 0, 1], ports[id as usize - 1]));
            match health(address, Duration::from_secs(5)).map_err(|e| e.to_string())? {
                Health { nodes, status } if nodes == running.len() as u64 && status != "red" => Ok(()),
                h => Err(format!("it counts {} nodes, {}", h.nodes, h.status)),
            }
        });
        result.map_err(|(id, reason)| OpenSearchError::NotReady {
            what: format!("OpenSearch node {id} on port {}", ports[id as usize - 1]),
            reason,
            log_tail: self.group.log_tail(id, LOG_FILE),
        })
    }

    fn address(&self, id: u32) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.layout.http_ports[id as usize - 1]))
    }

    fn node(&mut self, id: u32) -> Result<&mut Node, OpenSearchError> {
        self.group.node(id).ok_or_else(|| OpenSearchError::Setting(format!("no node {id}")))
    }

    /// Every node's URL, comma-separated.
    pub fn urls(&self) -> String {
        self.layout.urls()
    }

    /// Node `id`'s URL.
    pub fn url(&self, id: u32) -> String {
        format!("http://{}", self.address(id))
    }

    /// Ports.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Node ids, 1-based.
    pub fn node_ids(&self) -> Vec<u32> {
        self.layout.node_ids().collect()
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.group.data_dir()
    }

    /// Node `id`'s log file.
    pub fn log_file(&self, id: u32) -> PathBuf {
        self.group.node_dir(id).join(LOG_FILE)
    }

    /// Node `id`'s pid, while it runs.
    pub fn pid(&mut self, id: u32) -> Option<u32> {
        self.group.pid(id)
    }

    /// SIGKILL node `id`, as a crash.
    pub fn kill(&mut self, id: u32) -> Result<(), OpenSearchError> {
        self.node(id)?.jvm.kill().map_err(OpenSearchError::io(format!("killing node {id}")))
    }

    /// Starts node `id` again on its data (stopping it first if it runs)
    /// and waits until every node counts it.
    pub fn restart(&mut self, id: u32) -> Result<(), OpenSearchError> {
        let node = self.node(id)?;
        node.jvm.terminate();
        node.jvm.wait_stopped(STOP_GRACE).map_err(OpenSearchError::io(format!("stopping node {id}")))?;
        node.jvm.start().map_err(OpenSearchError::io(format!("starting node {id}")))?;
        self.wait_ready()
    }

    /// Starts every node that does not run (after [`Cluster::kill`]s:
    /// a cluster that lost its quorum comes back only with its nodes
    /// together) and waits until every node counts every node.
    pub fn start_stopped(&mut self) -> Result<(), OpenSearchError> {
        self.group
            .start()
            .map_err(|(id, source)| OpenSearchError::Io { context: format!("starting node {id}"), source })?;
        self.wait_ready()
    }

    /// Stops every node, all at once.
    pub fn stop(&mut self) -> Result<(), OpenSearchError> {
        stop_all(self.group.jvms())
    }

    /// Leaves the nodes running when this handle goes (their pid files stay
    /// in the data folder, where `imdb-local-opensearch stop` finds them).
    /// A temporary data folder is kept too: the nodes still use it.
    pub fn detach(mut self) {
        self.group.detach();
        self.detached = true;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        if self.group.is_temporary() {
            // The data goes with the folder: nothing to shut down cleanly.
            self.group.kill_all();
        } else {
            let _ = self.stop();
        }
    }
}

fn stop_all(jvms: Vec<&mut Jvm>) -> Result<(), OpenSearchError> {
    match stop_together(jvms, STOP_GRACE, None).pop() {
        Some(source) => Err(OpenSearchError::Io { context: "killing a node".into(), source }),
        None => Ok(()),
    }
}

/// Stops the cluster recorded in `data_dir` (started by an earlier
/// process); returns how many nodes were running.
pub fn stop_folder(data_dir: &Path) -> Result<usize, OpenSearchError> {
    let data_dir = std::path::absolute(data_dir).map_err(OpenSearchError::io("resolving the data folder"))?;
    read_record(&data_dir)?;
    let mut nodes: Vec<Jvm> = node_dirs(&data_dir)
        .into_iter()
        .map(|dir| Jvm::recorded(dir.clone(), dir))
        .filter_map(|mut jvm| jvm.adopt().then_some(jvm))
        .collect();
    let count = nodes.len();
    stop_all(nodes.iter_mut().collect())?;
    Ok(count)
}

/// One node of a recorded cluster, as [`status`] finds it.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// Node id.
    pub id: u32,
    /// HTTP port.
    pub port: u16,
    /// Its pid, if its process runs.
    pub pid: Option<u32>,
    /// What it says of the cluster, or why it said nothing.
    pub health: Result<Health, String>,
}

/// The nodes of the cluster recorded in `data_dir`: running or not, and
/// how each sees the cluster.
pub fn status(data_dir: &Path) -> Result<Vec<NodeStatus>, OpenSearchError> {
    let data_dir = std::path::absolute(data_dir).map_err(OpenSearchError::io("resolving the data folder"))?;
    let layout = read_record(&data_dir)?;
    let mut out = Vec::new();
    for (id, port) in layout.node_ids().zip(layout.http_ports.iter().copied()) {
        let dir = data_dir.join(format!("node-{id}"));
        let mut jvm = Jvm::recorded(dir.clone(), dir);
        let pid = if jvm.adopt() { jvm.pid() } else { None };
        let health =
            health(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2)).map_err(|e| e.to_string());
        out.push(NodeStatus { id, port, pid, health });
    }
    Ok(out)
}

/// The layout recorded in the data folder, checked against `config`; or a
/// new one, recorded.
fn record(data_dir: &Path, config: &ClusterSettings) -> Result<Layout, OpenSearchError> {
    let path = data_dir.join(RECORD_FILE);
    let refuse = |reason: String| OpenSearchError::DataFolder { folder: data_dir.to_path_buf(), reason };
    if path.exists() {
        let layout = read_record(data_dir)?;
        if layout.http_ports.len() != config.nodes {
            return Err(refuse(format!(
                "it holds a {}-node cluster, not a {}-node one: start it as it is, or remove the folder",
                layout.http_ports.len(),
                config.nodes
            )));
        }
        if let Ports::From(base) = config.ports
            && layout != new_layout(config.nodes, Ports::From(base))?
        {
            return Err(refuse(format!("its cluster listens on {}, not from port {base}", layout.urls())));
        }
        return Ok(layout);
    }
    let layout = new_layout(config.nodes, config.ports)?;
    let list = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let text = format!(
        "# The shape of the cluster in this folder, written by imdb-local-opensearch at its first start.\nhttp.ports={}\ntransport.ports={}\n",
        list(&layout.http_ports),
        list(&layout.transport_ports),
    );
    write(&path, &text)?;
    Ok(layout)
}

/// The layout recorded in a data folder.
fn read_record(data_dir: &Path) -> Result<Layout, OpenSearchError> {
    let refuse = |reason: String| OpenSearchError::DataFolder { folder: data_dir.to_path_buf(), reason };
    let text = fs::read_to_string(data_dir.join(RECORD_FILE))
        .map_err(|_| refuse(format!("no {RECORD_FILE}: no cluster was started there")))?;
    let get = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='));
    let ports = |value: Option<&str>| -> Option<Vec<u16>> {
        value?.split(',').filter(|p| !p.is_empty()).map(|p| p.parse().ok()).collect()
    };
    match (ports(get("http.ports")), ports(get("transport.ports"))) {
        (Some(http_ports), Some(transport_ports)) if http_ports.len() == transport_ports.len() => {
            Ok(Layout { http_ports, transport_ports })
        }
        _ => Err(refuse(format!("{RECORD_FILE} is unreadable"))),
    }
}

fn new_layout(nodes: usize, ports: Ports) -> Result<Layout, OpenSearchError> {
    let mut picked: Vec<u16> = match ports {
        Ports::Free => free_ports(nodes * 2).map_err(OpenSearchError::io("finding free ports"))?,
        Ports::From(base) => (0..nodes as u16)
            .chain((0..nodes as u16).map(|i| 100 + i))
            .map(|o| base.checked_add(o))
            .collect::<Option<_>>()
            .ok_or_else(|| OpenSearchError::Setting(format!("port {base} leaves no room for the cluster")))?,
    };
    let transport_ports = picked.split_off(nodes);
    Ok(Layout { http_ports: picked, transport_ports })
}

fn write(path: &Path, text: &str) -> Result<(), OpenSearchError> {
    folder::write(path, text).map_err(OpenSearchError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_another_shape() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            ClusterSettings { data_dir: Some(dir.path().into()), ports: Ports::From(9200), ..ClusterSettings::new(3) };
        let layout = record(dir.path(), &config).unwrap();
        assert_eq!(layout.http_ports, [9200, 9201, 9202]);
        assert_eq!(layout.transport_ports, [9300, 9301, 9302]);
        assert_eq!(record(dir.path(), &config).unwrap(), layout, "the second start reads the record");
        let free = ClusterSettings { ports: Ports::Free, ..config.clone() };
        assert_eq!(record(dir.path(), &free).unwrap(), layout);
        let one = ClusterSettings { nodes: 1, ..config.clone() };
        let refused = record(dir.path(), &one).unwrap_err().to_string();
        assert!(refused.contains("3-node cluster, not a 1-node one"), "{refused}");
        let moved = ClusterSettings { ports: Ports::From(19200), ..config };
        assert!(matches!(record(dir.path(), &moved), Err(OpenSearchError::DataFolder { .. })));
    }

    #[test]
    fn ports_near_the_top_are_refused() {
        assert!(matches!(new_layout(3, Ports::From(65500)), Err(OpenSearchError::Setting(_))));
        let free = new_layout(3, Ports::Free).unwrap();
        assert_eq!((free.http_ports.len(), free.transport_ports.len()), (3, 3));
    }
}
