//! Shared test helpers: the lab target process, bounded waits on tracer events, and (in
//! `observe`) what the kernel says about a process.
#![allow(dead_code)]

pub mod debugregs;
mod observe;
pub mod pty;

pub use observe::*;
use ptscope::tracer::{Event, EventKind, Snapshot, TracerHandle};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ptscope")
}

/// `ptscope dump`, keeping the answers it remembers (`symbols/remembered.rs`) under target/
/// rather than in the user's ~/.cache: shared by the tests, which also run it warm.
pub fn ptscope_dump() -> Command {
    let mut c = Command::new(bin());
    c.env(
        "XDG_CACHE_HOME",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/cache"),
    )
    .arg("dump");
    c
}

/// The `__demo lab` program, driven through its stdin and read through its stdout.
pub use ptscope::demo::lab::Driver as Lab;

/// A lab process with `threads` idle threads (plus main and control), ready.
pub fn start_lab(threads: usize) -> Lab {
    Lab::start(bin(), threads, TIMEOUT).expect("start the lab program")
}

/// Proves the process runs: it answers a command.
pub fn assert_alive(lab: &mut Lab) {
    lab.calls().expect("the lab answers");
}

/// Waits for the first event matching `pred`; on timeout, fails listing what came instead.
pub fn wait_for(h: &TracerHandle, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match h.events().recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(ev) => {
                seen.push(format!("{:?}", ev.kind));
                if seen.len() > 40 {
                    seen.remove(0);
                }
            }
            Err(_) => panic!("event not seen in time; last events:\n{}", seen.join("\n")),
        }
    }
}

pub fn wait_all_stopped(h: &TracerHandle) -> Snapshot {
    match wait_for(h, |e| matches!(e.kind, EventKind::AllStopped(_))).kind {
        EventKind::AllStopped(s) => *s,
        _ => unreachable!(),
    }
}

/// Polls a /proc condition until it holds (the kernel offers no event for it), bounded.
pub fn eventually(what: &str, cond: impl FnMut() -> bool) {
    eventually_within(what, TIMEOUT, cond);
}

pub fn read_proc_mem(pid: i32, addr: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut buf = vec![0; len];
    f.read_exact_at(&mut buf, addr).unwrap();
    buf
}

/// The thread whose own stop made the others stop.
pub fn stopper(snap: &Snapshot) -> &ptscope::tracer::ThreadInfo {
    let by = snap.stopped_by.expect("a thread caused the stop");
    snap.threads
        .iter()
        .find(|t| t.tid == by)
        .expect("the stopper is listed")
}

/// `ptscope __hold PID HOT`: a separate ptscope process resting on a breakpoint hit in the hot
/// function; returns it with the tid it reported.
pub fn start_holder(lab: &Lab) -> (Child, String) {
    start_holder_with(lab, &[&format!("{:#x}", lab.hot)])
}

/// `ptscope __hold PID COUNTER --watch`: resting on a hit of a write watchpoint on the lab's
/// counter.
pub fn start_watch_holder(lab: &Lab) -> (Child, String) {
    start_holder_with(lab, &[&format!("{:#x}", lab.counter), "--watch"])
}

fn start_holder_with(lab: &Lab, args: &[&str]) -> (Child, String) {
    let mut holder = Command::new(bin())
        .arg("__hold")
        .arg(lab.pid.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start holder");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("holder line");
    (holder, line.trim().to_string())
}

/// A number the lab prints after a word: `calls 42`, `traps 0`, `answer 42`.
pub fn lab_number(lab: &mut Lab, cmd: &str, prefix: &str) -> u64 {
    lab.send(cmd).expect("write to the lab");
    lab.wait_line(prefix)
        .expect("a lab line")
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?}"))
}
