//! A local Apache Kafka cluster: 1 or 3 nodes on loopback, each its own JVM.
//!
//! KRaft (the default): every node is a combined broker and controller, all
//! of them controller voters (`controller.quorum.voters`), formatted once
//! with `kafka.tools.StorageTool` under one cluster id. ZooKeeper mode
//! (Kafka 3.9): one ZooKeeper node, then the brokers.
//!
//! Contract:
//! - [`Cluster::start`] returns only once every node runs and every node's
//!   `Metadata` answer lists every broker: a caller can create topics with
//!   three replicas at once. A start that fails kills what it started and
//!   leaves running what it found running.
//! - A data folder remembers its cluster (`cluster.properties`: mode, node
//!   count, ports); starting it again with another shape is refused, since
//!   the controllers' log was written for its voters. Nodes still running
//!   from an earlier start (found by their pid files) are kept, not started
//!   twice.
//! - [`Cluster::kill`] is SIGKILL; [`Cluster::restart`] starts a node again
//!   on its existing data and waits until the others list it again.
//! - [`Cluster::stop`] sends SIGTERM to every broker at once (each one's
//!   controlled shutdown), waits, kills what is left after the grace
//!   period (in KRaft, soon after most nodes are gone: see `stop_all`),
//!   then stops ZooKeeper. Dropping a cluster in a temporary folder
//!   kills it (its data goes with the folder); dropping one with a data
//!   folder of its own stops it, unless [`Cluster::detach`] handed it over.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;

use imdb_local_jvm::folder::{self, node_dirs};
use imdb_local_jvm::group::{Group, Node};
use imdb_local_jvm::process::stop_together;
use imdb_local_jvm::{Distribution, Install, Jvm, JvmCommand, tail};

use crate::probe::{metadata, zookeeper_ok};
use crate::properties::{self, Layout};
use crate::{KAFKA, KAFKA_ZK, KafkaError, ZOOKEEPER, free_ports, jvm_options};

/// How long [`Cluster::start`] and [`Cluster::restart`] wait for readiness.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long SIGTERM gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Heap of the storage tool and of ZooKeeper: both need little.
const SMALL_HEAP: usize = 128 << 20;
/// The file in the data folder that records the cluster's shape.
pub const RECORD_FILE: &str = "cluster.properties";
/// Each node's log (and ZooKeeper's), inside its folder.
pub const LOG_FILE: &str = "logs/server.log";

/// KRaft or ZooKeeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Kafka 4, combined broker and controller nodes.
    Kraft,
    /// Kafka 3.9 brokers on a ZooKeeper node.
    ZooKeeper,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Kraft => "kraft",
            Mode::ZooKeeper => "zookeeper",
        }
    }
}

/// Which ports the cluster listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Free ports, picked at start (tests).
    Free,
    /// Brokers on `base`, `base + 1`, ...; controllers on `base + 100`, ...;
    /// ZooKeeper on `base + 200`.
    From(u16),
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// KRaft or ZooKeeper.
    pub mode: Mode,
    /// Number of nodes (brokers).
    pub nodes: usize,
    /// Data folder; `None`: a temporary one, removed with the cluster.
    pub data_dir: Option<PathBuf>,
    /// Ports.
    pub ports: Ports,
    /// Heap of each broker JVM, in bytes.
    pub heap: usize,
    /// Where the distributions are (see [`imdb_local_jvm::install`]); `None`: the
    /// default.
    pub libs: Option<PathBuf>,
}

impl ClusterSettings {
    /// A KRaft cluster of `nodes` nodes on free ports in a temporary folder.
    pub fn kraft(nodes: usize) -> ClusterSettings {
        ClusterSettings {
            mode: Mode::Kraft,
            nodes,
            data_dir: None,
            ports: Ports::Free,
            heap: crate::TEST_HEAP,
            libs: None,
        }
    }

    /// The same in ZooKeeper mode.
    pub fn zookeeper(nodes: usize) -> ClusterSettings {
        ClusterSettings { mode: Mode::ZooKeeper, ..ClusterSettings::kraft(nodes) }
    }
}

/// A running local cluster.
#[derive(Debug)]
pub struct Cluster {
    mode: Mode,
    layout: Layout,
    group: Group,
    zookeeper: Option<Jvm>,
    detached: bool,
}

