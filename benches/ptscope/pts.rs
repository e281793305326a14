//! ptscope doing each job through its public front-end API (`TracerHandle`), as the UI does.

use super::lab::{self, Lab};
use ptscope::tracer::{Command, EventKind, Options, Snapshot, TracerHandle};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

pub fn attach(pid: i32, opts: Options) -> TracerHandle {
    let h = TracerHandle::attach(pid, opts).expect("ptscope attach");
    all_stopped(&h);
    h
}

pub fn all_stopped(h: &TracerHandle) -> Snapshot {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match h
            .events()
            .recv_timeout(left)
            .expect("AllStopped in time")
            .kind
        {
            EventKind::AllStopped(s) => return *s,
            EventKind::ProcessExited(k) => panic!("target exited: {k}"),
            _ => {}
        }
    }
}

/// Takes whatever events are queued, so a long run does not pile them up.
pub fn drain(h: &TracerHandle) -> usize {
    h.events().try_iter().count()
}

/// `ptscope::dump::take` in this process without stack walks: attach, all-stop, registers,
/// detach (plus the kernel's view of each thread, read before the stop).
pub fn dump_in_process(pid: i32, threads: usize) -> Duration {
    let t0 = Instant::now();
    let dump = ptscope::dump::take(pid, false).expect("dump");
    let took = t0.elapsed();
    let snap = dump.snapshot;
    let with_regs = snap.threads.iter().filter(|t| t.regs.is_some()).count();
    assert!(
        with_regs >= threads,
        "dump saw registers of {with_regs} threads, expected {threads}"
    );
    took
}

/// The `ptscope dump [--no-backtrace] PID` command as a user runs it (process start, text
/// output to a pipe).
pub fn dump_command(pid: i32, backtraces: bool) -> Duration {
    let t0 = Instant::now();
    let mut args = vec!["dump".to_string()];
    if !backtraces {
        args.push("--no-backtrace".into());
    }
    args.push(pid.to_string());
    let out = std::process::Command::new(lab::ptscope_bin())
        .args(&args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run ptscope dump");
    let took = t0.elapsed();
    assert!(out.status.success(), "ptscope dump {pid}: {}", out.status);
    took
}

/// Breakpoint on the hot function; Continue + wait for the AllStopped of the next hit, for
/// `window`. Returns (seconds, calls of the hot function meanwhile, i.e. hits).
pub fn breakpoints(lab: &Lab, window: Duration) -> (f64, u64) {
    let h = attach(lab.pid, Options::default());
    h.call(Command::AddBreakpoint { addr: lab.hot })
        .expect("add breakpoint");
    let c0 = lab::read_u64(lab.pid, lab.counter);
    let t0 = Instant::now();
    let deadline = t0 + window;
    loop {
        h.send(Command::Continue);
        all_stopped(&h);
        if Instant::now() >= deadline {
            break;
        }
    }
    let took = t0.elapsed().as_secs_f64();
    let c1 = lab::read_u64(lab.pid, lab.counter);
    h.shutdown().expect("detach");
    (took, c1 - c0)
}

/// `count` blocking Step calls on one thread; seconds.
pub fn steps(pid: i32, tid: i32, count: u32) -> f64 {
    let h = attach(pid, Options::default());
    let t0 = Instant::now();
    for _ in 0..count {
        h.call(Command::Step { tid }).expect("step");
    }
    let took = t0.elapsed().as_secs_f64();
    h.shutdown().expect("detach");
    took
}

/// `count` reads through `TracerHandle::read_memory` (direct while at rest); seconds per read.
pub fn read_memory(pid: i32, addr: u64, len: usize, count: u32) -> f64 {
    let h = attach(pid, Options::default());
    let t0 = Instant::now();
    for _ in 0..count {
        let m = h.read_memory(addr, len).expect("read");
        assert_eq!(m.bytes.len(), len, "short read");
    }
    let took = t0.elapsed().as_secs_f64() / count as f64;
    h.shutdown().expect("detach");
    took
}

/// Attached with the target running: the tracer thread's id, for its CPU clock.
pub struct Running {
    pub handle: TracerHandle,
    pub tracer_tid: i32,
}

impl Running {
    pub fn start(pid: i32, opts: Options) -> Running {
        let handle = attach(pid, opts);
        handle.call(Command::Continue).expect("continue");
        // Exactly one ptscope tracer thread runs at a time in this benchmark.
        let tracer_tid = lab::own_thread_named("ptscope-tracer").expect("tracer thread");
        Running { handle, tracer_tid }
    }

    pub fn cpu_ns(&self) -> u64 {
        lab::thread_cpu_ns(self.tracer_tid)
    }

    pub fn finish(self) {
        self.handle.shutdown().expect("detach");
    }
}
