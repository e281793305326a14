//! Hardware watchpoints against the lab process: who wrote, what it was and became, reads,
//! new threads, deleting, the four-register limit, and stepping with watchpoints armed. After
//! every detach the debug registers are read back through a ptrace attach of the test's own.

mod common;

use common::debugregs::assert_all_clear;
use common::*;
use ptscope::tracer::{
    Command, Event, EventKind, Options, Reply, Snapshot, StopCause, TraceError, TracerHandle,
    WatchHit, WatchKind, WatchpointInfo,
};

fn attach_stopped(lab: &Lab, stop_on_thread_events: bool) -> TracerHandle {
    let opts = Options {
        stop_on_thread_events,
        ..Options::default()
    };
    let h = TracerHandle::attach(lab.pid, opts).expect("attach");
    wait_all_stopped(&h);
    h
}

fn watch(h: &TracerHandle, addr: u64, kind: WatchKind, len: Option<u8>) -> WatchpointInfo {
    match h.call(Command::AddWatchpoint { addr, kind, len }) {
        Ok(Reply::Watchpoint(w)) => w,
        other => panic!("watch {addr:#x}: {other:?}"),
    }
}

fn counter_now(lab: &Lab) -> u64 {
    u64::from_le_bytes(read_proc_mem(lab.pid, lab.counter, 8).try_into().unwrap())
}

/// Continues, then waits for the next all-stop; returns it with the watchpoint hits reported
/// on the way.
fn run_to_stop(h: &TracerHandle) -> (Snapshot, Vec<WatchHit>) {
    h.call(Command::Continue).expect("continue");
    next_stop(h)
}

fn next_stop(h: &TracerHandle) -> (Snapshot, Vec<WatchHit>) {
    let mut hits = Vec::new();
    let ev = wait_for(h, |e: &Event| match &e.kind {
        EventKind::WatchpointHit(hit) => {
            hits.push(*hit);
            false
        }
        EventKind::AllStopped(_) => true,
        _ => false,
    });
    match ev.kind {
        EventKind::AllStopped(s) => (*s, hits),
        _ => unreachable!(),
    }
}

/// Detach, then check from outside: untraced, running, and no debug register of ours armed.
fn leave(h: TracerHandle, lab: &mut Lab) {
    h.shutdown().expect("detach");
    assert_untraced_and_running(lab.pid);
    assert_all_clear(lab.pid);
    assert_alive(lab);
}

#[test]
fn a_write_watch_stops_the_writer_with_the_old_and_new_value() {
    let mut lab = start_lab(1);
    let hot = lab.command_tid("hot").expect("a lab command");
    let h = attach_stopped(&lab, true);
    let before = counter_now(&lab);
    let w = watch(&h, lab.counter, WatchKind::Write, None);
    assert_eq!((w.slot, w.len, w.hits), (0, 8, 0), "8-aligned: 8 bytes");
    assert_eq!(w.value, before);

    let mut last = before;
    for round in 1..=3u64 {
        let (snap, hits) = run_to_stop(&h);
        let by = stopper(&snap);
        assert_eq!(by.tid, hot, "round {round}");
        assert_eq!(by.cause, Some(StopCause::Watchpoint { addr: lab.counter }));
        assert_eq!(hits.len(), 1, "{hits:?}");
        let hit = hits[0];
        assert_eq!(
            (hit.tid, hit.addr, hit.slot, hit.hits),
            (hot, lab.counter, 0, round)
        );
        // The counter's only writer adds one: the old value is the one seen when the watch
        // was armed (or at the last hit), the new one is in memory now.
        assert_eq!(hit.old, last);
        assert_eq!(hit.new, last + 1);
        assert_eq!(hit.new, counter_now(&lab));
        assert_eq!(hit.verb(), "written");
        // The thread stands just past the writing instruction.
        assert_eq!(by.regs.map(|r| r.rip()), Some(hit.pc));
        assert!(
            hit.describe(None).starts_with(&format!(
                "watchpoint {:#x} written by {hot} at 0x",
                lab.counter
            )),
            "{}",
            hit.describe(None)
        );
        assert_eq!(snap.watchpoints.len(), 1);
        assert_eq!(
            (snap.watchpoints[0].hits, snap.watchpoints[0].value),
            (round, hit.new)
        );
        last = hit.new;
    }
    // No thread holds our SIGTRAP at rest.
    for tid in task_ids(lab.pid) {
        let pending = u64::from_str_radix(&status_field(lab.pid, tid, "SigPnd"), 16).unwrap();
        assert_eq!(pending & (1 << (libc::SIGTRAP - 1)), 0, "{tid}");
    }
    leave(h, &mut lab);
    assert_eq!(
        lab_number(&mut lab, "traps", "traps "),
        0,
        "a SIGTRAP reached the lab"
    );
}

