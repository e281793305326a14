//! The code keys and answers in `update`: what `o`, `f`, `l`, `a` and `b FILE:LINE` ask the
//! tracer for in which state, how the stepping commands' replies read, and line breakpoints as
//! one breakpoint of several locations.

use crate::symbols::LineMatch;
use crate::tracer::event::{Command, EventKind, Reply, StepOutcome};
use crate::tracer::thread::StopCause;
use crate::ui::app::{update, Model};
use crate::ui::code_fixtures::*;
use crate::ui::fixtures::*;
use crate::ui::focus::Focus;
use crate::ui::model::StatusKind;
use crate::ui::msg::Msg;

fn status(m: &Model) -> (StatusKind, String) {
    let s = m.status.line.clone().expect("a status line");
    (s.kind, s.text)
}

fn stepping(cmds: Vec<Command>) -> Vec<Command> {
    cmds.into_iter()
        .filter(|c| !matches!(c, Command::ReadMemory { .. }))
        .collect()
}

#[test]
fn step_over_and_line_step_go_to_the_tracer_for_the_selected_thread() {
    let mut m = demo_model();
    with_code(&mut m);
    let tid = PID + 1;
    assert_eq!(
        commands(&update(&mut m, Msg::StepOver)),
        vec![Command::StepOver { tid }]
    );
    assert_eq!(
        stepping(commands(&update(&mut m, Msg::StepLine))),
        vec![Command::StepLine {
            tid,
            ranges: vec![(HOT, HOT + 9)]
        }]
    );
}

#[test]
fn finish_runs_to_the_selected_frames_caller() {
    let mut m = demo_model();
    let tid = PID + 1;
    let bt = m.backtrace.get(Some(tid)).expect("a stack").clone();
    assert_eq!(
        stepping(commands(&update(&mut m, Msg::Finish))),
        vec![Command::Finish {
            tid,
            return_addr: bt.frames[1].pc,
            cfa: bt.frames[1].sp
        }]
    );
    // Frame #2 selected: its caller is frame #3.
    m.screen.focus = Focus::Backtrace;
    update(&mut m, Msg::Down);
    update(&mut m, Msg::Down);
    assert_eq!(
        stepping(commands(&update(&mut m, Msg::Finish))),
        vec![Command::Finish {
            tid,
            return_addr: bt.frames[3].pc,
            cfa: bt.frames[3].sp
        }]
    );
    // The outermost frame has nobody to return to.
    update(&mut m, Msg::End);
    assert!(stepping(commands(&update(&mut m, Msg::Finish))).is_empty());
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert!(text.contains("has no caller"), "{text}");
}

#[test]
fn stepping_keys_say_why_they_cannot() {
    // Running.
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    for key in [Msg::StepOver, Msg::Finish, Msg::StepLine] {
        assert!(commands(&update(&mut m, key)).is_empty());
        let (k, text) = status(&m);
        assert_eq!(k, StatusKind::Error);
        assert!(text.contains("press s"), "{text}");
    }
    // Stopped, but the code is not read yet: `l` has no line to step.
    let mut m = demo_model();
    assert!(stepping(commands(&update(&mut m, Msg::StepLine))).is_empty());
    assert!(
        status(&m).1.contains("still being read"),
        "{:?}",
        status(&m)
    );
    // No line information where the thread is.
    with_code(&mut m);
    if let Some(v) = m.code.view.as_mut() {
        v.line_ranges = None;
    }
    assert!(stepping(commands(&update(&mut m, Msg::StepLine))).is_empty());
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert!(
        text.contains("no line information at ptscope_demo_hot"),
        "{text}"
    );
    // A thread that is exiting does not step.
    m.threads.selected = Some(PID + 6);
    assert!(stepping(commands(&update(&mut m, Msg::StepOver))).is_empty());
    assert!(status(&m).1.contains("is exiting"), "{:?}", status(&m));
}

#[test]
fn the_replies_say_how_each_step_ended_and_refresh_what_it_changed() {
    let mut m = demo_model();
    let tid = PID + 1;
    m.sent(81, Command::StepOver { tid });
    let fx = reply(
        &mut m,
        81,
        Ok(Reply::Stepped(StepOutcome::Arrived {
            pc: HOT + 0xe,
            instructions: 1,
        })),
    );
    assert!(commands(&fx).contains(&Command::Snapshot));
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Answer);
    assert!(
        text.contains("step over done at") && text.contains("1 instruction"),
        "{text}"
    );
    m.sent(
        82,
        Command::StepLine {
            tid,
            ranges: vec![],
        },
    );
    reply(
        &mut m,
        82,
        Ok(Reply::Stepped(StepOutcome::Interrupted {
            by: Some(PID + 3),
            cause: Some(StopCause::Breakpoint { addr: 0x1234 }),
        })),
    );
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert_eq!(
        text,
        format!(
            "line step of thread {tid} ended early: thread {} breakpoint 0x1234",
            PID + 3
        )
    );
}

