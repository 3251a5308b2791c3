//! The launcher against real Kafka JVMs: a 3-node KRaft cluster in a data
//! folder of its own is ready when started, survives a node's SIGKILL and
//! restart, is found again by its pid files after its handle was detached
//! (as `imdb-local-kafka start` leaves it), stops, and starts again on the
//! same data without being formatted twice.
//!
//! Skips with a message when Kafka's jars are not installed, unless
//! `IMDB_REQUIRE_KAFKA=1` (set by scripts/test.sh).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::net::SocketAddr;
use std::time::Duration;

use imdb_local_kafka::cluster::{self, status};
use imdb_local_kafka::probe::metadata;
use imdb_local_kafka::{Cluster, ClusterSettings, KafkaError, Ports, REQUIRE_ENV};

fn meta_cluster_id(dir: &std::path::Path, node: u32) -> String {
    let meta = std::fs::read_to_string(dir.join(format!("node-{node}/data/meta.properties"))).unwrap();
    meta.lines().find_map(|l| l.strip_prefix("cluster.id=")).unwrap().to_owned()
}

fn brokers_seen(port: u16) -> Vec<i32> {
    let m = metadata(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(5)).unwrap();
    m.brokers.iter().map(|b| b.id).collect()
}

#[test]
fn a_three_node_cluster_starts_recovers_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        ClusterSettings { data_dir: Some(dir.path().join("kafka")), ports: Ports::Free, ..ClusterSettings::kraft(3) };
    let mut cluster = match Cluster::start(config.clone()) {
        Ok(c) => c,
        Err(e @ KafkaError::Install(_)) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let data = cluster.data_dir().to_path_buf();
    let ports = cluster.layout().broker_ports.clone();
    for port in &ports {
        assert_eq!(brokers_seen(*port), [1, 2, 3], "every node lists every broker once started");
    }
    let id = meta_cluster_id(&data, 1);
    assert!((2..=3).all(|n| meta_cluster_id(&data, n) == id), "one cluster id");

    let killed = cluster.pid(2).unwrap();
    cluster.kill(2).unwrap();
    assert!(cluster.pid(2).is_none());
    cluster.restart(2).unwrap();
    assert_ne!(cluster.pid(2), Some(killed));
    assert_eq!(brokers_seen(ports[1]), [1, 2, 3], "the restarted node is back");

    // Detached, as the CLI leaves it: found again by the pid files.
    cluster.detach();
    let nodes = status(&data).unwrap();
    assert!(nodes.iter().all(|n| n.pid.is_some() && n.lists.as_deref() == Ok(&[1, 2, 3][..])), "{nodes:?}");
    // Starting again adopts the running nodes instead of starting twins.
    let pids: Vec<Option<u32>> = nodes.iter().map(|n| n.pid).collect();
    let mut again = Cluster::start(config.clone()).unwrap();
    assert_eq!(again.node_ids().into_iter().map(|n| again.pid(n)).collect::<Vec<_>>(), pids);
    again.detach();

    assert_eq!(cluster::stop_folder(&data).unwrap(), 3);
    assert!(status(&data).unwrap().iter().all(|n| n.pid.is_none() && n.lists.is_err()));

    // A restart on the data: not formatted again (the storage tool would
    // rewrite meta.properties and append to format.log), same cluster.
    let formatted = |n: u32| {
        let dir = data.join(format!("node-{n}"));
        let meta = std::fs::metadata(dir.join("data/meta.properties")).unwrap().modified().unwrap();
        (meta, std::fs::read_to_string(dir.join("format.log")).unwrap())
    };
    let before: Vec<_> = (1..=3).map(formatted).collect();
    let mut restarted = Cluster::start(config).unwrap();
    assert_eq!((1..=3).map(formatted).collect::<Vec<_>>(), before);
    assert_eq!(meta_cluster_id(&data, 3), id);
    restarted.stop().unwrap();
    // Another shape on the same folder is refused.
    let one = ClusterSettings { data_dir: Some(data.clone()), ..ClusterSettings::kraft(1) };
    assert!(matches!(Cluster::start(one), Err(KafkaError::DataFolder { .. })));
}