#[test]
fn a_read_watch_fires_on_a_read_and_a_write_watch_does_not() {
    let mut lab = start_lab(1);
    let control = *lab.tids.last().unwrap();
    let h = attach_stopped(&lab, true);
    let w = watch(&h, lab.peek, WatchKind::ReadWrite, Some(4));
    assert_eq!((w.len, w.kind, w.value), (4, WatchKind::ReadWrite, 0x5eed));
    h.call(Command::Continue).unwrap();
    lab.send("peek").expect("write to the lab");
    let (snap, hits) = next_stop(&h);
    assert_eq!(stopper(&snap).tid, control);
    assert_eq!(
        stopper(&snap).cause,
        Some(StopCause::Watchpoint { addr: lab.peek })
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].old, hits[0].new, hits[0].verb()),
        (0x5eed, 0x5eed, "read")
    );
    assert!(hits[0].describe(None).ends_with(": 0x5eed (unchanged)"));
    h.call(Command::Continue).unwrap();
    lab.wait_line("peeked 0x5eed").expect("a lab line");

    // A write watch on the same word lets the read through: the lab answers.
    h.call(Command::Stop).unwrap();
    assert_eq!(
        h.call(Command::RemoveWatchpoint { addr: lab.peek }),
        Ok(Reply::Done)
    );
    watch(&h, lab.peek, WatchKind::Write, None);
    h.call(Command::Continue).unwrap();
    lab.send("peek").expect("write to the lab");
    lab.wait_line("peeked 0x5eed").expect("a lab line");
    leave(h, &mut lab);
}

/// The hot thread is born after the watchpoint was set: it must be armed at its first stop
/// (while the process runs) or at the continue after the stop its birth caused.
fn a_new_thread_gets_the_watchpoint(stop_on_thread_events: bool) {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab, stop_on_thread_events);
    watch(&h, lab.counter, WatchKind::Write, None);
    h.call(Command::Continue).unwrap();
    lab.send("hot").expect("write to the lab");
    // The newborn's first stop can beat its parent's clone event: it then joins the running
    // process armed, and its first write may trip the watchpoint while the world is stopping
    // for the birth. That hit comes with the birth's stop, which is then named after the hit.
    let (snap, hits) = loop {
        let (snap, hits) = next_stop(&h);
        match stopper(&snap).cause {
            Some(StopCause::ThreadCreated { .. }) if stop_on_thread_events && hits.is_empty() => {
                h.call(Command::Continue).unwrap();
            }
            _ => break (snap, hits),
        }
    };
    let hit_tid = hits.first().map(|h| h.tid).expect("a watchpoint hit");
    let by = snap
        .threads
        .iter()
        .find(|t| t.tid == hit_tid)
        .expect("the hitting thread in the snapshot");
    assert_eq!(by.cause, Some(StopCause::Watchpoint { addr: lab.counter }));
    assert_eq!(
        snap.stopped_by,
        Some(hit_tid),
        "the stop is named after the hit"
    );
    assert!(!lab.tids.contains(&by.tid), "a thread born after the watch");
    assert_eq!(hits[0].old, 0, "the counter was never written before");
    h.shutdown().expect("detach");
    // The lab names the thread it started: the one that was stopped.
    let line = lab.wait_line("hot ").expect("a lab line");
    assert_eq!(line, format!("hot {}", by.tid));
    assert_untraced_and_running(lab.pid);
    assert_all_clear(lab.pid);
    assert_alive(&mut lab);
}

#[test]
fn a_thread_born_while_running_is_armed_at_its_first_stop() {
    a_new_thread_gets_the_watchpoint(false);
}

#[test]
fn a_thread_born_into_a_stop_is_armed_at_the_next_continue() {
    a_new_thread_gets_the_watchpoint(true);
}

