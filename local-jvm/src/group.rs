//! The nodes of a local cluster: one [`Jvm`] per node, each in its folder
//! `node-<id>` of the cluster's data folder.
//!
//! Contract: ids are 1-based and dense; [`Group::start`] adopts a node
//! still running from an earlier start (its pid file) instead of starting
//! it twice; [`Group::abandon`] (after a failed start) kills what this
//! handle started and leaves what it adopted; [`Group::detach`] forgets
//! every process without stopping it and keeps a temporary data folder
//! (its processes still use it). What "ready" means, and how the whole
//! group stops, is each launcher's business.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::Jvm;

/// One node.
#[derive(Debug)]
pub struct Node {
    /// 1-based id.
    pub id: u32,
    /// Its folder.
    pub dir: PathBuf,
    /// Its process.
    pub jvm: Jvm,
}

/// The nodes of a cluster and its data folder.
#[derive(Debug)]
pub struct Group {
    /// The nodes, in id order.
    pub nodes: Vec<Node>,
    data_dir: PathBuf,
    temp: Option<TempDir>,
}

impl Group {
    /// No nodes yet, in `data_dir` (temporary while `temp` holds it).
    pub fn new(data_dir: PathBuf, temp: Option<TempDir>) -> Group {
        Group { nodes: Vec::new(), data_dir, temp }
    }

    /// Node `id`'s folder.
    pub fn node_dir(&self, id: u32) -> PathBuf {
        self.data_dir.join(format!("node-{id}"))
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether the data folder goes when this handle does.
    pub fn is_temporary(&self) -> bool {
        self.temp.is_some()
    }

    /// Node `id`.
    pub fn node(&mut self, id: u32) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// Node `id`'s pid, while it runs.
    pub fn pid(&mut self, id: u32) -> Option<u32> {
        self.node(id)?.jvm.pid()
    }

    /// Starts every node that does not run already; the id of the node
    /// that failed to start, with why.
    pub fn start(&mut self) -> Result<(), (u32, std::io::Error)> {
        for node in &mut self.nodes {
            if !node.jvm.adopt() {
                node.jvm.start().map_err(|e| (node.id, e))?;
            }
        }
        Ok(())
    }

    /// Waits until `ready` accepts every running node, given the ids of
    /// all running nodes, within `timeout`. The error names a node and
    /// why: it exited by itself, or the last reason `ready` gave for it.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut(u32, &[u32]) -> Result<(), String>,
    ) -> Result<(), (u32, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut running = Vec::new();
            for node in &mut self.nodes {
                if node.jvm.is_running() {
                    running.push(node.id);
                } else if node.jvm.has_started() {
                    return Err((node.id, "the process exited".into()));
                }
            }
            let waiting_for = running.iter().find_map(|id| ready(*id, &running).err().map(|why| (*id, why)));
            let Some((id, reason)) = waiting_for else { return Ok(()) };
            if Instant::now() > deadline {
                return Err((id, format!("not ready within {timeout:?}: {reason}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The end of node `id`'s log (`file`, inside its folder) and of its
    /// JVM's own output.
    pub fn log_tail(&self, id: u32, file: &str) -> String {
        self.nodes.iter().find(|n| n.id == id).map(|n| n.jvm.log_tail(&n.dir.join(file))).unwrap_or_default()
    }

    /// After a failed start: kills what this handle started, leaves alone
    /// what it found running.
    pub fn abandon(&mut self) {
        for node in &mut self.nodes {
            node.jvm.abandon();
        }
    }

    /// SIGKILL to every node: for a temporary cluster, whose data goes anyway.
    pub fn kill_all(&mut self) {
        for node in &mut self.nodes {
            let _ = node.jvm.kill();
        }
    }

    /// Forgets every process without stopping it; keeps a temporary folder.
    pub fn detach(&mut self) {
        for node in &mut self.nodes {
            node.jvm.detach();
        }
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
    }

    /// Every node's process, for stopping them together.
    pub fn jvms(&mut self) -> Vec<&mut Jvm> {
        self.nodes.iter_mut().map(|n| &mut n.jvm).collect()
    }
}
