//! The rules that join the parts: which keys apply in which process state, what each asks
//! the tracer and the workers for, and how answers come back. Each part's own behaviour is
//! tested beside it in `model/`.

use super::*;
use crate::tracer::error::TraceError;
use crate::tracer::event::Reply;
use crate::tracer::event::Transition;
use crate::ui::fixtures::*;
use crate::ui::model::StatusKind;

pub(crate) fn running_model() -> Model {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    m
}

pub(crate) fn status(m: &Model) -> (StatusKind, String) {
    let s = m.status.line.clone().expect("a status line");
    (s.kind, s.text)
}

#[test]
fn commands_follow_the_process_state() {
    // (model, message, effects expected, status kind, words the status must contain)
    let stopped = demo_model;
    let running = running_model;
    let exited = || {
        let mut m = demo_model();
        let k = EventKind::ProcessExited(ExitKind::Code { code: 3 });
        update(&mut m, Msg::Tracer(event(40, 4000, k)));
        m
    };
    type Case = (fn() -> Model, Msg, Vec<Effect>, StatusKind, &'static str);
    let selected = crate::ui::fixtures::PID + 1;
    let cases: Vec<Case> = vec![
        // The stop waits for the readings before it (see below).
        (
            running,
            Msg::Stop,
            vec![Effect::ReadPreStop, Effect::ReadKernel],
            StatusKind::Info,
            "stopping",
        ),
        (
            stopped,
            Msg::Stop,
            vec![],
            StatusKind::Info,
            "already stopped",
        ),
        (exited, Msg::Stop, vec![], StatusKind::Error, "exited (3)"),
        (
            stopped,
            Msg::Continue,
            vec![Effect::Tracer(Command::Continue)],
            StatusKind::Info,
            "continuing",
        ),
        (
            running,
            Msg::Continue,
            vec![],
            StatusKind::Error,
            "already running",
        ),
        (
            exited,
            Msg::Continue,
            vec![],
            StatusKind::Error,
            "has exited",
        ),
        (
            stopped,
            Msg::Step,
            vec![Effect::Tracer(Command::Step { tid: selected })],
            StatusKind::Info,
            "stepping",
        ),
        (
            running,
            Msg::Step,
            vec![],
            StatusKind::Error,
            "while running: press s",
        ),
        (exited, Msg::Step, vec![], StatusKind::Error, "has exited"),
        (
            stopped,
            Msg::DeleteBreakpoint,
            vec![Effect::Tracer(Command::RemoveBreakpoint { addr: HOT })],
            StatusKind::Info,
            "deleting",
        ),
        (
            exited,
            Msg::DeleteBreakpoint,
            vec![],
            StatusKind::Error,
            "has exited",
        ),
        (
            exited,
            Msg::BreakpointPrompt,
            vec![],
            StatusKind::Error,
            "cannot add a breakpoint: the process has exited",
        ),
    ];
    for (make, msg, want, kind, words) in cases {
        let mut m = make();
        let label = format!("{msg:?} in {:?}", m.process.state);
        assert_eq!(update(&mut m, msg), want, "{label}");
        let (k, text) = status(&m);
        assert_eq!(k, kind, "{label}: {text}");
        assert!(text.contains(words), "{label}: {text:?} lacks {words:?}");
    }
}

#[test]
fn the_stopping_thread_is_selected_and_marked() {
    let m = demo_model();
    assert_eq!(m.threads.stopped_by, Some(PID + 1));
    assert_eq!(m.threads.selected, Some(PID + 1));
    assert_eq!(m.process.state, ProcessState::Stopped);
    assert_eq!(m.threads.rows.len(), 7);
    assert_eq!(m.breakpoints.list.len(), 2);
}

#[test]
fn step_on_a_thread_that_is_not_stopped_says_why() {
    let mut m = demo_model();
    m.threads.selected = Some(PID + 6);
    // The code pane may read the exiting thread's code; nothing steps.
    let cmds = commands(&update(&mut m, Msg::Step));
    assert!(
        cmds.iter().all(|c| matches!(c, Command::ReadMemory { .. })),
        "{cmds:?}"
    );
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert!(text.contains("is exiting"), "{text}");
}

#[test]
fn step_reply_refreshes_registers_and_memory() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_0000_0000, 64, 64);
    let cmds = commands(&update(&mut m, Msg::Step));
    m.sent(7, cmds[0].clone());
    let after = commands(&reply(&mut m, 7, Ok(Reply::Done)));
    assert_eq!(after[0], Command::Snapshot);
    assert!(matches!(
        after[1],
        Command::ReadMemory {
            addr: 0x7ffd_0000_0000,
            ..
        }
    ));
}

#[test]
fn errors_from_the_tracer_reach_the_status_bar_sanitised() {
    let mut m = demo_model();
    m.sent(5, Command::AddBreakpoint { addr: 0x10 });
    let e = TraceError::AlreadyTraced {
        pid: PID,
        tracer: 77,
        tracer_name: "gdb\x1b[2J".into(),
    };
    reply(&mut m, 5, Err(e));
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert!(text.contains("gdb\\x1b[2J"), "{text}");
    assert!(!m.pending.contains_key(&5));
}

#[test]
fn focus_cycles_both_ways() {
    let mut m = demo_model();
    let mut seen = vec![m.screen.focus];
    for _ in 0..Focus::ALL.len() {
        update(&mut m, Msg::FocusNext);
        seen.push(m.screen.focus);
    }
    assert_eq!(seen.first(), seen.last());
    assert_eq!(seen[1], Focus::Code);
    assert_eq!(seen[2], Focus::Source);
    assert_eq!(seen[3], Focus::Backtrace);
    update(&mut m, Msg::FocusPrev);
    assert_eq!(m.screen.focus, Focus::Log);
}

