//! The tracer engine against real multithreaded processes.

mod common;

use common::*;
use ptscope::tracer::{
    Command, EventKind, ExitKind, Options, ProcessState, Reply, Snapshot, StopCause, ThreadState,
    TraceError, TracerHandle, WaitStatus,
};

fn attach(lab: &Lab) -> TracerHandle {
    TracerHandle::attach(lab.pid, Options::default()).expect("attach")
}

/// Attached, with the first all-stop (every thread stopped) already seen.
fn attach_stopped(lab: &Lab) -> TracerHandle {
    let h = attach(lab);
    wait_all_stopped(&h);
    h
}

/// Detach, then prove the target runs on untraced.
fn leave(h: TracerHandle, lab: &mut Lab) {
    h.shutdown().expect("detach");
    assert_untraced_and_running(lab.pid);
    assert_alive(lab);
}

fn regs(h: &TracerHandle, tid: i32) -> ptscope::tracer::Registers {
    match h.call(Command::GetRegisters { tid }).expect("registers") {
        Reply::Registers(r) => *r,
        other => panic!("unexpected {other:?}"),
    }
}

fn read(h: &TracerHandle, addr: u64, len: usize) -> Vec<u8> {
    match h.call(Command::ReadMemory { addr, len }).expect("read") {
        Reply::Memory(m) => m.bytes,
        other => panic!("unexpected {other:?}"),
    }
}

fn cont(h: &TracerHandle) {
    h.call(Command::Continue).expect("continue");
}

#[test]
fn attach_stops_every_thread_of_a_50_thread_process_and_detach_restores_it() {
    let mut lab = start_lab(50);
    let h = attach(&lab);
    let snap = wait_all_stopped(&h);
    let tids = task_ids(lab.pid);
    assert_eq!(tids.len(), 52);
    assert_eq!(snap.threads.len(), 52);
    assert_eq!(snap.state, ProcessState::Stopped);
    for t in &snap.threads {
        assert_eq!(t.state, ThreadState::Stopped, "thread {}", t.tid);
        assert_eq!(t.cause, Some(StopCause::Stopped));
        assert!(t.regs.is_some_and(|r| r.rip() != 0));
    }
    for tid in tids {
        assert!(
            status_field(lab.pid, tid, "State").starts_with('t'),
            "{tid} not in tracing stop"
        );
        assert_ne!(status_field(lab.pid, tid, "TracerPid"), "0");
    }
    assert!(snap.threads.iter().any(|t| t.name == "idle-49"));
    h.shutdown().expect("detach");
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);
}

#[test]
fn a_thread_created_after_attach_is_traced_and_stopped() {
    let mut lab = start_lab(2);
    let h = attach_stopped(&lab);
    cont(&h);
    lab.send("spawn newbie").unwrap();
    let snap = wait_all_stopped(&h);
    let creator = snap.stopped_by.expect("a thread caused the stop");
    let cause = snap
        .threads
        .iter()
        .find(|t| t.tid == creator)
        .unwrap()
        .cause;
    let Some(StopCause::ThreadCreated { tid: new_tid }) = cause else {
        panic!("creator cause {cause:?}");
    };
    let newbie = snap
        .threads
        .iter()
        .find(|t| t.tid == new_tid)
        .expect("new thread listed");
    assert_eq!(newbie.state, ThreadState::Stopped);
    assert!(status_field(lab.pid, new_tid, "State").starts_with('t'));
    assert_ne!(status_field(lab.pid, new_tid, "TracerPid"), "0");
    cont(&h);
    assert_eq!(
        lab.wait_line("spawned ")
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap(),
        new_tid.to_string()
    );
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn a_thread_exit_reports_its_code() {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab);
    cont(&h);
    lab.send("exit-thread 7").unwrap();
    // Its birth and its exit each stop the world (thread events stop by default); the exit
    // may be reported within the birth's all-stop or in one of its own.
    let mut exiting = None;
    loop {
        let ev = wait_for(&h, |e| {
            matches!(&e.kind, EventKind::AllStopped(_) | EventKind::Transition(_))
        });
        match ev.kind {
            EventKind::Transition(t)
                if t.cause
                    == Some(StopCause::ThreadExiting {
                        status: ExitKind::Code { code: 7 },
                    })
                    && t.new == ThreadState::Exiting =>
            {
                exiting = Some(t.tid);
            }
            EventKind::AllStopped(snap) => {
                if let Some(tid) = exiting {
                    let t = snap.threads.iter().find(|t| t.tid == tid).expect("listed");
                    assert_eq!(t.state, ThreadState::Exiting);
                    assert!(t.regs.is_some(), "registers are readable at the exit stop");
                    break;
                }
                cont(&h);
            }
            _ => {}
        }
    }
    let tid = exiting.unwrap();
    cont(&h);
    eventually("the thread to be gone", || {
        !task_ids(lab.pid).contains(&tid)
    });
    leave(h, &mut lab);
}

