//! The configuration files of a local cluster's processes, as text.
//!
//! Contract: every setting that differs from Kafka's defaults is here, with
//! the reason next to it; nothing else configures the brokers. The same
//! [`Layout`] gives every node the same controller voters and replication
//! settings, so the nodes of one cluster always agree.
//!
//! Replication follows [`imdb_model::topics::Replication`]: three nodes give
//! internal topics three replicas with two in sync (one node may be down and
//! writes still go on), one node gives one of each.

use std::fmt::Write as _;
use std::path::Path;

use imdb_model::topics::Replication;

/// Where a cluster's processes listen: one broker port and (KRaft) one
/// controller port per node, and (ZooKeeper mode) ZooKeeper's client port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Broker (client) port of node `i + 1`.
    pub broker_ports: Vec<u16>,
    /// Controller port of node `i + 1` (KRaft only; empty in ZooKeeper mode).
    pub controller_ports: Vec<u16>,
    /// ZooKeeper's client port (ZooKeeper mode only).
    pub zookeeper_port: Option<u16>,
}

impl Layout {
    /// Node ids, 1-based, in order.
    pub fn node_ids(&self) -> impl Iterator<Item = u32> + '_ {
        (1..=self.broker_ports.len()).map(|i| i as u32)
    }

    /// How topics are replicated on this many nodes.
    pub fn replication(&self) -> Replication {
        Replication::for_brokers(self.broker_ports.len())
    }

    /// `bootstrap.servers` naming every broker, so a client still finds the
    /// cluster while one of them is down.
    pub fn bootstrap_servers(&self) -> String {
        let addresses: Vec<String> = self.broker_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        addresses.join(",")
    }

    fn broker_port(&self, id: u32) -> u16 {
        self.broker_ports[id as usize - 1]
    }
}

/// Settings shared by both modes: replication of the internal topics and
/// what a one-machine cluster changes from Kafka's defaults.
fn common(out: &mut String, layout: &Layout, id: u32, data: &Path) {
    let r = layout.replication();
    let port = layout.broker_port(id);
    let _ = writeln!(out, "advertised.listeners=PLAINTEXT://127.0.0.1:{port}");
    let _ = writeln!(out, "inter.broker.listener.name=PLAINTEXT");
    let _ = writeln!(out, "log.dirs={}", data.display());
    let _ = writeln!(out, "default.replication.factor={}", r.factor);
    let _ = writeln!(out, "min.insync.replicas={}", r.min_insync);
    let _ = writeln!(out, "offsets.topic.replication.factor={}", r.factor);
    let _ = writeln!(out, "transaction.state.log.replication.factor={}", r.factor);
    let _ = writeln!(out, "transaction.state.log.min.isr={}", r.min_insync);
    out.push_str(concat!(
        "# Topics are created on purpose, with the model's partition counts.\n",
        "auto.create.topics.enable=false\n",
        "# The topics are the record the indexes are rebuilt from: kept until\n",
        "# deleted, not for Kafka's default 7 days.\n",
        "log.retention.ms=-1\n",
        "# One machine, a few consumer groups: 12 offset partitions instead of 50\n",
        "# (each is a replicated log with a leader to elect at start).\n",
        "offsets.topic.num.partitions=12\n",
        "# Consumers join at once; tests and the local stack need no 3 s wait.\n",
        "group.initial.rebalance.delay.ms=0\n",
        "# The log cleaner's map is allocated on the heap: 128 MiB by default,\n",
        "# too much for the small heaps here. Only __consumer_offsets is compacted.\n",
        "log.cleaner.dedupe.buffer.size=16777216\n",
    ));
}

