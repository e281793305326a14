//! Shared test helpers: the lab target process and bounded waits on tracer events.
#![allow(dead_code)]

pub mod debugregs;
pub mod pty;

use crossbeam_channel::{unbounded, Receiver};
use ptscope::tracer::{Event, EventKind, Snapshot, TracerHandle};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ptscope")
}

/// The `__demo lab` program, driven through its stdin and read through its stdout.
pub struct Lab {
    pub child: Child,
    pub pid: i32,
    pub hot: u64,
    pub counter: u64,
    pub usr1: u64,
    /// Read by the `peek` command only.
    pub peek: u64,
    /// `ptscope_lab_answer`: 31 c0 90 b8 2a 00 00 00 c3; returns 42, or 0 with a ret at +2.
    pub answer: u64,
    pub tids: Vec<i32>,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

fn hex(v: &serde_json::Value) -> u64 {
    let s = v.as_str().expect("hex string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

impl Lab {
    pub fn start(threads: usize) -> Lab {
        Self::start_from(bin(), threads)
    }

    pub fn start_from(program: &str, threads: usize) -> Lab {
        let mut child = Command::new(program)
            .args(["__demo", "lab", "--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lab target");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, rx) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = rx.recv_timeout(TIMEOUT).expect("lab READY line");
        let json: serde_json::Value =
            serde_json::from_str(ready.strip_prefix("READY ").expect("READY prefix")).unwrap();
        Lab {
            pid: json["pid"].as_i64().unwrap() as i32,
            hot: hex(&json["hot"]),
            counter: hex(&json["counter"]),
            usr1: hex(&json["usr1"]),
            peek: hex(&json["peek"]),
            answer: hex(&json["answer"]),
            tids: json["tids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_i64().unwrap() as i32)
                .collect(),
            child,
            stdin,
            lines: rx,
        }
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to lab");
        self.stdin.flush().expect("flush lab stdin");
    }

    /// The next stdout line that starts with `prefix`, within the timeout.
    pub fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(l) => skipped.push(l),
                Err(_) => panic!(
                    "lab {} did not print {prefix:?} in time (printed instead: {skipped:?})",
                    self.pid
                ),
            }
        }
    }

    /// The tid a command line like `hot 1234` reports.
    pub fn command_tid(&mut self, cmd: &str) -> i32 {
        self.send(cmd);
        let word = cmd.split_whitespace().next().unwrap();
        let prefix = match word {
            "spawn" => "spawned",
            "exit-thread" => "exiting",
            other => other,
        };
        let line = self.expect(&format!("{prefix} "));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Proves the process runs: it answers a command.
    pub fn assert_alive(&mut self) {
        self.send("calls");
        self.expect("calls ");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Test targets are ours: kill them on purpose.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

pub fn status_field(pid: i32, tid: i32, field: &str) -> String {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

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

/// Every thread untraced and not in a tracing stop.
pub fn assert_untraced_and_running(pid: i32) {
    let tids = task_ids(pid);
    assert!(!tids.is_empty(), "process {pid} is gone");
    for tid in tids {
        let tracer = status_field(pid, tid, "TracerPid");
        if tracer.is_empty() {
            continue; // exited since the listing
        }
        assert_eq!(tracer, "0", "thread {tid} still traced");
        let state = status_field(pid, tid, "State");
        assert!(
            !state.starts_with('t') && !state.starts_with('T'),
            "thread {tid} left in {state}"
        );
    }
}

/// Polls a /proc condition until it holds (the kernel offers no event for it), bounded.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
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
    lab.send(cmd);
    lab.expect(prefix)
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?}"))
}
