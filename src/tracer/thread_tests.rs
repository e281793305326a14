//! The stop state machine's rules (`decide`), one wait status at a time.

use super::*;
use ThreadState as S;

fn facts() -> StopFacts {
    StopFacts {
        stop_on_thread_events: true,
        ..Default::default()
    }
}

#[test]
fn breakpoint_hit_rewinds_settles_and_stops_the_world() {
    let f = StopFacts {
        si_code: Some(SI_KERNEL),
        our_breakpoint: Some(0x401136),
        ..facts()
    };
    let d = decide(
        S::Running,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.state, S::Stopping);
    assert_eq!(d.cause, Some(StopCause::Breakpoint { addr: 0x401136 }));
    assert_eq!(d.action, Action::RewindAndSettle { addr: 0x401136 });
    assert!(d.stops_world);
    assert_eq!(d.holds_signal, None, "our SIGTRAP must never be delivered");
}

#[test]
fn programs_own_int3_is_a_signal() {
    let f = StopFacts {
        si_code: Some(SI_KERNEL),
        policy: Some(Policy::Stop),
        ..facts()
    };
    let d = decide(
        S::Running,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.cause, Some(StopCause::Signal { sig: libc::SIGTRAP }));
    assert_eq!(d.action, Action::Rest);
    assert_eq!(d.holds_signal, Some(libc::SIGTRAP));
}

#[test]
fn stale_trap_of_a_removed_breakpoint_is_swallowed() {
    let f = StopFacts {
        si_code: Some(SI_KERNEL),
        stale_breakpoint: Some(0x1000),
        ..facts()
    };
    let d = decide(
        S::Stopping,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.action, Action::RewindAndSettle { addr: 0x1000 });
    assert_eq!(d.cause, None);
    let d = decide(
        S::Running,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.action, Action::RewindAndResume { addr: 0x1000 });
    assert!(!d.stops_world);
}

#[test]
fn step_completion_settles_without_stopping_others() {
    let f = StopFacts {
        si_code: Some(TRAP_TRACE),
        ..facts()
    };
    let d = decide(
        S::Stepping,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.cause, Some(StopCause::Stepped));
    assert_eq!(d.action, Action::Settle);
    assert!(!d.stops_world);
}

#[test]
fn a_step_over_a_system_call_ends_with_trap_brkpt() {
    let f = StopFacts {
        si_code: Some(TRAP_BRKPT),
        policy: Some(Policy::Stop),
        ..facts()
    };
    let d = decide(
        S::Stepping,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(
        (d.cause, d.action),
        (Some(StopCause::Stepped), Action::Settle)
    );
    assert_eq!(
        d.holds_signal, None,
        "our step trap must never be delivered"
    );
    // The trap of an interrupted step, reported while stopping or after a resume: dropped.
    let stepping = StopFacts {
        stepping: true,
        ..f
    };
    let trap = WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP };
    let d = decide(S::Stopping, trap, &stepping);
    assert_eq!(
        (d.cause, d.action, d.holds_signal),
        (None, Action::Settle, None)
    );
    let d = decide(S::Running, trap, &stepping);
    assert_eq!(
        (d.state, d.action, d.holds_signal),
        (S::Running, Action::Resume { sig: 0 }, None)
    );
    assert!(!d.stops_world);
    // The same code while running is a SIGTRAP of the program's own.
    let d = decide(
        S::Running,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
        &f,
    );
    assert_eq!(d.holds_signal, Some(libc::SIGTRAP));
}

#[test]
fn a_watchpoint_trap_settles_and_stops_the_world_from_any_state() {
    let trap = WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP };
    let hw = StopFacts {
        si_code: Some(TRAP_HWBKPT),
        watchpoint: Some(0x60_1040),
        policy: Some(Policy::Stop),
        ..facts()
    };
    let d = decide(S::Running, trap, &hw);
    assert_eq!(d.state, S::Stopping);
    assert_eq!(d.cause, Some(StopCause::Watchpoint { addr: 0x60_1040 }));
    assert_eq!(d.action, Action::Settle);
    assert!(d.stops_world);
    assert_eq!(d.holds_signal, None, "our SIGTRAP must never be delivered");
    // With a single step's trap (TRAP_TRACE, DR6 BS and Bn): the watchpoint is the cause.
    let with_step = StopFacts {
        si_code: Some(TRAP_TRACE),
        stepping: true,
        ..hw
    };
    let d = decide(S::Stepping, trap, &with_step);
    assert_eq!(
        (d.cause, d.action, d.stops_world),
        (
            Some(StopCause::Watchpoint { addr: 0x60_1040 }),
            Action::Settle,
            false
        )
    );
    // Reported while we were stopping it (its trap was queued): counted, not delivered.
    let d = decide(S::Stopping, trap, &hw);
    assert_eq!((d.action, d.holds_signal), (Action::Settle, None));
    assert!(!d.stops_world);
    assert_eq!(
        StopCause::Watchpoint { addr: 0x60_1040 }.to_string(),
        "watchpoint 0x601040"
    );
}