#[test]
fn a_deleted_watchpoint_fires_no_more() {
    let mut lab = start_lab(1);
    lab.command_tid("hot").expect("a lab command");
    let h = attach_stopped(&lab, true);
    watch(&h, lab.counter, WatchKind::Write, None);
    let (snap, _) = run_to_stop(&h);
    assert!(matches!(
        stopper(&snap).cause,
        Some(StopCause::Watchpoint { .. })
    ));
    assert_eq!(
        h.call(Command::RemoveWatchpoint { addr: lab.counter }),
        Ok(Reply::Done)
    );
    assert_eq!(
        h.call(Command::RemoveWatchpoint { addr: lab.counter }),
        Err(TraceError::NoWatchpoint(lab.counter))
    );
    assert!(h.snapshot().unwrap().watchpoints.is_empty());
    h.call(Command::Continue).unwrap();
    // Every write would stop the world; a thousand of them go by while it runs.
    let first = counter_now(&lab);
    eventually("the hot thread to run on", || {
        counter_now(&lab) > first + 1000
    });
    let stops: Vec<String> = h
        .events()
        .try_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::AllStopped(_) | EventKind::WatchpointHit(_)
            )
        })
        .map(|e| format!("{:?}", e.kind))
        .collect();
    assert!(stops.is_empty(), "{stops:?}");
    // Deleting (or adding) while running is refused: the debug registers of a running
    // thread cannot be written.
    let err = h
        .call(Command::AddWatchpoint {
            addr: lab.counter,
            kind: WatchKind::Write,
            len: None,
        })
        .unwrap_err();
    assert!(err.to_string().contains("running"), "{err}");
    leave(h, &mut lab);
}

#[test]
fn four_debug_registers_and_clear_errors_beyond() {
    let mut lab = start_lab(1);
    let hot = lab.command_tid("hot").expect("a lab command");
    let h = attach_stopped(&lab, true);
    let slots: Vec<u8> = [lab.usr1, lab.peek, lab.answer + 1, lab.counter]
        .iter()
        .map(|a| watch(&h, *a, WatchKind::Write, None).slot)
        .collect();
    assert_eq!(slots, vec![0, 1, 2, 3]);
    let info = h.snapshot().unwrap().watchpoints;
    assert_eq!(
        info[2].len, 1,
        "ptscope_lab_answer+1 is an odd address (the function is 16-aligned): {info:?}"
    );
    let fifth = h.call(Command::AddWatchpoint {
        addr: lab.hot,
        kind: WatchKind::Write,
        len: None,
    });
    assert_eq!(fifth, Err(TraceError::WatchpointsFull));
    assert_eq!(
        TraceError::WatchpointsFull.to_string(),
        "all 4 debug registers (DR0-DR3) are in use: delete a watchpoint first"
    );
    let again = h.call(Command::AddWatchpoint {
        addr: lab.counter,
        kind: WatchKind::ReadWrite,
        len: None,
    });
    assert_eq!(again, Err(TraceError::WatchpointExists(lab.counter)));
    h.call(Command::RemoveWatchpoint { addr: lab.usr1 })
        .unwrap();
    for (addr, len, want) in [
        (
            lab.counter + 2,
            Some(4),
            TraceError::WatchMisaligned {
                addr: lab.counter + 2,
                len: 4,
            },
        ),
        (lab.counter + 8, Some(3), TraceError::WatchLength(3)),
        (0x10, None, TraceError::NotMapped(0x10)),
    ] {
        let got = h.call(Command::AddWatchpoint {
            addr,
            kind: WatchKind::Write,
            len,
        });
        assert_eq!(got, Err(want), "{addr:#x}");
    }
    // The three left, armed together, work: the counter's (DR3) fires.
    let (snap, hits) = run_to_stop(&h);
    assert_eq!(stopper(&snap).tid, hot);
    assert_eq!(hits.iter().map(|h| h.slot).collect::<Vec<_>>(), vec![3]);
    leave(h, &mut lab);
}

