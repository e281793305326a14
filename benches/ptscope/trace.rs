//! Figure 8: hits that do not stop. `ptscope trace` (the whole command, its output read from a
//! pipe) against gdb's `dprintf` on the same hot function; and the engine's two ways past a
//! breakpoint for such hits (out of line, or stopping every thread), in process, with the
//! target's own counter as the count.

use super::figures::{gdb_missing, Plan};
use super::gdb;
use super::lab::{self, Lab};
use super::pts;
use super::table::{Goal, Kind, Row};
use ptscope::tracer::{Command, HitRule, OnHit, Options, PassHits};
use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

/// `ptscope trace PID ptscope_lab_hot --for W`, stdout read line by line; returns the rate the
/// summary reports (hits over the traced window) after checking it against the lines read.
fn trace_command(lab: &Lab, window: Duration) -> f64 {
    let mut child = Process::new(lab::ptscope_bin())
        .args(["trace", &lab.pid.to_string(), "ptscope_lab_hot", "--for"])
        .arg(format!("{}", window.as_secs_f64()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ptscope trace");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = 0u64;
    let mut summary = None;
    for line in out.lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("-- ") {
            summary = Some(rest.to_string());
        } else if line.contains(" ptscope_lab_hot rdi=") {
            lines += 1;
        }
    }
    let status = child.wait().expect("trace ends");
    assert!(status.success(), "ptscope trace: {status}");
    let summary = summary.expect("a summary line");
    // "N hits in S s (R/s); ..."
    let mut words = summary.split_whitespace();
    let hits: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("hit count");
    let secs: f64 = words.nth(2).and_then(|w| w.parse().ok()).expect("seconds");
    assert_eq!(hits, lines, "one line per hit");
    hits as f64 / secs
}

/// The engine alone: a trace rule on the hot function, events drained, for `window`; the rate
/// of calls the target counted.
fn engine(lab: &Lab, window: Duration, pass_hits: PassHits) -> f64 {
    let opts = Options {
        stop_on_thread_events: false,
        pass_hits,
        ..Options::default()
    };
    let h = pts::attach(lab.pid, opts);
    let rule = HitRule {
        condition: None,
        ignore: 0,
        action: OnHit::Trace,
    };
    h.call(Command::AddBreakpointWith {
        addr: lab.hot,
        rule: Box::new(rule),
    })
    .expect("trace breakpoint");
    h.call(Command::Continue).expect("continue");
    let c0 = lab::read_u64(lab.pid, lab.counter);
    let t0 = Instant::now();
    while t0.elapsed() < window {
        pts::drain(&h);
        std::thread::sleep(Duration::from_millis(5));
    }
    let c1 = lab::read_u64(lab.pid, lab.counter);
    let took = t0.elapsed().as_secs_f64();
    h.shutdown().expect("detach");
    (c1 - c0) as f64 / took
}

pub fn trace(plan: &Plan, rows: &mut Vec<Row>) {
    for hot_threads in [2usize, 8] {
        let mut lab = lab::start(0);
        for _ in 0..hot_threads {
            lab.command("hot").expect("a hot thread");
        }
        let window = plan.window(1000);
        let mut cmd = Row::new(
            format!("8. trace hits/s, {hot_threads} hot threads: `ptscope trace` vs gdb dprintf"),
            Kind::Rate,
            "/s",
            Goal::OfGdb(3.0),
        );
        cmd.raw = Vec::new();
        gdb_missing(plan, &mut cmd);
        let mut ool = Row::new(
            format!("8. engine, {hot_threads} hot threads: hits passed out of line"),
            Kind::Rate,
            "/s",
            Goal::None,
        );
        let mut world = Row::new(
            format!("8. engine, {hot_threads} hot threads: hits passed by stopping the world"),
            Kind::Rate,
            "/s",
            Goal::None,
        );
        for row in [&mut ool, &mut world] {
            row.gdb = Err("".into());
        }
        for i in 0..plan.reps {
            cmd.pts.push(trace_command(&lab, window));
            lab::assert_untraced_and_running(lab.pid);
            ool.pts.push(engine(&lab, window, PassHits::OutOfLine));
            world.pts.push(engine(&lab, window, PassHits::StopTheWorld));
            lab::assert_untraced_and_running(lab.pid);
            if plan.gdb_turn(i) {
                let (secs, hits) = gdb::dprintf(lab.pid, lab.hot, lab.counter, window);
                cmd.gdb_push(hits as f64 / secs);
                lab::assert_untraced_and_running(lab.pid);
            }
        }
        rows.extend([cmd, ool, world]);
        let _ = lab.calls();
    }
}
