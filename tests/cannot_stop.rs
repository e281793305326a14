//! Threads an all-stop cannot stop (a vfork() parent waits in D for its child): the engine
//! completes the all-stop without them within about a second, says why, stays usable, holds
//! such a thread once its wait ends, and leaves everything untraced and running.

mod common;
mod hung_support;

use common::{eventually, status_field, task_ids, wait_all_stopped, wait_for};
use hung_support::Demo;
use ptscope::tracer::{
    Command, EventKind, Options, ProcessState, Snapshot, StopCause, ThreadInfo, ThreadState,
    TraceError, TracerHandle, Unstoppable,
};

fn attach(pid: i32) -> TracerHandle {
    TracerHandle::attach(
        pid,
        Options {
            stop_on_thread_events: false,
            ..Options::default()
        },
    )
    .expect("attach")
}

fn thread(s: &Snapshot, tid: i32) -> &ThreadInfo {
    s.threads
        .iter()
        .find(|t| t.tid == tid)
        .unwrap_or_else(|| panic!("thread {tid} not in {s:?}"))
}

/// Every thread untraced, none in a tracing stop. The kernel lets go of a thread that never
/// stopped when the tracer thread exits, just after the handle has joined it: polled.
fn untraced_and_running(pid: i32) {
    eventually("every thread untraced and running", || {
        task_ids(pid).iter().all(|&t| {
            let tracer = status_field(pid, t, "TracerPid");
            let state = status_field(pid, t, "State");
            (tracer.is_empty() || tracer == "0") && !state.starts_with('t')
        })
    });
}

#[test]
fn an_all_stop_completes_without_a_thread_in_vfork_and_says_why() {
    let d = Demo::start("hung-vfork", &[]);
    let (tid, child, idle) = (d.tid("vfork_tid"), d.tid("child"), d.tid("idle_tid"));
    let h = attach(d.pid);
    let snap = wait_all_stopped(&h);
    assert_eq!(snap.state, ProcessState::Stopped, "{snap:?}");
    let stuck = thread(&snap, tid);
    assert_eq!(stuck.state, ThreadState::CannotStop);
    assert_eq!(
        stuck.cause,
        Some(StopCause::CannotStop {
            why: Unstoppable::Vfork { child: Some(child) }
        })
    );
    assert_eq!(
        stuck.cause.map(|c| c.to_string()),
        Some(format!("cannot stop: in vfork, child {child}"))
    );
    assert!(stuck.regs.is_none());
    for t in [d.pid, idle] {
        let x = thread(&snap, t);
        assert_eq!(x.state, ThreadState::Stopped);
        assert!(x.regs.is_some(), "registers of {t}");
        assert_eq!(status_field(d.pid, t, "State").chars().next(), Some('t'));
    }
    // Still usable: its registers are refused with the reason, the others run and stop again.
    let err = h.call(Command::GetRegisters { tid }).unwrap_err();
    assert!(
        matches!(&err, TraceError::WrongState(m) if m.contains("in vfork")),
        "{err:?}"
    );
    h.call(Command::Continue).expect("continue");
    h.call(Command::Stop).expect("stop again");
    let snap = h.snapshot().expect("snapshot");
    assert_eq!(snap.state, ProcessState::Stopped);
    assert_eq!(thread(&snap, tid).state, ThreadState::CannotStop);
    assert_eq!(thread(&snap, idle).state, ThreadState::Stopped);
    h.shutdown().expect("detach");
    untraced_and_running(d.pid);
    assert_eq!(
        status_field(d.pid, tid, "State").chars().next(),
        Some('D'),
        "still in vfork, untouched"
    );
}

#[test]
fn a_thread_that_could_not_stop_is_held_once_its_vfork_ends() {
    let d = Demo::start("hung-vfork", &[]);
    let (tid, child) = (d.tid("vfork_tid"), d.tid("child"));
    let h = attach(d.pid);
    let snap = wait_all_stopped(&h);
    assert_eq!(thread(&snap, tid).state, ThreadState::CannotStop);
    // The child exits: the parent's vfork is over and its queued interrupt stops it before
    // it runs an instruction of its own, while every other thread is still held.
    // SAFETY: kill(2) of a process this test's demo created; no memory is involved.
    assert_eq!(unsafe { libc::kill(child, libc::SIGKILL) }, 0);
    wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Transition(t) if t.tid == tid && t.new == ThreadState::Stopped),
    );
    let snap = h.snapshot().expect("snapshot");
    assert_eq!(snap.state, ProcessState::Stopped);
    let held = thread(&snap, tid);
    assert_eq!(held.state, ThreadState::Stopped, "{held:?}");
    assert!(held.regs.is_some(), "registers once stopped");
    eventually("the thread to be in a tracing stop", || {
        status_field(d.pid, tid, "State").starts_with('t')
    });
    // And it runs with the others when they run.
    h.call(Command::Continue).expect("continue");
    h.shutdown().expect("detach");
    untraced_and_running(d.pid);
}