impl Cluster {
    /// Starts (or resumes) a cluster and waits until it is ready.
    pub fn start(config: ClusterSettings) -> Result<Cluster, KafkaError> {
        if config.nodes == 0 {
            return Err(KafkaError::Setting("a cluster needs at least one node".into()));
        }
        let needed: &[Distribution] = match config.mode {
            Mode::Kraft => &[KAFKA],
            Mode::ZooKeeper => &[KAFKA_ZK, ZOOKEEPER],
        };
        let install = Install::find(config.libs.as_deref(), needed)?;
        let (temp, data_dir) =
            folder::open(config.data_dir.as_deref(), "kafka-").map_err(KafkaError::io("opening the data folder"))?;
        if data_dir.join("tansu.db").exists() {
            return Err(KafkaError::DataFolder {
                folder: data_dir,
                reason: "it holds a Tansu broker's data (the stack ran Tansu before Apache Kafka): remove it".into(),
            });
        }
        let layout = record(&data_dir, &config)?;
        let mut cluster =
            Cluster { mode: config.mode, layout, group: Group::new(data_dir, temp), zookeeper: None, detached: false };
        match cluster.bring_up(&install, config.heap) {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.abandon();
                Err(e)
            }
        }
    }

    fn bring_up(&mut self, install: &Install, heap: usize) -> Result<(), KafkaError> {
        self.prepare(install, heap)?;
        if let Some(zookeeper) = self.zookeeper.as_mut() {
            if !zookeeper.adopt() {
                zookeeper.start().map_err(KafkaError::io("starting ZooKeeper"))?;
            }
            self.wait_zookeeper()?;
        }
        if self.mode == Mode::Kraft {
            self.format(install)?;
        }
        self.group.start().map_err(|(id, source)| KafkaError::Io { context: format!("starting node {id}"), source })?;
        self.wait_ready()
    }

    /// After a failed start: kills what this start started and leaves
    /// alone what it found running (an earlier start's nodes).
    fn abandon(&mut self) {
        self.group.abandon();
        if let Some(jvm) = self.zookeeper.as_mut() {
            jvm.abandon();
        }
        self.detached = true;
    }

    /// Writes every process's configuration and builds its handle.
    fn prepare(&mut self, install: &Install, heap: usize) -> Result<(), KafkaError> {
        let kafka = match self.mode {
            Mode::Kraft => KAFKA,
            Mode::ZooKeeper => KAFKA_ZK,
        };
        if let Some(port) = self.layout.zookeeper_port {
            let dir = self.group.data_dir().join("zookeeper");
            let config = dir.join("zoo.cfg");
            let log_config = dir.join("log4j2.properties");
            write(&config, &properties::zookeeper(port, &dir.join("data")))?;
            write(&log_config, &properties::log4j2(&dir.join(LOG_FILE)))?;
            let command = JvmCommand {
                java: install.java.clone(),
                class_path: install.class_path(ZOOKEEPER),
                main: "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
                args: vec![config.display().to_string()],
                heap: SMALL_HEAP,
                properties: vec![("log4j2.configurationFile".into(), log_config.display().to_string())],
                options: jvm_options(),
            };
            self.zookeeper = Some(Jvm::new(dir, config, command));
        }
        for id in self.layout.node_ids().collect::<Vec<_>>() {
            let dir = self.group.node_dir(id);
            let data = dir.join("data");
            fs::create_dir_all(&data).map_err(KafkaError::io(format!("creating {}", data.display())))?;
            let config = dir.join("server.properties");
            let (text, log_key, log_config, log_text) = match self.mode {
                Mode::Kraft => (
                    properties::kraft_node(&self.layout, id, &data),
                    "log4j2.configurationFile",
                    dir.join("log4j2.properties"),
                    properties::log4j2(&dir.join(LOG_FILE)),
                ),
                Mode::ZooKeeper => (
                    properties::zookeeper_broker(&self.layout, id, &data),
                    "log4j.configuration",
                    dir.join("log4j.properties"),
                    properties::log4j1(&dir.join(LOG_FILE)),
                ),
            };
            write(&config, &text)?;
            write(&log_config, &log_text)?;
            let log_value = match self.mode {
                Mode::Kraft => log_config.display().to_string(),
                Mode::ZooKeeper => format!("file:{}", log_config.display()),
            };
            let command = JvmCommand {
                java: install.java.clone(),
                class_path: install.class_path(kafka),
                main: "kafka.Kafka".into(),
                args: vec![config.display().to_string()],
                heap,
                properties: vec![
                    (log_key.into(), log_value),
                    ("kafka.logs.dir".into(), dir.join("logs").display().to_string()),
                ],
                options: jvm_options(),
            };
            self.group.nodes.push(Node { id, jvm: Jvm::new(dir.clone(), config, command), dir });
        }
        Ok(())
    }

    /// Formats the nodes whose storage is not formatted yet (all of them
    /// the first time), in parallel, under the cluster's id.
    fn format(&self, install: &Install) -> Result<(), KafkaError> {
        let todo: Vec<&Node> =
            self.group.nodes.iter().filter(|n| !n.dir.join("data/meta.properties").exists()).collect();
        if todo.is_empty() {
            return Ok(());
        }
        let cluster_id =
            self.group.nodes.iter().find_map(|n| formatted_cluster_id(&n.dir)).unwrap_or_else(new_cluster_id);
        let mut running = Vec::new();
        for node in &todo {
            let command = JvmCommand {
                java: install.java.clone(),
                class_path: install.class_path(KAFKA),
                main: "kafka.tools.StorageTool".into(),
                args: vec![
                    "format".into(),
                    "-t".into(),
                    cluster_id.clone(),
                    "-c".into(),
                    node.dir.join("server.properties").display().to_string(),
                ],
                heap: SMALL_HEAP,
                properties: vec![(
                    "log4j2.configurationFile".into(),
                    node.dir.join("log4j2.properties").display().to_string(),
                )],
                options: jvm_options(),
            };
            let log = node.dir.join("format.log");
            let child = command.spawn_tool(&log).map_err(KafkaError::io(format!("formatting node {}", node.id)))?;
            running.push((node.id, log, child));
        }
        for (id, log, mut child) in running {
            let status = child.wait().map_err(KafkaError::io(format!("formatting node {id}")))?;
            if !status.success() {
                return Err(KafkaError::Format { node: id, log_tail: tail(&log, 20) });
            }
        }
        tracing::info!(cluster_id, nodes = todo.len(), "formatted KRaft storage");
        Ok(())
    }

    fn wait_zookeeper(&mut self) -> Result<(), KafkaError> {
        let port = self.layout.zookeeper_port.unwrap_or_default();
        let deadline = Instant::now() + READY_TIMEOUT;
        let zookeeper = self.zookeeper.as_mut().expect("ZooKeeper mode has a ZooKeeper");
        let log = self.group.data_dir().join("zookeeper").join(LOG_FILE);
        loop {
            if zookeeper_ok(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2)) {
                return Ok(());
            }
            if !zookeeper.is_running() || Instant::now() > deadline {
                return Err(KafkaError::NotReady {
                    what: format!("ZooKeeper on port {port}"),
                    reason: if zookeeper.is_running() { "no answer to ruok".into() } else { "it exited".into() },
                    log_tail: zookeeper.log_tail(&log),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running node answers `Metadata` listing every
    /// running node and a controller.
    fn wait_ready(&mut self) -> Result<(), KafkaError> {
        let ports = self.layout.broker_ports.clone();
        let result = self.group.wait_ready(READY_TIMEOUT, |id, running| {
            let address = SocketAddr::from(([127, 0, 0, 1], ports[id as usize - 1]));
            let m = metadata(address, Duration::from_secs(5)).map_err(|e| e.to_string())?;
            let ids: BTreeSet<i32> = m.brokers.iter().map(|b| b.id).collect();
            let all = running.iter().all(|r| ids.contains(&(*r as i32)));
            if m.controller >= 0 && all { Ok(()) } else { Err(format!("it lists brokers {ids:?}")) }
        });
        result.map_err(|(id, reason)| KafkaError::NotReady {
            what: format!("Kafka node {id} on port {}", ports[id as usize - 1]),
            reason,
            log_tail: self.group.log_tail(id, LOG_FILE),
        })
    }

    fn node(&mut self, id: u32) -> Result<&mut Node, KafkaError> {
        self.group.node(id).ok_or_else(|| KafkaError::Setting(format!("no node {id}")))
    }

    /// `bootstrap.servers`: every broker.
    pub fn bootstrap_servers(&self) -> String {
        self.layout.bootstrap_servers()
    }

    /// KRaft or ZooKeeper.
    pub fn mode(&self) -> Mode {
        self.mode
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

    /// ZooKeeper's pid, while it runs (ZooKeeper mode).
    pub fn zookeeper_pid(&mut self) -> Option<u32> {
        self.zookeeper.as_mut()?.pid()
    }

    /// SIGKILL node `id`, as a crash.
    pub fn kill(&mut self, id: u32) -> Result<(), KafkaError> {
        self.node(id)?.jvm.kill().map_err(KafkaError::io(format!("killing node {id}")))
    }

    /// Starts node `id` again on its data (stopping it first if it runs)
    /// and waits until every node lists it.
    pub fn restart(&mut self, id: u32) -> Result<(), KafkaError> {
        let node = self.node(id)?;
        node.jvm.terminate();
        node.jvm.wait_stopped(STOP_GRACE).map_err(KafkaError::io(format!("stopping node {id}")))?;
        node.jvm.start().map_err(KafkaError::io(format!("starting node {id}")))?;
        self.wait_ready()
    }

    /// Stops every process: the brokers together, then ZooKeeper.
    pub fn stop(&mut self) -> Result<(), KafkaError> {
        stop_all(self.mode, self.group.jvms(), self.zookeeper.as_mut())
    }

    /// Leaves the processes running when this handle goes (their pid files
    /// stay in the data folder, where `imdb-local-kafka stop` finds them).
    /// A temporary data folder is kept too: the processes still use it.
    pub fn detach(mut self) {
        self.group.detach();
        if let Some(zookeeper) = self.zookeeper.as_mut() {
            zookeeper.detach();
        }
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
            if let Some(zookeeper) = self.zookeeper.as_mut() {
                let _ = zookeeper.kill();
            }
        } else {
            let _ = self.stop();
        }
    }
}

/// How long the last KRaft nodes get once most nodes have exited: without
/// a controller quorum their controlled shutdown cannot be granted, and
/// Kafka would wait 5 minutes for it.
const NO_QUORUM_GRACE: Duration = Duration::from_secs(5);

/// SIGTERM to every broker at once (each one's controlled shutdown), wait,
/// then the same for ZooKeeper. Every process is dealt with even when one
/// fails; the first error is returned.
///
/// In KRaft the last nodes standing cannot shut down cleanly: once most
/// voters are gone there is no quorum to grant their controlled shutdown.
/// They get [`NO_QUORUM_GRACE`] and are then killed; their logs are
/// recovered at the next start (Kafka checks the segments written since
/// its last recovery point), nothing acknowledged is lost.
fn stop_all(mode: Mode, brokers: Vec<&mut Jvm>, zookeeper: Option<&mut Jvm>) -> Result<(), KafkaError> {
    let quorum_grace = (mode == Mode::Kraft).then_some(NO_QUORUM_GRACE);
    let mut errors = stop_together(brokers, STOP_GRACE, quorum_grace);
    let mut result = match errors.pop() {
        Some(source) => Err(KafkaError::Io { context: "killing a broker".into(), source }),
        None => Ok(()),
    };
    if let Some(zookeeper) = zookeeper {
        zookeeper.terminate();
        if let Err(e) = zookeeper.wait_stopped(STOP_GRACE) {
            result = result.and(Err(KafkaError::Io { context: "stopping ZooKeeper".into(), source: e }));
        }
    }
    result
}

/// Stops the cluster recorded in `data_dir` (started by an earlier
/// process); returns how many processes were running.
pub fn stop_folder(data_dir: &Path) -> Result<usize, KafkaError> {
    let data_dir = std::path::absolute(data_dir).map_err(KafkaError::io("resolving the data folder"))?;
    let (mode, _) = read_record(&data_dir)?;
    let adopt = |mut jvm: Jvm| jvm.adopt().then_some(jvm);
    let mut brokers: Vec<Jvm> = node_dirs(&data_dir)
        .into_iter()
        .filter_map(|dir| adopt(Jvm::recorded(dir.clone(), dir.join("server.properties"))))
        .collect();
    let zookeeper_dir = data_dir.join("zookeeper");
    let mut zookeeper = adopt(Jvm::recorded(zookeeper_dir.clone(), zookeeper_dir.join("zoo.cfg")));
    let count = brokers.len() + usize::from(zookeeper.is_some());
    stop_all(mode, brokers.iter_mut().collect(), zookeeper.as_mut())?;
    Ok(count)
}

/// One node of a recorded cluster, as [`status`] finds it.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// Node id.
    pub id: u32,
    /// Broker port.
    pub port: u16,
    /// Its pid, if its process runs.
    pub pid: Option<u32>,
    /// The broker ids its `Metadata` answer lists, or why it gave none.
    pub lists: Result<Vec<i32>, String>,
}

/// The nodes of the cluster recorded in `data_dir`: running or not, and
/// which brokers each one sees.
pub fn status(data_dir: &Path) -> Result<Vec<NodeStatus>, KafkaError> {
    let data_dir = std::path::absolute(data_dir).map_err(KafkaError::io("resolving the data folder"))?;
    let (_, layout) = read_record(&data_dir)?;
    let mut out = Vec::new();
    for (id, port) in layout.node_ids().zip(layout.broker_ports.iter().copied()) {
        let dir = data_dir.join(format!("node-{id}"));
        let mut jvm = Jvm::recorded(dir.clone(), dir.join("server.properties"));
        let pid = if jvm.adopt() { jvm.pid() } else { None };
        let lists = metadata(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(2))
            .map(|m| m.brokers.iter().map(|b| b.id).collect())
            .map_err(|e| e.to_string());
        out.push(NodeStatus { id, port, pid, lists });
    }
    Ok(out)
}

/// The layout recorded in the data folder, checked against `config`; or a
/// new one, recorded.
fn record(data_dir: &Path, config: &ClusterSettings) -> Result<Layout, KafkaError> {
    let path = data_dir.join(RECORD_FILE);
    let refuse = |reason: String| KafkaError::DataFolder { folder: data_dir.to_path_buf(), reason };
    if let Ok(text) = fs::read_to_string(&path) {
        let (mode, layout) = parse_record(&text).ok_or_else(|| refuse(format!("{RECORD_FILE} is unreadable")))?;
        if mode != config.mode.name() || layout.broker_ports.len() != config.nodes {
            return Err(refuse(format!(
                "it holds a {}-node {mode} cluster, not a {}-node {} one: start it as it is, or remove the folder",
                layout.broker_ports.len(),
                config.nodes,
                config.mode.name()
            )));
        }
        if let Ports::From(base) = config.ports
            && layout != new_layout(config.mode, config.nodes, Ports::From(base))?
        {
            return Err(refuse(format!("its cluster listens on {}, not from port {base}", layout.bootstrap_servers())));
        }
        return Ok(layout);
    }
    let layout = new_layout(config.mode, config.nodes, config.ports)?;
    let list = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let text = format!(
        "# The shape of the cluster in this folder, written by imdb-local-kafka at its first start.\nmode={}\nbroker.ports={}\ncontroller.ports={}\nzookeeper.port={}\n",
        config.mode.name(),
        list(&layout.broker_ports),
        list(&layout.controller_ports),
        layout.zookeeper_port.map(|p| p.to_string()).unwrap_or_default(),
    );
    write(&path, &text)?;
    Ok(layout)
}

/// The mode and layout recorded in a data folder.
fn read_record(data_dir: &Path) -> Result<(Mode, Layout), KafkaError> {
    let refuse = |reason: String| KafkaError::DataFolder { folder: data_dir.to_path_buf(), reason };
    let text = fs::read_to_string(data_dir.join(RECORD_FILE))
        .map_err(|_| refuse(format!("no {RECORD_FILE}: no cluster was started there")))?;
    let (mode, layout) = parse_record(&text).ok_or_else(|| refuse(format!("{RECORD_FILE} is unreadable")))?;
    let mode = [Mode::Kraft, Mode::ZooKeeper]
        .into_iter()
        .find(|m| m.name() == mode)
        .ok_or_else(|| refuse(format!("{RECORD_FILE} names an unknown mode {mode}")))?;
    Ok((mode, layout))
}

fn parse_record(text: &str) -> Option<(String, Layout)> {
    let get = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='));
    let ports = |value: &str| -> Option<Vec<u16>> {
        value.split(',').filter(|p| !p.is_empty()).map(|p| p.parse().ok()).collect()
    };
    let layout = Layout {
        broker_ports: ports(get("broker.ports")?)?,
        controller_ports: ports(get("controller.ports")?)?,
        zookeeper_port: get("zookeeper.port").and_then(|p| p.parse().ok()),
    };
    Some((get("mode")?.to_owned(), layout))
}

fn new_layout(mode: Mode, nodes: usize, ports: Ports) -> Result<Layout, KafkaError> {
    // Brokers, then controllers (KRaft) or ZooKeeper: their offsets from a base port.
    let offsets: Vec<u16> = match mode {
        Mode::Kraft => (0..nodes as u16).chain((0..nodes as u16).map(|i| 100 + i)).collect(),
        Mode::ZooKeeper => (0..nodes as u16).chain([200]).collect(),
    };
    let mut picked: Vec<u16> = match ports {
        Ports::Free => free_ports(offsets.len()).map_err(KafkaError::io("finding free ports"))?,
        Ports::From(base) => offsets
            .iter()
            .map(|o| base.checked_add(*o))
            .collect::<Option<_>>()
            .ok_or_else(|| KafkaError::Setting(format!("port {base} leaves no room for the cluster")))?,
    };
    let rest = picked.split_off(nodes);
    Ok(match mode {
        Mode::Kraft => Layout { broker_ports: picked, controller_ports: rest, zookeeper_port: None },
        Mode::ZooKeeper => {
            Layout { broker_ports: picked, controller_ports: Vec::new(), zookeeper_port: rest.first().copied() }
        }
    })
}

fn formatted_cluster_id(node_dir: &Path) -> Option<String> {
    let meta = fs::read_to_string(node_dir.join("data/meta.properties")).ok()?;
    meta.lines().find_map(|l| l.strip_prefix("cluster.id=")).map(str::to_owned)
}

/// A Kafka cluster id: 16 random bytes in URL-safe base64 without padding,
/// never starting with `-` (Kafka's own `Uuid.randomUuid` rule: such an id
/// would read as a command-line flag).
fn new_cluster_id() -> String {
    loop {
        let mut bytes = [0u8; 16];
        if let Ok(mut f) = fs::File::open("/dev/urandom") {
            let _ = std::io::Read::read_exact(&mut f, &mut bytes);
        }
        if bytes == [0; 16] {
            // No /dev/urandom: the clock and the pid are unique enough for
            // a cluster that lives on one machine.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bytes[..8].copy_from_slice(&now.as_nanos().to_le_bytes()[..8]);
            bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
        }
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), KafkaError> {
    folder::write(path, text).map_err(KafkaError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_another_shape() {
        let dir = tempfile::tempdir().unwrap();
        let config = ClusterSettings {
            data_dir: Some(dir.path().into()),
            ports: Ports::From(19092),
            ..ClusterSettings::kraft(3)
        };
        let layout = record(dir.path(), &config).unwrap();
        assert_eq!(layout.broker_ports, [19092, 19093, 19094]);
        assert_eq!(layout.controller_ports, [19192, 19193, 19194]);
        assert_eq!(record(dir.path(), &config).unwrap(), layout, "the second start reads the record");
        // Free ports on a recorded folder: the recorded ones.
        let free = ClusterSettings { ports: Ports::Free, ..config.clone() };
        assert_eq!(record(dir.path(), &free).unwrap(), layout);
        let one = ClusterSettings { nodes: 1, ..config.clone() };
        assert!(matches!(record(dir.path(), &one), Err(KafkaError::DataFolder { .. })));
        let zk = ClusterSettings { mode: Mode::ZooKeeper, ..config.clone() };
        let refused = record(dir.path(), &zk).unwrap_err().to_string();
        assert!(refused.contains("3-node kraft cluster"), "{refused}");
        let moved = ClusterSettings { ports: Ports::From(29092), ..config };
        assert!(record(dir.path(), &moved).is_err());
    }

    #[test]
    fn the_default_local_layout_is_the_models_bootstrap() {
        let layout = new_layout(Mode::Kraft, 3, Ports::From(crate::LOCAL_PORT)).unwrap();
        assert_eq!(layout.bootstrap_servers(), imdb_model::topics::LOCAL_BOOTSTRAP);
    }

    #[test]
    fn cluster_ids_are_kafka_uuids() {
        for _ in 0..200 {
            let id = new_cluster_id();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'));
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        }
    }
}
