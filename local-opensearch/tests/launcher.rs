//! The launcher against real OpenSearch nodes: a 3-node cluster forms,
//! keeps a replicated index readable with a node killed, takes the node
//! back on its data (green again, the document still there once), and a
//! later command stops it through the pid files alone.
//!
//! Skips with a message when OpenSearch's jars are not installed, unless
//! `IMDB_REQUIRE_OPENSEARCH=1` (set by scripts/test.sh).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::time::{Duration, Instant};

use imdb_local_opensearch::cluster::{self, stop_folder};
use imdb_local_opensearch::{Cluster, ClusterSettings, OpenSearchError, REQUIRE_ENV};
use serde_json::{Value, json};

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// The cluster's health once it is `status` (or better) with `nodes` nodes, or after 60 s.
fn health(url: &str, status: &str, nodes: u32) -> Value {
    let query = format!("wait_for_status={status}&wait_for_nodes={nodes}&timeout=60s");
    http().get(format!("{url}/_cluster/health?{query}")).send().unwrap().json().unwrap()
}

#[test]
fn a_three_node_cluster_forms_survives_a_killed_node_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let config = ClusterSettings { data_dir: Some(dir.path().join("opensearch")), ..ClusterSettings::new(3) };
    let started = Instant::now();
    let mut cluster = match Cluster::start(config.clone()) {
        Ok(c) => c,
        Err(e @ OpenSearchError::Install(_)) if std::env::var_os(REQUIRE_ENV).is_none() => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    eprintln!("3 nodes up in {:?}", started.elapsed());
    let (one, three) = (cluster.url(1), cluster.url(3));
    let h = health(&one, "green", 3);
    assert_eq!((h["number_of_nodes"].as_u64(), h["status"].as_str()), (Some(3), Some("green")), "{h}");

    // One primary, one replica: the document survives the loss of either copy's node.
    let index = json!({"settings": {"number_of_shards": 1, "number_of_replicas": 1}});
    assert!(http().put(format!("{one}/t")).json(&index).send().unwrap().status().is_success());
    let put = http().put(format!("{one}/t/_doc/tt0000001?refresh=true")).json(&json!({"title": "Carmencita"})).send();
    assert!(put.unwrap().status().is_success());
    assert_eq!(health(&one, "green", 3)["status"], "green");

    cluster.kill(2).unwrap();
    let count = |url: &str| -> Value { http().get(format!("{url}/t/_count")).send().unwrap().json().unwrap() };
    // Node 3 answers for the cluster while node 2 is gone (yellow at worst).
    let h = health(&three, "yellow", 2);
    assert_eq!(h["number_of_nodes"], 2, "{h}");
    assert_eq!(count(&three)["count"], 1);

    cluster.restart(2).unwrap();
    let h = health(&cluster.url(2), "green", 3);
    assert_eq!((h["number_of_nodes"].as_u64(), h["status"].as_str()), (Some(3), Some("green")), "{h}");
    assert_eq!(count(&cluster.url(2))["count"], 1);

    // A later command finds the nodes by their pid files and stops them.
    let data = cluster.data_dir().to_path_buf();
    cluster.detach();
    assert!(cluster::status(&data).unwrap().iter().all(|n| n.pid.is_some()));
    assert_eq!(stop_folder(&data).unwrap(), 3);
    assert!(cluster::status(&data).unwrap().iter().all(|n| n.pid.is_none() && n.health.is_err()));

    // Its data folder starts the same cluster again, and refuses another shape.
    let one_node = ClusterSettings { nodes: 1, ..config.clone() };
    assert!(matches!(Cluster::start(one_node), Err(OpenSearchError::DataFolder { .. })));
    let mut again = Cluster::start(config).unwrap();
    assert_eq!(count(&again.url(1))["count"], 1, "the document outlived a full stop");
    again.stop().unwrap();
}
