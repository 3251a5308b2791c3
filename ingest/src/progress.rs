//! Progress while a load runs: a bar with rate and ETA on a terminal, plain
//! periodic lines otherwise (CI logs, files).
//!
//! Progress is measured in bytes consumed from disk against the bytes the
//! run plans to read (a file read in two passes counts twice), which is the
//! only measure known up front for compressed input.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::stats::Stats;

/// Interval of plain progress lines.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// A running progress reporter; [`Progress::finish`] stops it.
#[derive(Debug)]
pub struct Progress {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
    done: Arc<AtomicBool>,
}

impl Progress {
    /// Starts reporting on stderr. `quiet` reports nothing.
    pub fn start(stats: Arc<Stats>, quiet: bool) -> Progress {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let done = Arc::new(AtomicBool::new(false));
        let handle = (!quiet).then(|| {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || {
                if std::io::stderr().is_terminal() {
                    bar(&stats, &stop, &done);
                } else {
                    plain(&stats, &stop);
                }
            })
        });
        Progress { stop, handle, done }
    }

    /// Stops reporting.
    pub fn finish(mut self) {
        self.done.store(true, Relaxed);
        let (lock, cvar) = &*self.stop;
        *lock.lock().expect("not poisoned") = true;
        cvar.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Waits `interval` or until stopped; true when stopped.
fn wait(stop: &(Mutex<bool>, Condvar), interval: Duration) -> bool {
    let (lock, cvar) = stop;
    let guard = lock.lock().expect("not poisoned");
    let (guard, _) = cvar.wait_timeout_while(guard, interval, |stopped| !*stopped).expect("not poisoned");
    *guard
}

fn bar(stats: &Stats, stop: &(Mutex<bool>, Condvar), done: &AtomicBool) {
    let bar = ProgressBar::new(stats.planned_disk_bytes.load(Relaxed).max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let start = Instant::now();
    loop {
        bar.set_length(stats.planned_disk_bytes.load(Relaxed).max(1));
        bar.set_position(stats.disk_bytes.load(Relaxed));
        let records = stats.records_read();
        let rate = records as f64 / start.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{records} records, {rate:.0}/s"));
        if wait(stop, Duration::from_millis(200)) {
            break;
        }
    }
    if done.load(Relaxed) {
        bar.finish_and_clear();
    }
}

fn plain(stats: &Stats, stop: &(Mutex<bool>, Condvar)) {
    let start = Instant::now();
    while !wait(stop, PLAIN_INTERVAL) {
        let (done, total) = (stats.disk_bytes.load(Relaxed), stats.planned_disk_bytes.load(Relaxed).max(1));
        let secs = start.elapsed().as_secs_f64();
        let records = stats.records_read();
        let fraction = (done as f64 / total as f64).min(1.0);
        let eta = if fraction > 0.0 { secs / fraction - secs } else { f64::NAN };
        eprintln!(
            "progress: {:5.1}% {} of {} MiB, {} records, {:.0} records/s, eta {:.0} s",
            fraction * 100.0,
            done >> 20,
            total >> 20,
            records,
            records as f64 / secs,
            eta
        );
    }
}