#[test]
fn a_thread_end_that_stops_nothing_is_one_report_with_its_code() {
    // With thread events only logged, a thread other than the leader is traced without
    // PTRACE_O_TRACEEXIT: its end is its exit status, with no exit stop first.
    let mut lab = start_lab(1);
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let h = TracerHandle::attach(lab.pid, opts).expect("attach");
    // The log says why, for whoever reads it to learn.
    wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Note { text, .. } if text.contains("no PTRACE_O_TRACEEXIT")),
    );
    wait_all_stopped(&h);
    cont(&h);
    let tid = lab
        .command_tid("exit-thread 7")
        .expect("a thread that exits");
    let mut reports = Vec::new();
    let exited = wait_for(&h, |e| match &e.kind {
        EventKind::Transition(t) if t.tid == tid => {
            reports.push((t.new, t.cause, t.status.map(|s| s.decoded)));
            t.new == ThreadState::Exited
        }
        _ => false,
    });
    let EventKind::Transition(t) = exited.kind else {
        unreachable!()
    };
    assert_eq!(
        t.status.map(|s| s.decoded),
        Some(ptscope::tracer::WaitStatus::Exited { code: 7 })
    );
    assert!(
        !reports
            .iter()
            .any(|(_, cause, _)| matches!(cause, Some(StopCause::ThreadExiting { .. }))),
        "no exit stop before the exit status: {reports:?}"
    );
    leave(h, &mut lab);
}

#[test]
fn a_thread_the_leader_starts_inherits_no_exit_stop_either() {
    // The leader keeps PTRACE_O_TRACEEXIT (the process's end is read at its exit stop) and a
    // clone inherits its parent's options: a thread the leader starts gets them set at its
    // first stop. The demo's leader starts a short-lived thread every few hundred ms.
    let args = vec!["__demo".to_string(), "demo".to_string()];
    let opts = Options {
        stdio: ptscope::tracer::LaunchStdio::Null,
        stop_on_thread_events: false,
        ..Options::default()
    };
    let h = TracerHandle::launch(bin(), &args, opts).expect("launch");
    let pid = h.pid();
    wait_all_stopped(&h);
    cont(&h);
    // Its children, and what each reported; the demo's signaller stops the world with its
    // SIGUSR1 every second (policy: stop), which is continued.
    let mut children: std::collections::BTreeMap<i32, Vec<Option<StopCause>>> = Default::default();
    let end = loop {
        let ev = wait_for(&h, |e| {
            matches!(&e.kind, EventKind::Transition(_) | EventKind::AllStopped(_))
        });
        match ev.kind {
            EventKind::AllStopped(_) => cont(&h),
            EventKind::Transition(t) => {
                if let (true, Some(StopCause::ThreadCreated { tid })) = (t.tid == pid, t.cause) {
                    children.insert(tid, Vec::new());
                }
                if let Some(causes) = children.get_mut(&t.tid) {
                    causes.push(t.cause);
                    if t.new == ThreadState::Exited {
                        break t;
                    }
                }
            }
            _ => {}
        }
    };
    assert!(
        matches!(
            end.status.map(|s| s.decoded),
            Some(ptscope::tracer::WaitStatus::Exited { .. })
        ),
        "{end:?}"
    );
    let causes = &children[&end.tid];
    assert!(
        !causes
            .iter()
            .any(|c| matches!(c, Some(StopCause::ThreadExiting { .. }))),
        "no exit stop before the exit status: {causes:?}"
    );
    h.shutdown().unwrap();
}

