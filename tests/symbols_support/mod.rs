//! Shared by the symbols_* and procinfo_* tests: start the chain target, wait for its threads
//! to block, and read one thread's registers.
//!
//! TEST-ONLY ptrace: the engine (src/tracer) owns ptrace in the product. Until its
//! TracerHandle lands, `with_stopped` seizes one thread, interrupts it, reads its registers,
//! runs the check while it is stopped, and detaches, all on the calling test thread. Swap it
//! for TracerHandle (attach, Command::GetRegs, memory read, detach) when the engine is in.

#![allow(dead_code)]

use nix::sys::ptrace;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use ptscope::procinfo::ProcReader;
use ptscope::tracer::regs::Registers;
use std::io::{BufRead, BufReader};
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
    let mut child = Command::new(exe)
        .args(["__target", "chain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start target");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(TIMEOUT) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("target printed no READY line within {TIMEOUT:?}");
        }
    };
    let json = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("bad READY line {line:?}"));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
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

/// Stops one thread, hands its registers to `f` while it is stopped, then detaches it so it
/// runs on as before.
pub fn with_stopped<T>(tid: i32, f: impl FnOnce(&Registers) -> T) -> T {
    let pid = Pid::from_raw(tid);
    ptrace::seize(pid, ptrace::Options::empty()).expect("seize");
    ptrace::interrupt(pid).expect("interrupt");
    match waitpid(pid, Some(WaitPidFlag::__WALL)).expect("waitpid") {
        WaitStatus::PtraceEvent(..) | WaitStatus::Stopped(..) => {}
        other => panic!("unexpected wait status {other:?}"),
    }
    let regs = ptrace::getregs(pid).map(|r| Registers::from_raw(&r));
    // A failing check must still detach, or the thread would stay stopped under a dead tracer.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &regs {
        Ok(r) => f(r),
        Err(e) => panic!("getregs: {e}"),
    }));
    ptrace::detach(pid, None).expect("detach");
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