#[test]
fn breakpoints_step_overs_and_single_steps_work_with_a_watchpoint_armed() {
    let mut lab = start_lab(1);
    let hot = lab.command_tid("hot").expect("a lab command");
    let h = attach_stopped(&lab, true);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    watch(&h, lab.counter, WatchKind::Write, None);

    // Each turn of the hot loop enters the function (breakpoint) and bumps the counter
    // (watchpoint): continues alternate between the two, every step-over included.
    let mut causes = Vec::new();
    let mut values = Vec::new();
    for _ in 0..6 {
        let (snap, hits) = run_to_stop(&h);
        assert_eq!(stopper(&snap).tid, hot);
        causes.push(stopper(&snap).cause);
        values.extend(hits.iter().map(|h| (h.old, h.new)));
    }
    let bp = Some(StopCause::Breakpoint { addr: lab.hot });
    let wp = Some(StopCause::Watchpoint { addr: lab.counter });
    for pair in causes.windows(2) {
        assert_ne!(pair[0], pair[1], "{causes:?}");
        assert!(pair.iter().all(|c| *c == bp || *c == wp), "{causes:?}");
    }
    for v in &values {
        assert_eq!(v.1, v.0 + 1);
    }
    for pair in values.windows(2) {
        assert_eq!(
            pair[1].0, pair[0].1,
            "each hit's old value is the last one's new"
        );
    }

    // Single steps from the breakpoint: all plain steps until the one that runs the write,
    // which reports the watchpoint (its trap and the step's come together; DR6 tells).
    if causes.last() != Some(&bp) {
        let (snap, _) = run_to_stop(&h);
        assert_eq!(stopper(&snap).cause, bp);
    }
    let mut writer_at = None;
    for _ in 0..2000 {
        let rip = h
            .snapshot()
            .unwrap()
            .threads
            .iter()
            .find(|t| t.tid == hot)
            .unwrap()
            .regs
            .unwrap()
            .rip();
        h.call(Command::Step { tid: hot }).expect("step");
        let (snap, hits) = next_stop(&h);
        match stopper(&snap).cause {
            Some(StopCause::Stepped) => assert!(hits.is_empty()),
            Some(StopCause::Watchpoint { addr }) => {
                assert_eq!(addr, lab.counter);
                assert_eq!(hits.len(), 1);
                assert_eq!(hits[0].new, hits[0].old + 1);
                writer_at = Some(rip);
                break;
            }
            other => panic!("a step ended with {other:?}"),
        }
    }
    let writer_at = writer_at.expect("no step wrote the counter");

    // A breakpoint on the writing instruction itself: the step over it, at the next
    // continue, is the write, and the continue ends with the watchpoint.
    h.call(Command::AddBreakpoint { addr: writer_at }).unwrap();
    let stop_at_writer = loop {
        let (snap, _) = run_to_stop(&h);
        if stopper(&snap).cause == Some(StopCause::Breakpoint { addr: writer_at }) {
            break snap;
        }
    };
    assert_eq!(stopper(&stop_at_writer).tid, hot);
    let (snap, hits) = run_to_stop(&h);
    assert_eq!(
        stopper(&snap).cause,
        wp,
        "the step over the breakpoint did the write"
    );
    assert_eq!(hits.len(), 1);
    assert_ne!(hits[0].pc, writer_at);
    leave(h, &mut lab);
}

#[test]
fn threads_born_to_an_armed_parent_read_dr7_zero_at_rest() {
    // The kernel copies a clone parent's DR7 value into the child (without the watchpoints
    // behind it): a child never armed by us still reads DR7 != 0 until it is written. Whether
    // a child is armed depends on a race (its first stop before or after the parent's clone
    // event stopped the world): with several births both orders happen.
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab, true);
    watch(&h, lab.peek, WatchKind::Write, None);
    let mut born = Vec::new();
    for i in 0..40 {
        h.call(Command::Continue).unwrap();
        lab.send(&format!("spawn newbie-{i}"))
            .expect("write to the lab");
        let (snap, _) = next_stop(&h);
        let Some(StopCause::ThreadCreated { tid }) = stopper(&snap).cause else {
            panic!("{:?}", stopper(&snap).cause);
        };
        born.push(tid);
    }
    h.call(Command::RemoveWatchpoint { addr: lab.peek })
        .unwrap();
    h.shutdown().expect("detach");
    let tids = task_ids(lab.pid);
    assert!(
        born.iter().all(|t| tids.contains(t)),
        "{born:?} in {tids:?}"
    );
    assert_untraced_and_running(lab.pid);
    assert_all_clear(lab.pid);
    assert_alive(&mut lab);
}

#[test]
fn detaching_while_running_armed_leaves_no_debug_register_behind() {
    let mut lab = start_lab(2);
    let h = attach_stopped(&lab, true);
    watch(&h, lab.peek, WatchKind::ReadWrite, None);
    h.call(Command::Continue).unwrap();
    // Every thread runs armed; the detach has to stop them all to clear the registers.
    leave(h, &mut lab);
    lab.send("peek").expect("write to the lab");
    lab.wait_line("peeked 0x5eed").expect("a lab line");
    assert_eq!(lab_number(&mut lab, "traps", "traps "), 0);
}
