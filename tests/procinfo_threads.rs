//! The kernel's view of a real target's threads, read from /proc while it runs.

mod symbols_support;

use ptscope::procinfo::{tasks, ProcError, ProcReader, SyscallState};
use symbols_support::*;

#[test]
fn every_thread_has_state_wchan_and_decoded_syscall() {
    let t = start_default();
    let threads = ProcReader::new().threads(t.pid).unwrap();
    assert_eq!(threads.len(), 3, "{threads:#?}");
    assert_eq!(threads[0].tid, t.pid, "sorted by tid, leader first");

    let chain = threads.iter().find(|v| v.tid == t.chain_tid).unwrap();
    assert_eq!(chain.comm, "chain");
    assert_eq!(chain.state, 'S');
    assert_eq!(chain.syscall.name().as_deref(), Some("read"));
    let call = chain.syscall.call().unwrap();
    assert!(
        call.starts_with("read(3, 0x") && call.ends_with(", 16)"),
        "{call}"
    );
    assert!(chain.wchan.is_some(), "{chain:?}");

    let mutex = threads.iter().find(|v| v.tid == t.mutex_tid).unwrap();
    assert_eq!(mutex.comm, "mutex");
    let SyscallState::InSyscall { nr, args, pc, .. } = mutex.syscall else {
        panic!("{mutex:?}")
    };
    assert_eq!(nr, libc::SYS_futex);
    assert_eq!(args[1] & 0x7f, 0, "FUTEX_WAIT: {mutex:?}");
    assert_ne!(pc, 0);

    let main = &threads[0];
    assert_eq!(main.syscall.name().as_deref(), Some("pause"), "{main:?}");
    assert!(threads.iter().all(|v| v.cpu_ms < 60_000));

    let json = serde_json::to_value(chain).unwrap();
    assert_eq!(json["state"], "S");
    assert_eq!(json["syscall"], "read");
}

#[test]
fn process_info_and_tracer_pid() {
    let t = start_default();
    let mut r = ProcReader::new();
    let p = r.process(t.pid).unwrap();
    let args: Vec<&[u8]> = p.args();
    assert_eq!(args.len(), 3);
    assert!(args[0].ends_with(b"ptscope"));
    assert_eq!(&args[1..], [&b"__demo"[..], b"chain"]);
    assert_eq!(p.comm, "ptscope");
    assert_eq!(p.tracer_pid, None);

    // /proc/PID/status speaks for the leader thread, and names the tracing *thread*: the
    // engine's tracer thread inside this test process.
    let (traced, comm) = with_stopped(t.pid, t.pid, |_| {
        let p = r.process(t.pid).unwrap();
        let tracer = p.tracer_pid.expect("traced while stopped");
        (
            p,
            std::fs::read_to_string(format!("/proc/self/task/{tracer}/comm")).unwrap(),
        )
    });
    assert!(traced.tracer_pid.is_some());
    assert_eq!(comm.trim(), "ptscope-tracer");
    // Detached again: untraced, and the leader is back where it was.
    assert_eq!(r.process(t.pid).unwrap().tracer_pid, None);
    wait_in_syscall(t.pid, t.pid, "pause");
}

#[test]
fn gone_threads_are_errors_not_panics() {
    let me = std::process::id() as i32;
    let thread = ProcReader::new().thread(me, i32::MAX).unwrap_err();
    assert!(
        matches!(thread, ProcError::ThreadGone { pid, tid } if pid == me && tid == i32::MAX),
        "{thread:?}"
    );
    let process = ProcReader::new().threads(i32::MAX).unwrap_err();
    assert_eq!(
        process.to_string(),
        format!("process {} has exited", i32::MAX)
    );
    assert!(ProcReader::new().process(i32::MAX).unwrap_err().is_gone());
}

/// A command line is bytes: one word that is not UTF-8 must not cost the others.
#[test]
fn a_command_line_that_is_not_utf8_keeps_every_word() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    // The arguments go through clap, which wants UTF-8; argv[0] is free.
    let t = start_chain_with(
        std::process::Command::new(env!("CARGO_BIN_EXE_ptscope"))
            .arg0(std::ffi::OsStr::from_bytes(b"caf\xe9")),
    );
    let words = tasks::cmdline(t.pid);
    assert_eq!(words, ["caf\u{fffd}", "__demo", "chain"]);
    let raw = ProcReader::new().process(t.pid).unwrap().cmdline;
    assert_eq!(raw, b"caf\xe9\0__demo\0chain\0");
}
