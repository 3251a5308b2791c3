//! One JVM of a local cluster: how it is started, stopped and killed.
//!
//! Contract: a [`Jvm`] writes its pid to `<dir>/pid` when it starts, so a
//! later launcher invocation can find it ([`Jvm::adopt`]: only a
//! live process whose arguments name this folder's configuration file, so
//! a recycled pid is never taken for it); it
//! stops with SIGTERM (Kafka's controlled shutdown, ZooKeeper's and
//! OpenSearch's clean close) and falls back to SIGKILL after the grace period; [`Jvm::kill`]
//! is SIGKILL at once, as a crash. Its standard output and error go to
//! `<dir>/jvm.out` (the JVM's own complaints: bad flags, out of memory);
//! the program's log goes where its log configuration says.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Name of the pid file in a process's folder.
pub const PID_FILE: &str = "pid";
/// Name of the JVM's standard output and error in its folder.
pub const JVM_OUT: &str = "jvm.out";
/// What to run: a main class on a class path, with a heap and system
/// properties.
#[derive(Debug, Clone)]
pub struct JvmCommand {
    /// The `java` binary.
    pub java: PathBuf,
    /// `-cp`.
    pub class_path: String,
    /// The main class.
    pub main: String,
    /// Program arguments.
    pub args: Vec<String>,
    /// Heap size in bytes (`-Xms` and `-Xmx`, as Kafka's scripts set both).
    pub heap: usize,
    /// `-Dkey=value`.
    pub properties: Vec<(String, String)>,
    /// More JVM options, after the defaults (a launcher's `*_JVM_OPTS`).
    pub options: Vec<String>,
}

impl JvmCommand {
    /// The command line. The collector flags are those of Kafka's own
    /// `kafka-run-class.sh` (G1, as OpenSearch's `jvm.options` too).
    pub fn command(&self) -> Command {
        let heap_mib = self.heap.div_ceil(1 << 20);
        let mut command = Command::new(&self.java);
        command.args([
            format!("-Xms{heap_mib}m"),
            format!("-Xmx{heap_mib}m"),
            "-XX:+UseG1GC".into(),
            "-XX:MaxGCPauseMillis=20".into(),
            "-XX:InitiatingHeapOccupancyPercent=35".into(),
            "-XX:+ExplicitGCInvokesConcurrent".into(),
            // A JVM out of memory is dead, not limping.
            "-XX:+ExitOnOutOfMemoryError".into(),
            "-Djava.awt.headless=true".into(),
        ]);
        command.args(&self.options);
        for (key, value) in &self.properties {
            command.arg(format!("-D{key}={value}"));
        }
        command.arg("-cp").arg(&self.class_path).arg(&self.main).args(&self.args);
        command
    }

    /// Starts the command as a tool (not a server), its output appended to
    /// `log`; the caller waits for it.
    pub fn spawn_tool(&self, log: &Path) -> std::io::Result<Child> {
        let out = File::options().create(true).append(true).open(log)?;
        self.command().stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()
    }
}

/// A running (or stopped) JVM server process.
#[derive(Debug)]
pub struct Jvm {
    dir: PathBuf,
    /// The configuration file its command line names (`server.properties`,
    /// `zoo.cfg`): how its process is recognised.
    config: PathBuf,
    /// `None` for a process only known by its pid file.
    command: Option<JvmCommand>,
    child: Option<Child>,
    /// Started or adopted, and not killed or stopped since: if it is not
    /// running, it exited by itself.
    started: bool,
    /// Found running rather than started by this handle.
    adopted: bool,
    /// The pid of a process this handle did not start (found by its pid
    /// file), or of `child`.
    pid: Option<u32>,
}

impl Jvm {
    /// A handle for `command`, run in `dir`, whose arguments name `config`;
    /// not started yet.
    pub fn new(dir: PathBuf, config: PathBuf, command: JvmCommand) -> Jvm {
        Jvm { dir, config, command: Some(command), child: None, started: false, adopted: false, pid: None }
    }

    /// A handle for the process recorded in `dir` whose arguments name
    /// `config`, to [`Jvm::adopt`] and stop; it cannot be started.
    pub fn recorded(dir: PathBuf, config: PathBuf) -> Jvm {
        Jvm { dir, config, command: None, child: None, started: false, adopted: false, pid: None }
    }

    /// Takes over the process recorded in `dir`'s pid file if it is still
    /// running this folder's server; true when it did.
    pub fn adopt(&mut self) -> bool {
        let Some(pid) = fs::read_to_string(self.dir.join(PID_FILE)).ok().and_then(|p| p.trim().parse().ok()) else {
            return false;
        };
        // A recycled pid belongs to another program: one of its arguments
        // must be this process's configuration file, exactly.
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let config = self.config.as_os_str().as_encoded_bytes();
        if !proc_alive(pid) || !cmdline.split(|b| *b == 0).any(|arg| arg == config) {
            return false;
        }
        self.pid = Some(pid);
        self.started = true;
        self.adopted = true;
        true
    }

    /// Whether it was found running instead of started by this handle.
    pub fn is_adopted(&self) -> bool {
        self.adopted
    }

