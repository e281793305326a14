//! What the kernel says about a process, read straight from /proc rather than through
//! ptscope's own readers (which are what the tests check). Shared by the tests and the
//! benchmarks (`#[path]` in benches/ptscope/main.rs), each of which uses a part.
#![allow(dead_code)]

use std::time::{Duration, Instant};

pub fn task_ids(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One field of a thread's status file ("State", "TracerPid"), empty when it is gone.
pub fn status_field(pid: i32, tid: i32, field: &str) -> String {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Each thread's state and what it waits in, one line each: said when a test gives up
/// waiting, so that a rare hang shows where every thread was.
pub fn describe_tasks(pid: i32) -> String {
    task_ids(pid)
        .into_iter()
        .map(|tid| {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan"))
                .unwrap_or_default();
            format!("{tid}: {} in {wchan}", status_field(pid, tid, "State"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every thread untraced and not in a tracing stop.
pub fn assert_untraced_and_running(pid: i32) {
    let tids = task_ids(pid);
    assert!(!tids.is_empty(), "process {pid} is gone");
    for tid in tids {
        let tracer = status_field(pid, tid, "TracerPid");
        if tracer.is_empty() {
            continue; // exited since the listing
        }
        assert_eq!(tracer, "0", "thread {tid} of {pid} still traced");
        let state = status_field(pid, tid, "State");
        assert!(
            !state.starts_with('t') && !state.starts_with('T'),
            "thread {tid} of {pid} left in {state}"
        );
    }
}

/// Traced by someone, and not in a tracing stop: the tracer attached and let it run.
pub fn traced_and_running(pid: i32, tid: i32) -> bool {
    let tracer = status_field(pid, tid, "TracerPid");
    !tracer.is_empty() && tracer != "0" && !status_field(pid, tid, "State").starts_with('t')
}

/// Polls a condition until it holds (the kernel offers no event for it), failing after
/// `timeout`.
pub fn eventually_within(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every thread of `pid` traced and running: a tracer (which says so to nobody) has attached
/// and let the process go on.
pub fn await_traced_and_running(pid: i32, timeout: Duration) {
    eventually_within(
        &format!("a tracer of {pid} to attach and run"),
        timeout,
        || task_ids(pid).iter().all(|t| traced_and_running(pid, *t)),
    );
}