#[test]
fn signals_and_q_quit() {
    let mut m = running_model();
    assert_eq!(update(&mut m, Msg::Signal("SIGTERM")), vec![Effect::Quit]);
    assert_eq!(status(&m).1, "SIGTERM: quitting");
    assert_eq!(update(&mut m, Msg::Quit), vec![Effect::Quit]);
}

#[test]
fn a_stop_is_sent_only_after_the_kernel_view_before_it() {
    let mut m = running_model();
    assert_eq!(
        update(&mut m, Msg::Stop),
        vec![Effect::ReadPreStop, Effect::ReadKernel],
        "/proc readings are asked for first: off-CPU times, then the kernel view"
    );
    assert_eq!(m.process.state, ProcessState::Stopping);
    // A second s while waiting does not ask twice.
    assert!(update(&mut m, Msg::Stop).is_empty(), "once");
    // The kernel thread answers in the order asked.
    assert!(update(&mut m, Msg::PreStop(Box::new(prestop()))).is_empty());
    assert_eq!(m.waits.prestop, prestop());
    let fx = update(&mut m, Msg::Kernel(kernel_views()));
    assert_eq!(fx, vec![Effect::Tracer(Command::Stop)]);
    assert_eq!(
        m.threads.kernel[&(PID + 2)]
            .call
            .as_deref()
            .map(|c| &c[..5]),
        Some("futex")
    );
    // The next reading does not send another stop.
    assert!(update(&mut m, Msg::Kernel(kernel_views())).is_empty());
}

#[test]
fn a_stop_pressed_while_a_reading_is_on_its_way_waits_for_that_one() {
    let mut m = running_model();
    assert_eq!(update(&mut m, Msg::Tick), vec![Effect::ReadKernel]);
    assert_eq!(
        update(&mut m, Msg::Stop),
        vec![Effect::ReadPreStop],
        "no second kernel view; the off-CPU times still come first"
    );
    assert!(
        update(&mut m, Msg::Kernel(kernel_views())).is_empty(),
        "the stop waits for the off-CPU times too"
    );
    assert!(update(&mut m, Msg::Stop).is_empty(), "still once");
    assert_eq!(
        update(&mut m, Msg::PreStop(Box::new(prestop()))),
        vec![Effect::Tracer(Command::Stop)]
    );
    assert_eq!(m.kernel_reading, KernelReading::Idle);
}

pub(crate) fn prestop() -> crate::analysis::gather::PreStop {
    crate::analysis::gather::PreStop {
        off_cpu_ms: [(PID + 2, 41_000)].into(),
        kstacks: Default::default(),
    }
}

#[test]
fn ticks_read_the_kernel_view_only_while_running() {
    let mut m = demo_model();
    assert!(
        update(&mut m, Msg::Tick).is_empty(),
        "stopped: /proc would only show our stop"
    );
    let mut m = running_model();
    assert_eq!(update(&mut m, Msg::Tick), vec![Effect::ReadKernel]);
    assert!(
        update(&mut m, Msg::Tick).is_empty(),
        "one reading at a time"
    );
    update(&mut m, Msg::Kernel(kernel_views()));
    assert_eq!(update(&mut m, Msg::Tick), vec![Effect::ReadKernel]);
}

#[test]
fn births_ask_for_a_snapshot_on_the_next_tick_once() {
    let mut m = running_model();
    update(&mut m, Msg::Kernel(kernel_views()));
    let born = EventKind::Transition(Transition {
        tid: 9000,
        old: ThreadState::Running,
        new: ThreadState::Running,
        cause: None,
        status: None,
        note: "new thread",
    });
    assert!(update(&mut m, Msg::Tracer(event(60, 6000, born))).is_empty());
    let fx = update(&mut m, Msg::Tick);
    assert_eq!(commands(&fx), vec![Command::Snapshot]);
    m.sent(1, Command::Snapshot);
    m.threads.births_unnamed = true;
    assert!(
        commands(&update(&mut m, Msg::Tick)).is_empty(),
        "one on its way"
    );
}

#[test]
fn prompts_are_resolved_by_the_worker_with_the_selected_threads_registers() {
    let mut m = demo_model();
    update(&mut m, Msg::BreakpointPrompt);
    for c in "rip+1".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    let fx = update(&mut m, Msg::PromptSubmit);
    let regs = m.threads.rows[&(PID + 1)].regs;
    let mut names = std::collections::BTreeMap::new();
    names.insert("ptscope_demo_hot".to_string(), HOT);
    assert_eq!(
        fx,
        vec![Effect::Resolve(ResolveAsk {
            purpose: Purpose::Breakpoint,
            text: "rip+1".into(),
            tid: Some(PID + 1),
            regs,
            names,
            at_rest: true,
        })]
    );
    assert!(!m.prompt.is_open(), "Enter closes the prompt at once");
    let fx = answer_prompts(&mut m, fx, &FakeSymbols);
    assert_eq!(
        commands(&fx),
        vec![Command::AddBreakpoint { addr: HOT + 1 }]
    );
    assert_eq!(status(&m).1, format!("adding breakpoint at {:#x}", HOT + 1));
}

#[test]
fn an_answer_for_a_process_gone_meanwhile_adds_nothing() {
    let mut m = demo_model();
    let k = EventKind::ProcessExited(ExitKind::Code { code: 0 });
    update(&mut m, Msg::Tracer(event(40, 4000, k)));
    let fx = update(
        &mut m,
        Msg::Resolved {
            purpose: Purpose::Breakpoint,
            text: "0x10".into(),
            result: Ok(0x10),
        },
    );
    assert!(commands(&fx).is_empty());
    assert_eq!(status(&m).0, StatusKind::Error);
}
