//! `ptscope trace` against the lab: every hit of the hot function is printed, exactly as many as
//! the target counted itself, and every way the trace ends leaves the process running,
//! untraced, with its own bytes.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

struct Trace {
    child: Child,
    stderr: crossbeam_channel::Receiver<String>,
}

fn start_trace(pid: i32, args: &[&str]) -> Trace {
    let mut child = Command::new(bin())
        .arg("trace")
        .arg(pid.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ptscope trace");
    let (tx, rx) = crossbeam_channel::unbounded();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t = Trace { child, stderr: rx };
    // Tracing has begun once it says so: the breakpoints are in.
    loop {
        match t.stderr.recv_timeout(TIMEOUT) {
            Ok(l) if l.contains("tracing process") => return t,
            Ok(_) => {}
            Err(_) => panic!("ptscope trace never said it was tracing"),
        }
    }
}

/// Ends the trace with `sig` (None: wait for it to end on its own) and returns its stdout.
fn finish(mut t: Trace, sig: Option<i32>) -> String {
    if let Some(sig) = sig {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(t.child.id() as i32, sig) }, 0);
    }
    let mut out = String::new();
    t.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = t.child.wait().unwrap();
    assert!(
        status.success(),
        "trace exited with {status}; stderr: {:?}",
        t.stderr.try_iter().collect::<Vec<_>>()
    );
    out
}

fn json_lines(out: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut hits: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary = hits.pop().expect("a summary line");
    assert!(summary.get("summary").is_some(), "{summary}");
    (hits, summary["summary"].clone())
}

#[test]
fn every_hit_is_printed_exactly_as_the_target_counted_it() {
    let mut lab = start_lab(0);
    let original = read_proc_mem(lab.pid, lab.hot, 16);
    let t = start_trace(lab.pid, &["ptscope_lab_hot", "--json"]);
    // Four threads call it 2,500 times each, side by side, with rdi = 0..2500.
    let calls = lab.command("burst 4 2500").unwrap();
    assert_eq!(calls, 10_000, "the target's own count");
    let out = finish(t, Some(libc::SIGINT));
    let (hits, summary) = json_lines(&out);
    assert_eq!(hits.len(), 10_000, "one line per call");
    assert_eq!(summary["hits"], 10_000);
    assert_eq!(summary["ended"], "ended on SIGINT");
    let mut per_tid: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for h in &hits {
        assert_eq!(h["location"], "ptscope_lab_hot");
        assert_eq!(h["name"], "burst");
        let rdi = u64::from_str_radix(h["args"][0].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
        per_tid
            .entry(h["tid"].as_i64().unwrap())
            .or_default()
            .push(rdi);
        assert!(h["caller"].as_str().unwrap().contains("burst"), "{h}");
    }
    assert_eq!(per_tid.len(), 4);
    for (tid, mut rdis) in per_tid {
        rdis.sort_unstable();
        assert_eq!(
            rdis,
            (0..2500).collect::<Vec<_>>(),
            "thread {tid}: every call, once"
        );
    }
    assert_eq!(read_proc_mem(lab.pid, lab.hot, 16), original);
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);
}

#[test]
fn ctrl_c_during_a_trace_leaves_the_process_untraced_running_and_as_it_was() {
    let mut lab = start_lab(1);
    for _ in 0..2 {
        lab.command_tid("hot").unwrap();
    }
    let original = read_proc_mem(lab.pid, lab.hot, 16);
    let t = start_trace(lab.pid, &["ptscope_lab_hot if rdi & 1"]);
    let before = lab.calls().unwrap();
    eventually("the hot threads are traced through", || {
        lab.calls().unwrap() > before + 1000
    });
    let out = finish(t, Some(libc::SIGINT));
    let summary = out
        .lines()
        .find(|l| l.starts_with("-- "))
        .expect("a summary");
    assert!(summary.contains("ended on SIGINT"), "{summary}");
    assert!(out.contains(" ptscope_lab_hot rdi="), "hits were printed");
    assert_eq!(
        read_proc_mem(lab.pid, lab.hot, 16),
        original,
        "every byte back"
    );
    assert_untraced_and_running(lab.pid);
    let now = lab.calls().unwrap();
    eventually("the hot threads run on", || lab.calls().unwrap() > now);
}

#[test]
fn a_trace_ends_by_itself_after_for_and_when_the_process_exits() {
    let mut lab = start_lab(0);
    lab.command_tid("hot").unwrap();
    let t = start_trace(lab.pid, &["ptscope_lab_hot", "--for", "0.3"]);
    let out = finish(t, None);
    assert!(out.contains("ended after --for 0.3"), "{out}");
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);

    let t = start_trace(lab.pid, &["ptscope_lab_hot", "--json"]);
    // Some calls go through the traced breakpoint before the process leaves.
    let before = lab.calls().unwrap();
    eventually("traced calls", || lab.calls().unwrap() > before);
    lab.send("quit 3").unwrap();
    let out = finish(t, None);
    let (hits, summary) = json_lines(&out);
    assert!(!hits.is_empty());
    assert!(
        summary["ended"]
            .as_str()
            .unwrap()
            .starts_with("process exited"),
        "{summary}"
    );
    assert_eq!(lab.child.wait().unwrap().code(), Some(3));
}

#[test]
fn a_bad_location_is_one_line_and_leaves_the_process_alone() {
    let mut lab = start_lab(0);
    let out = Command::new(bin())
        .args(["trace", &lab.pid.to_string(), "no_such_function_here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no_such_function_here"), "{err}");
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);
}

#[test]
fn a_process_that_is_not_there_is_one_line() {
    // A pid past the kernel's limit can never name a process.
    let max: i64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("pid_max")
        .trim()
        .parse()
        .expect("a number");
    let pid = (max + 1).to_string();
    let out = Command::new(bin())
        .args(["trace", &pid, "ptscope_lab_hot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end(), format!("ptscope: no such process: {pid}"));
}