#[test]
fn breakpoint_hit_continue_and_hit_again() {
    let mut lab = start_lab(1);
    let hot_tid = lab.command_tid("hot").unwrap();
    let original = read_proc_mem(lab.pid, lab.hot, 16);
    let h = attach_stopped(&lab);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    for round in 1..=2u64 {
        cont(&h);
        let snap = wait_all_stopped(&h);
        assert_eq!(snap.stopped_by, Some(hot_tid));
        let t = snap.threads.iter().find(|t| t.tid == hot_tid).unwrap();
        assert_eq!(t.cause, Some(StopCause::Breakpoint { addr: lab.hot }));
        assert_eq!(
            t.regs.unwrap().rip(),
            lab.hot,
            "rip must be on the breakpoint"
        );
        assert_eq!(snap.breakpoints[0].hits, round);
        // At rest no int3 of ours is in memory, and reads never show one.
        assert_eq!(read_proc_mem(lab.pid, lab.hot, 16), original);
        assert_eq!(read(&h, lab.hot, 16), original);
        for other in snap.threads.iter().filter(|t| t.tid != hot_tid) {
            assert_eq!(other.state, ThreadState::Stopped);
        }
    }
    h.shutdown().unwrap();
    assert_eq!(read_proc_mem(lab.pid, lab.hot, 16), original);
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);
}

/// Everything up to and including the next `AllStopped`, and its picture.
fn up_to_all_stopped(h: &TracerHandle) -> (Vec<ptscope::tracer::Event>, Snapshot) {
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ev = h.events().recv_timeout(left).expect("an all-stop in time");
        if let EventKind::AllStopped(snap) = &ev.kind {
            let snap = (**snap).clone();
            events.push(ev);
            return (events, snap);
        }
        events.push(ev);
    }
}

/// No thread at rest sits in the signal-delivery-stop of a SIGTRAP (ours: nothing else in
/// these tests raises one), which it would receive, and die of, if ptscope were killed: the
/// last report of each thread before the picture is not one.
fn assert_none_rests_on_a_sigtrap(events: &[ptscope::tracer::Event], snap: &Snapshot) {
    for t in &snap.threads {
        let last = events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Transition(tr) if tr.tid == t.tid => tr.status,
            _ => None,
        });
        if let Some(st) = last {
            assert_ne!(
                st.decoded,
                WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
                "thread {} rests on our SIGTRAP",
                t.tid
            );
        }
    }
}

/// A step-over's SIGTRAP is left for the resume that follows at once to drop (no settle into an
/// event-stop first); when another thread's step-over ends in a stop instead, the world comes
/// to rest, and the held trap must be settled before the picture. Several hot threads stop at
/// the breakpoint in one all-stop now and then; the first of them (stepped over first) is sent
/// a SIGUSR1, whose stop ends its step-over before it runs its instruction, so another
/// thread's step-over is usually the last one done and holds its trap.
#[test]
fn a_step_over_cut_short_by_a_signal_leaves_no_thread_resting_on_our_sigtrap() {
    let mut lab = start_lab(0);
    for _ in 0..6 {
        lab.command_tid("hot").unwrap();
    }
    let h = attach_stopped(&lab);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    let mut held_then_rested = 0;
    for _ in 0..400 {
        cont(&h);
        let (events, snap) = up_to_all_stopped(&h);
        assert_none_rests_on_a_sigtrap(&events, &snap);
        let at_bp: Vec<i32> = snap
            .threads
            .iter()
            .filter(|t| t.cause == Some(StopCause::Breakpoint { addr: lab.hot }))
            .map(|t| t.tid)
            .collect();
        if at_bp.len() < 2 {
            continue;
        }
        // SAFETY: tgkill with plain integers, to a thread of the lab.
        assert_eq!(
            unsafe { libc::syscall(libc::SYS_tgkill, lab.pid, at_bp[0], libc::SIGUSR1) },
            0
        );
        cont(&h);
        let (events, snap) = up_to_all_stopped(&h);
        let t = stopper(&snap);
        assert_eq!(t.tid, at_bp[0]);
        assert_eq!(t.cause, Some(StopCause::Signal { sig: libc::SIGUSR1 }));
        assert_none_rests_on_a_sigtrap(&events, &snap);
        // A trap kept for the resume, then settled because the world came to rest: the log
        // says both.
        let held: Vec<i32> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Transition(tr)
                    if at_bp[1..].contains(&tr.tid)
                        && tr.note.contains("its SIGTRAP is dropped by the resume") =>
                {
                    Some(tr.tid)
                }
                _ => None,
            })
            .collect();
        let settled = events.iter().any(|e| {
            matches!(&e.kind, EventKind::Note { tid: Some(tid), text }
                if held.contains(tid) && text.contains("did not come (the world rests)"))
        });
        if settled {
            held_then_rested += 1;
            if held_then_rested == 3 {
                break;
            }
        }
    }
    assert!(
        held_then_rested > 0,
        "no round had a step-over's trap held when the world came to rest"
    );
    leave(h, &mut lab);
}