#[test]
fn passed_signals_keep_the_thread_going() {
    let f = StopFacts {
        policy: Some(Policy::Pass),
        ..facts()
    };
    let sig = WaitStatus::SignalDeliveryStop { sig: libc::SIGCHLD };
    let d = decide(S::Running, sig, &f);
    assert_eq!(
        (d.state, d.action),
        (S::Running, Action::Resume { sig: libc::SIGCHLD })
    );
    let d = decide(S::Stopping, sig, &f);
    assert_eq!(
        (d.state, d.action),
        (S::Stopping, Action::Resume { sig: libc::SIGCHLD })
    );
    let d = decide(S::Stepping, sig, &f);
    assert_eq!(d.action, Action::StepAgain { sig: libc::SIGCHLD });
}

#[test]
fn stopping_signals_are_held_for_continue() {
    let f = StopFacts {
        policy: Some(Policy::Stop),
        ..facts()
    };
    let d = decide(
        S::Running,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGUSR1 },
        &f,
    );
    assert_eq!(d.state, S::Stopped);
    assert_eq!(d.holds_signal, Some(libc::SIGUSR1));
    assert!(d.stops_world);
    // Arriving while we were already stopping it: held too, but no new all-stop.
    let d = decide(
        S::Stopping,
        WaitStatus::SignalDeliveryStop { sig: libc::SIGUSR1 },
        &f,
    );
    assert_eq!(d.holds_signal, Some(libc::SIGUSR1));
    assert!(!d.stops_world);
}

#[test]
fn interrupt_stop_ends_stopping_and_is_absorbed_otherwise() {
    let d = decide(S::Stopping, WaitStatus::InterruptStop, &facts());
    assert_eq!(
        (d.state, d.action, d.cause),
        (S::Stopped, Action::Rest, None)
    );
    let d = decide(S::Running, WaitStatus::InterruptStop, &facts());
    assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));
    let listening = StopFacts {
        listening: true,
        ..facts()
    };
    let d = decide(S::Stopped, WaitStatus::InterruptStop, &listening);
    assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));
}

#[test]
fn group_stop_is_honoured_with_listen() {
    let g = WaitStatus::GroupStop { sig: libc::SIGSTOP };
    let d = decide(S::Running, g, &facts());
    assert_eq!(d.action, Action::Listen);
    assert_eq!(d.cause, Some(StopCause::GroupStop { sig: libc::SIGSTOP }));
    assert!(!d.stops_world, "the kernel stops the whole group itself");
    let d = decide(S::Stopping, g, &facts());
    assert_eq!((d.state, d.action), (S::Stopped, Action::Rest));
}

#[test]
fn thread_events_stop_or_pass_by_policy() {
    let clone = WaitStatus::EventStop {
        event: PtraceEvent::Clone,
    };
    let f = StopFacts {
        event_msg: 4242,
        ..facts()
    };
    let d = decide(S::Running, clone, &f);
    assert_eq!(d.cause, Some(StopCause::ThreadCreated { tid: 4242 }));
    assert!(d.stops_world);
    assert_eq!(d.state, S::Stopped);
    let quiet = StopFacts {
        stop_on_thread_events: false,
        ..f
    };
    let d = decide(S::Running, clone, &quiet);
    assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));

    let exit = WaitStatus::EventStop {
        event: PtraceEvent::Exit,
    };
    let f = StopFacts {
        event_msg: 7 << 8,
        ..facts()
    };
    let d = decide(S::Running, exit, &f);
    assert_eq!(d.state, S::Exiting);
    assert_eq!(
        d.cause,
        Some(StopCause::ThreadExiting {
            status: ExitKind::Code { code: 7 }
        })
    );
    assert_eq!(d.cause.map(|c| c.to_string()).as_deref(), Some("exiting 7"));
}

#[test]
fn exit_statuses_forget_the_thread() {
    let d = decide(S::Running, WaitStatus::Exited { code: 0 }, &facts());
    assert_eq!((d.state, d.action), (S::Exited, Action::Forget));
}