#[test]
fn a_source_line_is_one_breakpoint_of_all_its_locations() {
    let mut m = demo_model();
    let (a, b) = (HOT + 0x40, HOT + 0x90);
    let fx = update(
        &mut m,
        Msg::LineResolved {
            text: "service.rs:15".into(),
            result: Ok(LineMatch {
                file: SOURCE_PATH.into(),
                asked: 15,
                line: 17,
                addrs: vec![a, b],
            }),
        },
    );
    assert_eq!(
        commands(&fx),
        vec![
            Command::AddBreakpoint { addr: a },
            Command::AddBreakpoint { addr: b }
        ]
    );
    assert_eq!(
        status(&m).1,
        "service.rs:15 has no code; breakpoint at line 17 instead (2 locations)"
    );
    for (id, addr) in [(91, a), (92, b)] {
        m.sent(id, Command::AddBreakpoint { addr });
        reply(&mut m, id, Ok(Reply::Done));
    }
    assert!(
        status(&m).1.contains("line 17 instead"),
        "the line's words stay"
    );
    let rows = m.breakpoints.rows();
    let row = rows
        .iter()
        .find(|r| r.label.is_some())
        .expect("the line's row");
    assert_eq!(row.label.as_deref(), Some("service.rs:17"));
    assert_eq!(row.addrs, vec![a, b]);
    assert_eq!(
        rows.len(),
        3,
        "two address breakpoints and the line: {rows:?}"
    );
    let t = crate::ui::panes::screen::breakpoints(&m);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(57, 6)).unwrap();
    term.draw(|f| f.render_widget(&t, f.area())).unwrap();
    let shown = format!("{}", term.backend());
    assert!(shown.contains("service.rs:17 2 locations"), "{shown}");
    // `d` on it deletes every location.
    m.screen.focus = Focus::Breakpoints;
    let i = rows.iter().position(|r| r.label.is_some()).unwrap();
    m.breakpoints.selected = i;
    assert_eq!(
        commands(&update(&mut m, Msg::DeleteBreakpoint)),
        vec![
            Command::RemoveBreakpoint { addr: a },
            Command::RemoveBreakpoint { addr: b }
        ]
    );
    // A line that cannot be found says why and sets nothing.
    let fx = update(
        &mut m,
        Msg::LineResolved {
            text: "nope.rs:3".into(),
            result: Err("no line table names a file ending in `nope.rs`".into()),
        },
    );
    assert!(commands(&fx).is_empty());
    assert_eq!(status(&m).0, StatusKind::Error);
}

#[test]
fn a_new_stop_selects_its_thread_and_asks_for_its_code() {
    let mut m = demo_model();
    with_code(&mut m);
    let mut snap = demo_snapshot();
    snap.stopped_by = Some(PID + 3);
    for t in &mut snap.threads {
        if t.tid == PID + 3 {
            t.cause = Some(StopCause::SteppedOver);
        }
    }
    let fx = update(
        &mut m,
        Msg::Tracer(event(60, 6000, EventKind::AllStopped(Box::new(snap)))),
    );
    assert_eq!(m.threads.selected, Some(PID + 3));
    let pc = m.threads.selected_row().unwrap().regs.unwrap().rip();
    assert!(
        commands(&fx)
            .iter()
            .any(|c| matches!(c, Command::ReadMemory { addr, .. } if *addr < pc)),
        "the new thread's code is read: {fx:?}"
    );
}

#[test]
fn code_that_cannot_be_read_before_the_pc_is_read_from_it_then_said_unreadable() {
    use crate::tracer::error::TraceError;
    use crate::ui::msg::Effect;
    let mut m = demo_model();
    let (key, addr) = m
        .code
        .reading
        .expect("the selected thread's code is asked for");
    assert!(addr < key.pc);
    m.sent(95, Command::ReadMemory { addr, len: 512 });
    let err = TraceError::Unreadable {
        addr,
        len: 512,
        read: 0,
    };
    let fx = reply(&mut m, 95, Err(err.clone()));
    let retry = commands(&fx);
    assert_eq!(
        retry,
        vec![Command::ReadMemory {
            addr: key.pc,
            len: crate::ui::code_view::AHEAD as usize
        }]
    );
    // Not an error of the user's: the status keeps its words.
    assert_ne!(status(&m).0, StatusKind::Error);
    m.sent(96, retry[0].clone());
    let fx = reply(&mut m, 96, Err(err));
    let ask = fx
        .iter()
        .find_map(|f| match f {
            Effect::Disassemble(a) => Some(a.clone()),
            _ => None,
        })
        .expect("the worker names the place anyway");
    assert!(ask.read.bytes.is_empty());
    let none = |_: u64, _: &mut [u8]| 0;
    let view = crate::ui::code_view::build(&ask, &HotSymbols, &none);
    update(&mut m, Msg::Code(Box::new(view)));
    let t = crate::ui::panes::screen::code(&m);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(70, 6)).unwrap();
    term.draw(|f| f.render_widget(&t, f.area())).unwrap();
    let shown = format!("{}", term.backend());
    assert!(shown.contains("cannot be read"), "{shown}");
}