#[test]
fn the_programs_own_int3_is_reported_as_sigtrap_and_delivered() {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab);
    cont(&h);
    lab.send("int3").unwrap();
    let snap = wait_all_stopped(&h);
    let t = stopper(&snap);
    assert_eq!(t.cause, Some(StopCause::Signal { sig: libc::SIGTRAP }));
    // The PC stays just past the program's int3: it is not ours to rewind.
    let rip = t.regs.unwrap().rip();
    assert_eq!(read(&h, rip - 1, 1), vec![0xcc]);
    cont(&h);
    assert_eq!(
        lab.wait_line("after-int3").unwrap(),
        "after-int3 1",
        "the program's SIGTRAP handler ran"
    );
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn a_sigusr1_pending_at_a_stop_is_delivered_on_continue() {
    let lab = start_lab(2);
    let h = attach_stopped(&lab);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(lab.pid),
        nix::sys::signal::SIGUSR1,
    )
    .unwrap();
    cont(&h);
    let snap = wait_all_stopped(&h);
    let t = stopper(&snap);
    assert_eq!(t.cause, Some(StopCause::Signal { sig: libc::SIGUSR1 }));
    assert_eq!(t.pending_signal, Some(libc::SIGUSR1));
    assert_eq!(
        read(&h, lab.usr1, 8),
        0u64.to_ne_bytes(),
        "handler must not have run yet"
    );
    cont(&h);
    lab.wait_line("usr1").unwrap();
    h.call(Command::Stop).unwrap();
    assert_eq!(read(&h, lab.usr1, 8), 1u64.to_ne_bytes());
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn step_advances_rip_and_registers_can_be_set() {
    let mut lab = start_lab(1);
    let hot_tid = lab.command_tid("hot").unwrap();
    let h = attach_stopped(&lab);
    let before = regs(&h, hot_tid);
    h.call(Command::Step { tid: hot_tid }).unwrap();
    let after = regs(&h, hot_tid);
    assert_ne!(before.rip(), after.rip(), "one instruction later");
    let snap = h.snapshot().unwrap();
    let t = snap.threads.iter().find(|t| t.tid == hot_tid).unwrap();
    assert_eq!(t.cause, Some(StopCause::Stepped));
    for other in snap.threads.iter().filter(|t| t.tid != hot_tid) {
        assert_eq!(other.state, ThreadState::Stopped);
    }
    // Set a register and read it back, then put the real value back before running on.
    let reply = h
        .call(Command::SetRegister {
            tid: hot_tid,
            name: "rip".into(),
            value: lab.hot,
        })
        .unwrap();
    assert!(matches!(reply, Reply::Registers(r) if r.rip() == lab.hot));
    assert_eq!(regs(&h, hot_tid).rip(), lab.hot);
    h.call(Command::SetRegister {
        tid: hot_tid,
        name: "rip".into(),
        value: after.rip(),
    })
    .unwrap();
    let err = h.call(Command::SetRegister {
        tid: hot_tid,
        name: "xmm9".into(),
        value: 0,
    });
    assert_eq!(err, Err(TraceError::UnknownRegister("xmm9".into())));
    cont(&h);
    let err = h.call(Command::Step { tid: hot_tid }).unwrap_err();
    assert!(err.to_string().contains("running"), "{err}");
    leave(h, &mut lab);
}