    /// Starts the process, unless it runs.
    pub fn start(&mut self) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let Some(command) = &self.command else {
            return Err(std::io::Error::other("a process known only by its pid file cannot be started"));
        };
        let out = File::options().create(true).append(true).open(self.dir.join(JVM_OUT))?;
        let child = command
            .command()
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let pid = child.id();
        self.child = Some(child);
        self.pid = Some(pid);
        self.started = true;
        self.adopted = false;
        if let Err(e) = fs::write(self.dir.join(PID_FILE), pid.to_string()) {
            // Unrecorded, no later command could stop it: not left running.
            let _ = self.kill();
            return Err(e);
        }
        Ok(())
    }

    /// True when it was started (or adopted) and not killed or stopped
    /// since: if it no longer runs, it died by itself.
    pub fn has_started(&self) -> bool {
        self.started
    }

    /// Its pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.is_running().then_some(self.pid).flatten()
    }

    /// Whether the process is alive (reaping it if it exited).
    pub fn is_running(&mut self) -> bool {
        match (&mut self.child, self.pid) {
            (Some(child), _) => {
                if let Ok(None) = child.try_wait() {
                    true
                } else {
                    self.child = None;
                    self.pid = None;
                    false
                }
            }
            (None, Some(pid)) => {
                let alive = proc_alive(pid);
                if !alive {
                    self.pid = None;
                }
                alive
            }
            (None, None) => false,
        }
    }

    /// SIGKILL, as a crash; waits until it is gone.
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.started = false;
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        } else if let Some(pid) = self.pid {
            signal(pid, "KILL");
            if !wait_gone(pid, Duration::from_secs(10)) {
                return Err(std::io::Error::other(format!("process {pid} still runs 10 s after SIGKILL")));
            }
        }
        self.pid = None;
        Ok(())
    }

    /// Sends SIGTERM without waiting: several processes can stop at once.
    pub fn terminate(&mut self) {
        if self.is_running()
            && let Some(pid) = self.pid
        {
            signal(pid, "TERM");
        }
    }

    /// Waits up to `grace` for the process to exit after [`Jvm::terminate`],
    /// then kills it; true when it exited by itself.
    pub fn wait_stopped(&mut self, grace: Duration) -> std::io::Result<bool> {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.reap_stopped() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill()?;
        self.forget_pid_file();
        Ok(false)
    }

    /// After [`Jvm::terminate`]: true (and its pid file removed) once it
    /// has exited.
    pub fn reap_stopped(&mut self) -> bool {
        if self.is_running() {
            return false;
        }
        self.started = false;
        self.forget_pid_file();
        true
    }

    /// Removes the pid file: the process is gone.
    pub fn forget_pid_file(&mut self) {
        self.started = false;
        let _ = fs::remove_file(self.dir.join(PID_FILE));
    }

    /// After a failed start: a process this handle started is killed (its
    /// pid file removed), one it adopted is left running and forgotten.
    pub fn abandon(&mut self) {
        if self.adopted {
            self.detach();
        } else {
            let _ = self.kill();
            self.forget_pid_file();
        }
    }

    /// Forgets the process without stopping it (the pid file stays).
    pub fn detach(&mut self) {
        self.started = false;
        self.child = None;
        self.pid = None;
    }

    /// The end of `file` in this process's folder, and of the JVM's own
    /// output: what to show when it did not come up.
    pub fn log_tail(&self, file: &Path) -> String {
        let mut out = tail(file, 30);
        let jvm = tail(&self.dir.join(JVM_OUT), 10);
        if !jvm.trim().is_empty() {
            out.push_str("\n-- jvm.out --\n");
            out.push_str(&jvm);
        }
        out
    }
}

/// The last `n` lines of a file (empty if unreadable).
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn proc_alive(pid: u32) -> bool {
    // A zombie (exited, not reaped by its parent) is not alive.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// True once `pid` is gone, false if it still runs after `within`.
fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while proc_alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Sends a signal through `kill(1)`: the workspace forbids `unsafe`, and a
/// process spawn per signal costs nothing here.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

/// SIGTERM to every process at once (each one's clean shutdown), then waits
/// for all of them; a process still running after `grace` is killed. With
/// `quorum_grace`, once more than half of them are gone, the rest get only
/// that long: a Raft-like quorum (KRaft's controllers) is gone, and with it
/// whatever their clean shutdown waits for. Every process is dealt with;
/// the errors of the kills are returned.
pub fn stop_together(mut jvms: Vec<&mut Jvm>, grace: Duration, quorum_grace: Option<Duration>) -> Vec<std::io::Error> {
    let total = jvms.len();
    for jvm in &mut jvms {
        jvm.terminate();
    }
    let deadline = Instant::now() + grace;
    let mut quorum_lost_at: Option<Instant> = None;
    let mut errors = Vec::new();
    loop {
        jvms.retain_mut(|jvm| !jvm.reap_stopped());
        if jvms.is_empty() {
            break;
        }
        if (total - jvms.len()) * 2 > total && quorum_lost_at.is_none() {
            quorum_lost_at = Some(Instant::now());
        }
        let no_quorum = quorum_grace.zip(quorum_lost_at).is_some_and(|(g, t)| t.elapsed() > g);
        if no_quorum || Instant::now() > deadline {
            for jvm in &mut jvms {
                if no_quorum {
                    tracing::info!("killing a process whose clean shutdown has no quorum left to grant it");
                } else {
                    tracing::warn!("a process did not stop within {grace:?} and was killed");
                }
                if let Err(e) = jvm.kill() {
                    errors.push(e);
                }
                jvm.forget_pid_file();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    errors
}