/// `server.properties` of node `id` of a KRaft cluster: a combined broker
/// and controller, with every node of `layout` as a controller voter.
pub fn kraft_node(layout: &Layout, id: u32, data: &Path) -> String {
    let r = layout.replication();
    let broker = layout.broker_port(id);
    let controller = layout.controller_ports[id as usize - 1];
    let voters: Vec<String> = layout
        .node_ids()
        .zip(&layout.controller_ports)
        .map(|(node, port)| format!("{node}@127.0.0.1:{port}"))
        .collect();
    let mut out = String::from("# Written by imdb-local-kafka; rewritten at every start.\n");
    let _ = writeln!(out, "process.roles=broker,controller");
    let _ = writeln!(out, "node.id={id}");
    let _ = writeln!(out, "listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}");
    let _ = writeln!(out, "controller.listener.names=CONTROLLER");
    let _ = writeln!(out, "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
    let _ = writeln!(out, "controller.quorum.voters={}", voters.join(","));
    let _ = writeln!(out, "share.coordinator.state.topic.replication.factor={}", r.factor);
    let _ = writeln!(out, "share.coordinator.state.topic.min.isr={}", r.min_insync);
    common(&mut out, layout, id, data);
    out
}

/// `server.properties` of broker `id` in ZooKeeper mode (Kafka 3.9), its
/// metadata under the `/kafka` chroot of the cluster's ZooKeeper.
pub fn zookeeper_broker(layout: &Layout, id: u32, data: &Path) -> String {
    let zookeeper = layout.zookeeper_port.expect("a ZooKeeper-mode layout has a ZooKeeper port");
    let broker = layout.broker_port(id);
    let mut out = String::from("# Written by imdb-local-kafka; rewritten at every start.\n");
    let _ = writeln!(out, "broker.id={id}");
    let _ = writeln!(out, "zookeeper.connect=127.0.0.1:{zookeeper}/kafka");
    let _ = writeln!(out, "listeners=PLAINTEXT://127.0.0.1:{broker}");
    common(&mut out, layout, id, data);
    out
}

/// `zoo.cfg` of a standalone ZooKeeper on loopback. The four-letter words
/// `ruok` and `srvr` are allowed: `ruok` is the readiness probe.
pub fn zookeeper(port: u16, data: &Path) -> String {
    format!(
        concat!(
            "# Written by imdb-local-kafka; rewritten at every start.\n",
            "tickTime=2000\n",
            "dataDir={data}\n",
            "clientPort={port}\n",
            "clientPortAddress=127.0.0.1\n",
            "# No Jetty on the class path: the admin server stays off.\n",
            "admin.enableServer=false\n",
            "4lw.commands.whitelist=ruok,srvr\n",
            "# Old snapshots and logs are removed every hour, three kept.\n",
            "autopurge.purgeInterval=1\n",
        ),
        data = data.display(),
        port = port
    )
}

/// A log4j2 configuration (properties format: no YAML or XML parser on the
/// class path) writing everything at INFO to one file.
pub fn log4j2(file: &Path) -> String {
    format!(
        concat!(
            "status = warn\n",
            "appender.file.type = File\n",
            "appender.file.name = file\n",
            "appender.file.fileName = {file}\n",
            "appender.file.layout.type = PatternLayout\n",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n",
            "rootLogger.level = INFO\n",
            "rootLogger.appenderRef.file.ref = file\n",
            "# The request log is per request: far too much at INFO.\n",
            "logger.request.name = kafka.request.logger\n",
            "logger.request.level = WARN\n",
        ),
        file = file.display()
    )
}

/// The same for Kafka 3.9, whose distribution binds SLF4J to reload4j
/// (log4j 1.x format).
pub fn log4j1(file: &Path) -> String {
    format!(
        concat!(
            "log4j.rootLogger=INFO, file\n",
            "log4j.appender.file=org.apache.log4j.FileAppender\n",
            "log4j.appender.file.File={file}\n",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n",
            "log4j.logger.kafka.request.logger=WARN\n",
        ),
        file = file.display()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(text: &str) -> HashMap<&str, &str> {
        text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(|l| l.split_once('=').unwrap()).collect()
    }

    fn three() -> Layout {
        Layout { broker_ports: vec![9092, 9093, 9094], controller_ports: vec![9192, 9193, 9194], zookeeper_port: None }
    }

    #[test]
    fn every_kraft_node_names_the_same_voters_and_its_own_ports() {
        let layout = three();
        let configs: Vec<String> =
            layout.node_ids().map(|id| kraft_node(&layout, id, Path::new(&format!("/d/{id}")))).collect();
        let voters: Vec<&str> = configs.iter().map(|c| parse(c)["controller.quorum.voters"]).collect();
        assert!(voters.iter().all(|v| *v == "1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194"), "{voters:?}");
        let second = parse(&configs[1]);
        assert_eq!(second["node.id"], "2");
        assert_eq!(second["listeners"], "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9193");
        assert_eq!(second["advertised.listeners"], "PLAINTEXT://127.0.0.1:9093");
        assert_eq!(second["log.dirs"], "/d/2");
    }

    #[test]
    fn three_nodes_replicate_three_times_with_two_in_sync() {
        let config = kraft_node(&three(), 1, Path::new("/d"));
        let p = parse(&config);
        for key in ["offsets.topic.replication.factor", "default.replication.factor"] {
            assert_eq!(p[key], "3", "{key}");
        }
        assert_eq!(p["min.insync.replicas"], "2");
        assert_eq!(p["transaction.state.log.min.isr"], "2");
    }

    #[test]
    fn one_node_replicates_once() {
        let layout = Layout { broker_ports: vec![9092], controller_ports: vec![9192], zookeeper_port: None };
        let config = kraft_node(&layout, 1, Path::new("/d"));
        let p = parse(&config);
        assert_eq!(p["offsets.topic.replication.factor"], "1");
        assert_eq!(p["min.insync.replicas"], "1");
        assert_eq!(p["controller.quorum.voters"], "1@127.0.0.1:9192");
    }

    #[test]
    fn zookeeper_brokers_share_the_chroot_and_have_no_controller() {
        let layout = Layout { broker_ports: vec![9092, 9093], controller_ports: vec![], zookeeper_port: Some(2181) };
        let config = zookeeper_broker(&layout, 2, Path::new("/d"));
        let p = parse(&config);
        assert_eq!(p["broker.id"], "2");
        assert_eq!(p["zookeeper.connect"], "127.0.0.1:2181/kafka");
        assert!(!p.contains_key("process.roles") && !p.contains_key("controller.quorum.voters"));
        assert_eq!(layout.bootstrap_servers(), "127.0.0.1:9092,127.0.0.1:9093");
    }

    #[test]
    fn no_key_is_set_twice() {
        let layout = three();
        for config in [kraft_node(&layout, 1, Path::new("/d")), zookeeper(2181, Path::new("/z"))] {
            let keys: Vec<&str> = config
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, _)| k)
                .collect();
            let mut unique = keys.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), keys.len(), "{config}");
        }
    }
}
