//! Shared by the symbols_* and procinfo_* tests: start the chain target, wait for its threads
//! to block, and read one thread's registers.
//!
//! Registers come through the engine (TracerHandle), as in the product.

#![allow(dead_code)]

// Each support module takes its own copy: a test crate with both (ui_e2e) then has two.
#[allow(clippy::duplicate_mod)]
#[path = "../common/ready.rs"]
mod ready;

use ptscope::procinfo::ProcReader;
use ptscope::regs::Registers;
use ptscope::tracer::{Command as TraceCommand, Options, Reply, TracerHandle};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The running target; killed and reaped on drop, since the test launched it.
pub struct Target {
    pub child: Child,
    pub pid: i32,
    pub chain_tid: i32,
    pub mutex_tid: i32,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_chain(exe: &Path) -> Target {
    start_chain_with(&mut Command::new(exe))
}

/// The chain program started from `cmd` (a ptscope binary, with whatever else the caller set),
/// once its threads are blocked.
pub fn start_chain_with(cmd: &mut Command) -> Target {
    let mut child = cmd
        .args(["__demo", "chain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start target");
    let v = ready::ready_json(&mut child, "target", TIMEOUT);
    let t = Target {
        pid: v["pid"].as_i64().unwrap() as i32,
        chain_tid: v["chain_tid"].as_i64().unwrap() as i32,
        mutex_tid: v["mutex_tid"].as_i64().unwrap() as i32,
        child,
    };
    assert_eq!(t.pid, t.child.id() as i32);
    wait_in_syscall(t.pid, t.chain_tid, "read");
    wait_in_syscall(t.pid, t.mutex_tid, "futex");
    wait_in_syscall(t.pid, t.pid, "pause");
    t
}

pub fn start_default() -> Target {
    start_chain(Path::new(env!("CARGO_BIN_EXE_ptscope")))
}

/// Polls /proc until the thread sits in the named system call; panics after TIMEOUT.
pub fn wait_in_syscall(pid: i32, tid: i32, name: &str) {
    let mut r = ProcReader::new();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let view = r.thread(pid, tid).expect("thread readable");
        if view.syscall.name().as_deref() == Some(name) && view.state == 'S' {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "thread {tid} never blocked in {name}: {view:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads the target's memory as the engine's bulk read would: bytes read, 0 on failure.
pub fn mem_reader(pid: i32) -> impl FnMut(u64, &mut [u8]) -> usize {
    let file = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open mem");
    move |addr, buf| file.read_at(buf, addr).unwrap_or(0)
}

/// Stops the process through the engine, hands one thread's registers to `f` while everything
/// holds still, then detaches so the process runs on as before (also when `f` panics).
pub fn with_stopped<T>(pid: i32, tid: i32, f: impl FnOnce(&Registers) -> T) -> T {
    let h = TracerHandle::attach(pid, Options::default()).expect("attach");
    h.call(TraceCommand::Stop).expect("all threads stop");
    let regs = match h
        .call(TraceCommand::GetRegisters { tid })
        .expect("registers")
    {
        Reply::Registers(r) => *r,
        other => panic!("unexpected reply {other:?}"),
    };
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&regs)));
    h.shutdown().expect("detach");
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