/// Steps sent back to back, each the moment the last one is answered, as a script or a held
/// key sends them: every one is taken, none finds the stop of the last "not complete yet"
/// (a step is answered when its trap is dropped, before its thread settles, and the settle's
/// report must be handled, and the step finished, before the next command is taken). The
/// benchmark's 10,000 release-built steps found it broken 2 runs in 3 when reports reaped while
/// lingering did not move things on; this debug build has not (it steps slower), so it guards
/// the path rather than proving that race.
#[test]
fn steps_sent_back_to_back_are_each_taken() {
    let mut lab = start_lab(1);
    let hot_tid = lab.command_tid("hot").unwrap();
    let h = attach_stopped(&lab);
    for i in 0..3000 {
        if let Err(e) = h.call(Command::Step { tid: hot_tid }) {
            panic!("step {i}: {e}");
        }
    }
    leave(h, &mut lab);
}

#[test]
fn memory_round_trip_and_partial_reads() {
    let lab = start_lab(1);
    let h = attach_stopped(&lab);
    let original = read(&h, lab.counter, 8);
    let pattern = 0x1122_3344_5566_7788u64.to_ne_bytes().to_vec();
    h.call(Command::WriteMemory {
        addr: lab.counter,
        bytes: pattern.clone(),
    })
    .unwrap();
    assert_eq!(read(&h, lab.counter, 8), pattern);
    assert_eq!(read_proc_mem(lab.pid, lab.counter, 8), pattern);
    h.call(Command::WriteMemory {
        addr: lab.counter,
        bytes: original.clone(),
    })
    .unwrap();
    assert_eq!(read_proc_mem(lab.pid, lab.counter, 8), original);

    // A range running off the end of a mapping into a hole reads up to the hole.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", lab.pid)).unwrap();
    let ranges: Vec<(u64, u64, String)> = maps
        .lines()
        .map(|l| {
            let mut p = l.split_whitespace();
            let (a, b) = p.next().unwrap().split_once('-').unwrap();
            let perms = p.next().unwrap().to_string();
            (
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
                perms,
            )
        })
        .collect();
    let edge = ranges
        .windows(2)
        .find(|w| w[0].1 < w[1].0 && w[0].2.starts_with('r'))
        .map(|w| w[0].1)
        .expect("a readable mapping followed by a hole");
    match h
        .call(Command::ReadMemory {
            addr: edge - 8,
            len: 64,
        })
        .unwrap()
    {
        Reply::Memory(m) => {
            assert_eq!(m.bytes.len(), 8);
            assert_eq!(m.requested, 64);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.call(Command::ReadMemory { addr: 0x10, len: 8 }),
        Err(TraceError::Unreadable {
            addr: 0x10,
            len: 8,
            read: 0
        })
    );
    h.shutdown().unwrap();
}

#[test]
fn breakpoint_errors_are_typed() {
    let lab = start_lab(1);
    let h = attach_stopped(&lab);
    assert_eq!(
        h.call(Command::AddBreakpoint { addr: 0x10 }),
        Err(TraceError::NotMapped(0x10))
    );
    assert_eq!(
        h.call(Command::AddBreakpoint { addr: lab.counter }),
        Err(TraceError::NotExecutable(lab.counter))
    );
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    assert_eq!(
        h.call(Command::AddBreakpoint { addr: lab.hot }),
        Err(TraceError::BreakpointExists(lab.hot))
    );
    h.call(Command::RemoveBreakpoint { addr: lab.hot }).unwrap();
    assert_eq!(
        h.call(Command::RemoveBreakpoint { addr: lab.hot }),
        Err(TraceError::NoBreakpoint(lab.hot))
    );
    h.shutdown().unwrap();
}

#[test]
fn detach_while_running_with_breakpoints_leaves_text_as_it_was() {
    let mut lab = start_lab(2);
    lab.command_tid("hot").unwrap();
    let text_before = read_proc_mem(lab.pid, lab.hot, 64);
    let h = attach_stopped(&lab);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    cont(&h);
    wait_all_stopped(&h);
    cont(&h);
    // Detach straight from running: it must stop, take the bytes out, and let go.
    h.shutdown().unwrap();
    assert_eq!(read_proc_mem(lab.pid, lab.hot, 64), text_before);
    assert_untraced_and_running(lab.pid);
    let first = lab.calls().unwrap();
    eventually("the hot loop to run on", || {
        let n = lab.calls().unwrap();
        n > first
    });
}

#[test]
fn attach_while_threads_are_born_and_die_in_a_tight_loop() {
    let mut lab = start_lab(2);
    lab.command_tid("churn").unwrap();
    for _ in 0..3 {
        let h = attach(&lab);
        let snap = wait_all_stopped(&h);
        assert!(snap.threads.len() >= 4);
        for t in &snap.threads {
            assert!(t.state.is_settled(), "thread {} is {:?}", t.tid, t.state);
        }
        for tid in task_ids(lab.pid) {
            let st = status_field(lab.pid, tid, "State");
            assert!(
                st.starts_with('t') || st.starts_with('Z') || st.is_empty(),
                "{tid}: {st}"
            );
        }
        h.shutdown().unwrap();
        assert_untraced_and_running(lab.pid);
    }
    assert_alive(&mut lab);
}

#[test]
fn a_zombie_leader_is_shown_and_never_waited_for() {
    let mut lab = start_lab(2);
    lab.send("zombie").unwrap();
    lab.wait_line("zombie").unwrap();
    eventually("the leader to be a zombie", || {
        status_field(lab.pid, lab.pid, "State").starts_with('Z')
    });
    let h = attach(&lab);
    let snap = wait_all_stopped(&h);
    let leader = snap
        .threads
        .iter()
        .find(|t| t.tid == lab.pid)
        .expect("leader listed");
    assert!(leader.zombie);
    for t in snap.threads.iter().filter(|t| t.tid != lab.pid) {
        assert_eq!(t.state, ThreadState::Stopped);
    }
    cont(&h);
    h.call(Command::Stop).unwrap();
    leave(h, &mut lab);
}

#[test]
fn sigstop_from_outside_is_shown_and_honoured() {
    let mut lab = start_lab(2);
    let h = attach_stopped(&lab);
    cont(&h);
    let pid = nix::unistd::Pid::from_raw(lab.pid);
    nix::sys::signal::kill(pid, nix::sys::signal::SIGSTOP).unwrap();
    let snap = wait_all_stopped(&h);
    assert_eq!(
        stopper(&snap).cause,
        Some(StopCause::Signal { sig: libc::SIGSTOP })
    );
    // Continuing delivers the SIGSTOP: the whole group enters the job-control stop and stays
    // there, listened to, until SIGCONT.
    cont(&h);
    let n = snap.threads.len();
    let mut group_stopped = std::collections::HashSet::new();
    while group_stopped.len() < n {
        let ev = wait_for(&h, |e| {
            matches!(&e.kind, EventKind::Transition(t)
                if t.cause == Some(StopCause::GroupStop { sig: libc::SIGSTOP }))
        });
        if let EventKind::Transition(t) = ev.kind {
            group_stopped.insert(t.tid);
        }
    }
    let snap = h.snapshot().unwrap();
    assert_eq!(
        snap.state,
        ProcessState::GroupStopped { sig: libc::SIGSTOP }
    );
    nix::sys::signal::kill(pid, nix::sys::signal::SIGCONT).unwrap();
    assert_alive(&mut lab);
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn two_tracers_in_one_process_keep_their_own_events() {
    let mut a = start_lab(1);
    let mut b = start_lab(1);
    let ta = a.command_tid("hot").unwrap();
    let tb = b.command_tid("hot").unwrap();
    let ha = attach(&a);
    let hb = attach(&b);
    wait_all_stopped(&ha);
    wait_all_stopped(&hb);
    ha.call(Command::AddBreakpoint { addr: a.hot }).unwrap();
    hb.call(Command::AddBreakpoint { addr: b.hot }).unwrap();
    for _ in 0..20 {
        cont(&ha);
        cont(&hb);
        let sa = wait_all_stopped(&ha);
        let sb = wait_all_stopped(&hb);
        assert_eq!((sa.pid, sa.stopped_by), (a.pid, Some(ta)));
        assert_eq!((sb.pid, sb.stopped_by), (b.pid, Some(tb)));
    }
    assert_eq!(ha.snapshot().unwrap().breakpoints[0].hits, 20);
    assert_eq!(hb.snapshot().unwrap().breakpoints[0].hits, 20);
    ha.shutdown().unwrap();
    hb.shutdown().unwrap();
    assert_untraced_and_running(a.pid);
    assert_untraced_and_running(b.pid);
}

#[test]
fn a_child_forked_with_our_breakpoints_in_memory_does_not_die() {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    cont(&h);
    lab.send("fork").unwrap();
    lab.wait_line("forked ").unwrap();
    assert_eq!(
        lab.wait_line("child-status").unwrap(),
        "child-status 0",
        "the child ran through the int3 address"
    );
    h.call(Command::Stop).unwrap();
    assert_eq!(
        h.snapshot().unwrap().breakpoints[0].hits,
        0,
        "the parent never called it"
    );
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn launch_stops_before_the_first_instruction_and_kills_on_exit() {
    let args = vec!["__demo".to_string(), "lab".to_string()];
    let opts = Options {
        stdio: ptscope::tracer::LaunchStdio::Null,
        ..Options::default()
    };
    let h = TracerHandle::launch(bin(), &args, opts).expect("launch");
    let pid = h.pid();
    let snap = h.snapshot().unwrap();
    assert_eq!(snap.threads.len(), 1);
    assert_eq!(snap.threads[0].cause, Some(StopCause::Exec));
    assert!(status_field(pid, pid, "State").starts_with('t'));
    h.shutdown().unwrap();
    // We launched it, so we killed it; our own child is reaped by the tracer thread.
    eventually("the launched program to be gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_err()
            || status_field(pid, pid, "State").starts_with('Z')
            || status_field(pid, pid, "State").starts_with('X')
    });
}

#[test]
fn launch_of_a_missing_program_is_a_clear_error() {
    let err = TracerHandle::launch("/no/such/program", &[], Options::default())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "cannot launch /no/such/program: no such file"
    );
    let err = TracerHandle::launch("no-such-command-xyz", &[], Options::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn bad_targets_get_one_line_errors() {
    assert_eq!(
        TracerHandle::attach(i32::MAX, Options::default()).err(),
        Some(TraceError::NoSuchProcess(i32::MAX))
    );
    assert_eq!(
        TracerHandle::attach(2, Options::default()).err(),
        Some(TraceError::NotUserProcess(2))
    );
    let me = std::process::id() as i32;
    assert_eq!(
        TracerHandle::attach(me, Options::default()).err(),
        Some(TraceError::IsSelf(me))
    );
    let lab = start_lab(1);
    let h = attach(&lab);
    match TracerHandle::attach(lab.pid, Options::default()).err() {
        Some(TraceError::AlreadyTraced {
            pid,
            tracer,
            tracer_name,
        }) => {
            assert_eq!(pid, lab.pid);
            // The tracing thread lives in this test process: the error names the process.
            assert_eq!(tracer, std::process::id() as i32);
            let me = std::fs::read_to_string("/proc/self/comm").unwrap();
            assert_eq!(tracer_name, me.trim());
        }
        other => panic!("{other:?}"),
    }
    h.shutdown().unwrap();
}

#[test]
fn a_breakpoint_set_by_name_is_hit() {
    let mut lab = start_lab(1);
    let hot_tid = lab.command_tid("hot").unwrap();
    let h = attach_stopped(&lab);
    let sym = ptscope::symbols::Symbolizer::new(lab.pid).unwrap();
    let addr = sym.resolve("ptscope_lab_hot").unwrap();
    assert_eq!(addr, lab.hot);
    h.call(Command::AddBreakpoint { addr }).unwrap();
    cont(&h);
    let snap = wait_all_stopped(&h);
    let t = snap.threads.iter().find(|t| t.tid == hot_tid).unwrap();
    assert_eq!(t.cause, Some(StopCause::Breakpoint { addr }));
    let at = sym.symbolize(t.regs.unwrap().rip(), false);
    assert_eq!(at.function.as_deref(), Some("ptscope_lab_hot"));
    assert_eq!(at.offset, 0);
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn stepping_a_thread_blocked_in_a_system_call_ends_cleanly() {
    let mut lab = start_lab(1);
    let control = *lab.tids.last().unwrap();
    let h = attach_stopped(&lab);
    // The control thread sits in read(0, ...): the step restarts the call and only ends when
    // the call returns, at syscall exit (reported as TRAP_BRKPT, not TRAP_TRACE).
    h.send(Command::Step { tid: control });
    lab.send("calls").unwrap();
    let snap = wait_all_stopped(&h);
    let t = snap.threads.iter().find(|t| t.tid == control).unwrap();
    assert_eq!(t.cause, Some(StopCause::Stepped));
    assert_eq!(
        t.pending_signal, None,
        "our step trap is not a signal to deliver"
    );
    cont(&h);
    lab.wait_line("calls ").unwrap();
    assert_alive(&mut lab);

    // A step that does not end (nothing more on stdin) can still be stopped, and the process
    // survives continuing afterwards.
    h.call(Command::Stop).unwrap();
    h.send(Command::Step { tid: control });
    wait_for(
        &h,
        |e| matches!(&e.kind, EventKind::Transition(t) if t.tid == control && t.new == ThreadState::Stepping),
    );
    h.call(Command::Stop).unwrap();
    let snap = h.snapshot().unwrap();
    let t = snap.threads.iter().find(|t| t.tid == control).unwrap();
    assert_eq!(t.state, ThreadState::Stopped);
    cont(&h);
    assert_alive(&mut lab);
    leave(h, &mut lab);
}

#[test]
fn direct_reads_never_show_our_int3_running_or_stopped() {
    let mut lab = start_lab(1);
    lab.command_tid("hot").unwrap();
    let original = read_proc_mem(lab.pid, lab.hot, 16);
    let h = attach_stopped(&lab);
    h.call(Command::AddBreakpoint { addr: lab.hot }).unwrap();
    // At rest the read is direct, and memory holds no int3.
    assert_eq!(h.read_memory(lab.hot, 16).unwrap().bytes, original);
    h.call(Command::RemoveBreakpoint { addr: lab.hot }).unwrap();
    // Running with a breakpoint in code the lab never runs (the chain target's function, in
    // the same binary): the int3 is in memory, and reads must still show the program's byte.
    let sym = ptscope::symbols::Symbolizer::new(lab.pid).unwrap();
    let quiet = sym.resolve("ptscope_chain_c").unwrap();
    let quiet_text = read_proc_mem(lab.pid, quiet, 16);
    h.call(Command::AddBreakpoint { addr: quiet }).unwrap();
    cont(&h);
    assert_eq!(
        read_proc_mem(lab.pid, quiet, 1),
        vec![0xcc],
        "our int3 is in while running"
    );
    assert_eq!(h.read_memory(quiet, 16).unwrap().bytes, quiet_text);
    h.call(Command::Stop).unwrap();
    assert_eq!(read_proc_mem(lab.pid, quiet, 16), quiet_text);
    assert_eq!(h.read_memory(quiet, 16).unwrap().bytes, quiet_text);
    assert_eq!(
        h.read_memory(0x10, 8),
        Err(TraceError::Unreadable {
            addr: 0x10,
            len: 8,
            read: 0
        })
    );
    h.shutdown().unwrap();
    assert_untraced_and_running(lab.pid);
}

#[test]
fn names_the_caller_already_read_are_taken_and_the_others_read_at_attach() {
    let mut lab = start_lab(2);
    let tids = task_ids(lab.pid);
    let (given, other) = (tids[1], tids[2]);
    // Not the thread's real name: only taking the given one, not reading it, shows this.
    let names = std::collections::BTreeMap::from([(given, "given-name".to_string())]);
    let opts = Options {
        known_names: Some(std::sync::Arc::new(names)),
        ..Options::default()
    };
    let h = TracerHandle::attach(lab.pid, opts).expect("attach");
    let snap = wait_all_stopped(&h);
    let name = |tid: i32| {
        snap.threads
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| t.name.clone())
            .expect("in the snapshot")
    };
    assert_eq!(name(given), "given-name");
    assert_eq!(name(other), status_field(lab.pid, other, "Name"));
    assert_ne!(name(other), "given-name");
    leave(h, &mut lab);
}
