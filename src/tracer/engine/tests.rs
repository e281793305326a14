//! The engine's phases against real programs (sh, sleep), checked with what the kernel says.
//! The lab-target tests are in tests/engine.rs; these cover the phase ends no front end
//! reaches on its own there.

use crate::procinfo::{self, tasks};
use crate::tracer::{
    Command, Event, EventKind, ExitKind, LaunchStdio, Options, Reply, ThreadState, TracerHandle,
};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

fn launch(program: &str, args: &[&str], stop_on_thread_events: bool) -> TracerHandle {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let opts = Options {
        stop_on_thread_events,
        stdio: LaunchStdio::Null,
        ..Options::default()
    };
    TracerHandle::launch(program, &args, opts).expect("launch")
}

fn wait_for(h: &TracerHandle, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match h.events().recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(e) => panic!("no {what} within {TIMEOUT:?}: {e}"),
        }
    }
}

fn all_stopped(h: &TracerHandle) {
    wait_for(h, "AllStopped", |e| {
        matches!(e.kind, EventKind::AllStopped(_))
    });
}

/// Polls a kernel fact, bounded; never a fixed sleep.
fn eventually(what: &str, mut fact: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !fact() {
        assert!(
            Instant::now() < deadline,
            "{what} not seen within {TIMEOUT:?}"
        );
        std::thread::yield_now();
    }
}

/// Every ProcessExited until the tracer thread ends and drops its side of the event stream;
/// a stop that landed before the exit is continued.
fn exits_until_the_end(h: &TracerHandle) -> Vec<ExitKind> {
    let deadline = Instant::now() + TIMEOUT;
    let mut exits = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match h.events().recv_timeout(left) {
            Ok(Event {
                kind: EventKind::ProcessExited(kind),
                ..
            }) => exits.push(kind),
            Ok(Event {
                kind: EventKind::AllStopped(_),
                ..
            }) => {
                h.send(Command::Continue);
            }
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return exits,
            Err(e) => panic!("the tracer thread did not end: {e}"),
        }
    }
}

#[test]
fn an_exit_is_announced_once_even_while_a_stop_races_it() {
    // A stop sent as the program exits arms the direct reap window (`reap_soon`), the path
    // on which the exit used to be announced again at every pass of the loop.
    for _ in 0..10 {
        let h = launch("sh", &["-c", "exit 3"], false);
        let pid = h.pid();
        all_stopped(&h);
        h.send(Command::Continue);
        h.send(Command::Stop);
        assert_eq!(exits_until_the_end(&h), vec![ExitKind::Code { code: 3 }]);
        // Reaped by the tracer thread: no zombie is left behind.
        assert!(tasks::list_tids(pid).is_err(), "process {pid} still listed");
    }
}

#[test]
fn a_detach_while_a_step_is_blocked_in_a_system_call_stops_it_and_lets_go() {
    let h = launch("sleep", &["1"], true);
    let pid = h.pid();
    all_stopped(&h);
    h.call(Command::Continue).expect("continue");
    eventually("sleep blocked in its system call", || {
        procinfo::read_threads(pid).is_ok_and(|v| {
            v.iter().any(|t| {
                t.state == 'S'
                    && matches!(
                        t.syscall.name().as_deref(),
                        Some("clock_nanosleep" | "nanosleep")
                    )
            })
        })
    });
    h.call(Command::Stop).expect("stop");
    // The step restarts the sleep and cannot end before it does.
    h.send(Command::Step { tid: pid });
    wait_for(
        &h,
        "the step",
        |e| matches!(&e.kind, EventKind::Transition(t) if t.tid == pid && t.new == ThreadState::Stepping),
    );
    assert_eq!(h.call(Command::Detach), Ok(Reply::Done));
    assert_eq!(tasks::tracer_of(pid, pid), Some(0), "still traced");
    // A launched program is traced with PTRACE_O_EXITKILL: had any thread stayed traced, the
    // tracer thread's end would have killed it; had our step trap stayed queued, it would
    // have died of SIGTRAP. It finishes its sleep and exits 0.
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("wait");
    assert_eq!(
        status,
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
    );
}