#[test]
fn fork_events_only_log() {
    let fork = WaitStatus::EventStop {
        event: PtraceEvent::Fork,
    };
    assert_eq!(
        decide(S::Running, fork, &facts()).action,
        Action::Resume { sig: 0 }
    );
    assert_eq!(
        decide(S::Stepping, fork, &facts()).action,
        Action::StepAgain { sig: 0 }
    );
    assert_eq!(decide(S::Stopping, fork, &facts()).action, Action::Rest);
}

fn decision(state: ThreadState, action: Action) -> Decision {
    Decision::new(state, None, action)
}

#[test]
fn a_newborn_waits_for_its_first_stop_then_is_an_ordinary_thread() {
    let born = TraceeState::Newborn;
    assert_eq!(born.view(), S::Stopping);
    // A signal passed on before the first stop: still waiting for it.
    let pass = decision(S::Stopping, Action::Resume { sig: libc::SIGCHLD });
    assert_eq!(born.after(&pass), born);
    let first = decision(S::Stopped, Action::Rest);
    assert_eq!(born.after(&first), TraceeState::Stopped);
}

#[test]
fn listening_is_a_stop_that_lasts_until_the_thread_is_moved() {
    let l = TraceeState::Listening;
    assert_eq!(l.view(), S::Stopped);
    // A signal held while listening, or the group-stop reported again: still listened to.
    assert_eq!(l.after(&decision(S::Stopped, Action::Rest)), l);
    assert_eq!(l.after(&decision(S::Stopped, Action::Listen)), l);
    // SIGCONT ended it.
    let cont = decision(S::Running, Action::Resume { sig: 0 });
    assert_eq!(l.after(&cont), TraceeState::Running);
    // An exit stop is not a job-control stop any more.
    assert_eq!(
        l.after(&decision(S::Exiting, Action::Rest)),
        TraceeState::Exiting
    );
    // Only a successful PTRACE_LISTEN makes a thread listening.
    assert_eq!(
        TraceeState::Running.after(&decision(S::Stopped, Action::Listen)),
        TraceeState::Stopped
    );
}

#[test]
fn released_and_zombie_threads_are_not_driven_and_only_exit() {
    for t in [TraceeState::Released, TraceeState::Zombie] {
        assert!(!t.is_live());
        assert_eq!(t.view(), S::Exiting);
        assert_eq!(t.after(&decision(S::Stopped, Action::Rest)), t);
        assert_eq!(
            t.after(&decision(S::Exited, Action::Forget)),
            TraceeState::Exited
        );
    }
    assert!(!TraceeState::Exited.is_live());
    assert!(TraceeState::Exiting.is_live());
    assert!(TraceeState::Detached.is_live());
}

#[test]
fn a_thread_that_could_not_stop_reports_as_one_stopping() {
    let d = decide(S::CannotStop, WaitStatus::InterruptStop, &facts());
    assert_eq!(
        (d.state, d.action, d.stops_world),
        (S::Stopped, Action::Rest, false)
    );
    // Its vfork ended: PTRACE_EVENT_VFORK_DONE comes first, and holds it too.
    let done = WaitStatus::EventStop {
        event: PtraceEvent::VforkDone,
    };
    assert_eq!(decide(S::CannotStop, done, &facts()).state, S::Stopped);
    let why = Unstoppable::Vfork { child: Some(77) };
    let t = TraceeState::CannotStop { why };
    assert_eq!(t.view(), S::CannotStop);
    assert!(t.is_live() && S::CannotStop.is_settled());
    assert_eq!(
        t.after(&decision(S::Stopped, Action::Rest)),
        TraceeState::Stopped
    );
    assert_eq!(
        StopCause::CannotStop { why }.to_string(),
        "cannot stop: in vfork, child 77"
    );
}

#[test]
fn causes_read_as_the_ui_shows_them() {
    assert_eq!(
        StopCause::Breakpoint { addr: 0x401136 }.to_string(),
        "breakpoint 0x401136"
    );
    assert_eq!(
        StopCause::Signal { sig: libc::SIGUSR1 }.to_string(),
        "signal SIGUSR1"
    );
    assert_eq!(
        StopCause::ThreadCreated { tid: 4242 }.to_string(),
        "new thread 4242"
    );
    assert_eq!(
        StopCause::GroupStop { sig: libc::SIGSTOP }.to_string(),
        "group-stop SIGSTOP"
    );
}
