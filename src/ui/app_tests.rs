use super::*;
use crate::ui::fixtures::*;
use std::sync::Arc;

fn running_model() -> Model {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    m
}

fn status(m: &Model) -> (StatusKind, String) {
    let s = m.status.clone().expect("a status line");
    (s.kind, s.text)
}

#[test]
fn commands_follow_the_process_state() {
    // (model, message, commands expected, status kind, words the status must contain)
    let stopped = demo_model;
    let running = running_model;
    let exited = || {
        let mut m = demo_model();
        let k = EventKind::ProcessExited(ExitKind::Code { code: 3 });
        update(&mut m, Msg::Tracer(event(40, 4000, k)));
        m
    };
    type Case = (fn() -> Model, Msg, Vec<Command>, StatusKind, &'static str);
    let selected = PID + 1;
    let cases: Vec<Case> = vec![
        (
            running,
            Msg::Stop,
            vec![Command::Stop],
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
            vec![Command::Continue],
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
            vec![Command::Step { tid: selected }],
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
            vec![Command::RemoveBreakpoint { addr: HOT }],
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
    ];
    for (make, msg, want, kind, words) in cases {
        let mut m = make();
        let label = format!("{msg:?} in {:?}", m.process);
        assert_eq!(update(&mut m, msg), want, "{label}");
        let (k, text) = status(&m);
        assert_eq!(k, kind, "{label}: {text}");
        assert!(text.contains(words), "{label}: {text:?} lacks {words:?}");
    }
}

#[test]
fn the_stopping_thread_is_selected_and_marked() {
    let m = demo_model();
    assert_eq!(m.stopped_by, Some(PID + 1));
    assert_eq!(m.selected, Some(PID + 1));
    assert_eq!(m.process, ProcessState::Stopped);
    assert_eq!(m.threads.len(), 7);
    assert_eq!(m.breakpoints.len(), 2);
}

#[test]
fn step_on_a_thread_that_is_not_stopped_says_why() {
    let mut m = demo_model();
    m.selected = Some(PID + 6);
    assert!(update(&mut m, Msg::Step).is_empty());
    let (k, text) = status(&m);
    assert_eq!(k, StatusKind::Error);
    assert!(text.contains("is exiting"), "{text}");
}

#[test]
fn changed_registers_are_remembered_per_stop() {
    let m = demo_model();
    let row = &m.threads[&(PID + 1)];
    let (now, before) = (row.regs.unwrap(), row.prev_regs.unwrap());
    assert_eq!(now.rip(), HOT);
    assert_eq!(before.rip(), HOT - 0x10);
    // The same registers again (a refresh) keep the highlight.
    let mut m2 = m.clone();
    update(
        &mut m2,
        Msg::Tracer(event(
            50,
            5000,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    assert_eq!(m2.threads[&(PID + 1)].prev_regs, Some(before));
}

#[test]
fn step_reply_refreshes_registers_and_memory() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_0000_0000, 64, 64);
    let cmds = update(&mut m, Msg::Step);
    m.sent(7, cmds[0].clone());
    let after = reply(&mut m, 7, Ok(Reply::Done));
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
fn memory_prompt_accepts_registers_and_pages() {
    let mut m = demo_model();
    update(&mut m, Msg::MemoryPrompt);
    for c in "rsp-0x40".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    let cmds = update(&mut m, Msg::PromptSubmit);
    let rsp = m.threads[&(PID + 1)].regs.unwrap().rsp();
    let rows = m.screen().memory.map(layout::inner_height).unwrap();
    let per_row = bytes_per_row(m.screen().memory.unwrap().width - 2);
    assert_eq!(
        cmds,
        vec![Command::ReadMemory {
            addr: rsp - 0x40,
            len: rows * per_row
        }]
    );
    assert_eq!(m.focus, Focus::Memory);
    assert_eq!(m.memory.expr, "rsp-0x40");
    let down = update(&mut m, Msg::PageDown);
    let page = (rows * per_row) as u64;
    assert_eq!(
        down,
        vec![Command::ReadMemory {
            addr: rsp - 0x40 + page,
            len: rows * per_row
        }]
    );
    update(&mut m, Msg::PageUp);
    let up = update(&mut m, Msg::Up);
    assert_eq!(
        up,
        vec![Command::ReadMemory {
            addr: rsp - 0x40 - per_row as u64,
            len: rows * per_row
        }]
    );
}

#[test]
fn a_stale_memory_reply_is_ignored_and_a_failed_one_shows_unknown_bytes() {
    let mut m = demo_model();
    m.memory.addr = Some(0x2000);
    m.sent(
        1,
        Command::ReadMemory {
            addr: 0x1000,
            len: 16,
        },
    );
    let stale = MemoryRead {
        addr: 0x1000,
        bytes: vec![1; 16],
        requested: 16,
    };
    reply(&mut m, 1, Ok(Reply::Memory(stale)));
    assert_eq!(m.memory.data, None);
    m.sent(
        2,
        Command::ReadMemory {
            addr: 0x2000,
            len: 32,
        },
    );
    reply(
        &mut m,
        2,
        Err(TraceError::Unreadable {
            addr: 0x2000,
            len: 32,
            read: 0,
        }),
    );
    let d = m.memory.data.clone().unwrap();
    assert_eq!((d.bytes.len(), d.requested), (0, 32));
    assert_eq!(status(&m).0, StatusKind::Error);
}

#[test]
fn breakpoint_prompt_adds_and_the_reply_lists_it() {
    let mut m = running_model();
    update(&mut m, Msg::BreakpointPrompt);
    assert_eq!(
        m.prompt.as_ref().map(|p| p.kind),
        Some(PromptKind::Breakpoint)
    );
    for c in "0x401136".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    update(&mut m, Msg::PromptBackspace);
    update(&mut m, Msg::PromptChar('6'));
    let cmds = update(&mut m, Msg::PromptSubmit);
    assert_eq!(cmds, vec![Command::AddBreakpoint { addr: 0x401136 }]);
    assert!(m.prompt.is_none());
    m.sent(3, cmds[0].clone());
    reply(&mut m, 3, Ok(Reply::Done));
    assert!(m
        .breakpoints
        .iter()
        .any(|b| b.addr == 0x401136 && b.hits == 0));
    // A known name works too; garbage says why and sends nothing.
    update(&mut m, Msg::BreakpointPrompt);
    "ptscope_demo_hot".chars().for_each(|c| {
        update(&mut m, Msg::PromptChar(c));
    });
    assert_eq!(
        update(&mut m, Msg::PromptSubmit),
        vec![Command::AddBreakpoint { addr: HOT }]
    );
    update(&mut m, Msg::BreakpointPrompt);
    update(&mut m, Msg::PromptChar('z'));
    assert!(update(&mut m, Msg::PromptSubmit).is_empty());
    assert_eq!(status(&m).0, StatusKind::Error);
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
fn births_and_deaths_update_the_table_and_the_log() {
    let mut m = running_model();
    let before = m.log.len();
    let born = EventKind::Transition(Transition {
        tid: 9000,
        old: ThreadState::Running,
        new: ThreadState::Running,
        cause: None,
        status: None,
        note: "new thread",
    });
    update(&mut m, Msg::Tracer(event(60, 6000, born)));
    assert!(m.threads.contains_key(&9000));
    assert!(m.names_stale);
    assert_eq!(update(&mut m, Msg::Tick), vec![Command::Snapshot]);
    let died = EventKind::Transition(Transition {
        tid: 9000,
        old: ThreadState::Exiting,
        new: ThreadState::Exited,
        cause: None,
        status: Some(RawStatus::new(0)),
        note: "reaped",
    });
    update(&mut m, Msg::Tracer(event(61, 6100, died)));
    assert!(!m.threads.contains_key(&9000));
    assert_eq!(m.log.len(), before + 2);
}

#[test]
fn the_log_is_a_ring_and_scrolling_back_holds_still() {
    let mut m = running_model();
    for i in 0..LOG_CAPACITY + 10 {
        let k = EventKind::Note {
            tid: None,
            text: format!("line {i}"),
        };
        update(&mut m, Msg::Tracer(event(i as u64, i as u64, k)));
    }
    assert_eq!(m.log.len(), LOG_CAPACITY);
    m.focus = Focus::Log;
    update(&mut m, Msg::Up);
    update(&mut m, Msg::Up);
    assert_eq!(m.log_back, 2);
    update(
        &mut m,
        Msg::Tracer(event(
            1,
            1,
            EventKind::Note {
                tid: None,
                text: "new".into(),
            },
        )),
    );
    assert_eq!(m.log_back, 3, "the lines in view stay in view");
    update(&mut m, Msg::End);
    assert_eq!(m.log_back, 0);
}

#[test]
fn focus_cycles_both_ways() {
    let mut m = demo_model();
    let mut seen = vec![m.focus];
    for _ in 0..5 {
        update(&mut m, Msg::FocusNext);
        seen.push(m.focus);
    }
    assert_eq!(seen.first(), seen.last());
    assert_eq!(seen[1], Focus::Registers);
    update(&mut m, Msg::FocusPrev);
    assert_eq!(m.focus, Focus::Log);
}

#[test]
fn selection_scrolls_through_hundreds_of_threads() {
    let mut m = demo_model();
    let mut snap = demo_snapshot();
    snap.threads = (0..500).map(|i| fixtures_thread(PID + i)).collect();
    snap.stopped_by = None;
    update(
        &mut m,
        Msg::Tracer(event(70, 7000, EventKind::AllStopped(Box::new(snap)))),
    );
    m.selected = Some(PID);
    m.threads_offset = 0;
    let rows = m.threads_rows();
    for _ in 0..rows + 5 {
        update(&mut m, Msg::Down);
    }
    assert_eq!(m.selected, Some(PID + rows as i32 + 5));
    assert_eq!(m.threads_offset, 6);
    update(&mut m, Msg::Up);
    assert_eq!(
        m.threads_offset, 6,
        "moving up inside the window does not scroll"
    );
    update(&mut m, Msg::End);
    assert_eq!(m.selected, Some(PID + 499));
    update(&mut m, Msg::Home);
    assert_eq!((m.selected, m.threads_offset), (Some(PID), 0));
}

fn fixtures_thread(tid: Tid) -> ThreadInfo {
    thread(tid, "w", ThreadState::Stopped, Some(StopCause::Stopped))
}

#[test]
fn signals_quit() {
    let mut m = running_model();
    update(&mut m, Msg::Signal("SIGTERM"));
    assert!(m.quit);
}

#[test]
fn unknown_names_go_to_the_resolver() {
    let mut m = demo_model();
    m.resolver = Some(Resolver(Arc::new(|text: &str| match text {
        "read+0x10" => Ok(0x7f00_0000_1010),
        other => Err(format!("no symbol {other}")),
    })));
    for (input, want) in [
        ("read+0x10", Some(0x7f00_0000_1010)),
        ("0x1000", Some(0x1000)),
        ("ptscope_demo_hot", Some(HOT)),
        ("nosuch", None),
    ] {
        update(&mut m, Msg::BreakpointPrompt);
        input.chars().for_each(|c| {
            update(&mut m, Msg::PromptChar(c));
        });
        let cmds = update(&mut m, Msg::PromptSubmit);
        match want {
            Some(addr) => assert_eq!(cmds, vec![Command::AddBreakpoint { addr }], "{input}"),
            None => {
                assert!(cmds.is_empty());
                assert_eq!(
                    status(&m),
                    (StatusKind::Error, "no symbol nosuch".to_string())
                );
            }
        }
    }
}

#[test]
fn pcs_are_asked_for_once_and_forgotten_at_exec() {
    let mut m = Model::new(PID, "demo", true);
    let stop = |m: &mut Model| {
        let k = EventKind::AllStopped(Box::new(demo_snapshot()));
        update(m, Msg::Tracer(event(1, 1, k)));
    };
    stop(&mut m);
    // Two distinct PCs among seven threads.
    assert_eq!(m.take_unnamed_pcs(), vec![HOT, 0x7f3a_1c29_5d7e]);
    assert!(m.take_unnamed_pcs().is_empty(), "asked already");
    update(
        &mut m,
        Msg::PcNames(vec![
            (HOT, Some("hot\x1b[1m".into())),
            (0x7f3a_1c29_5d7e, None),
        ]),
    );
    assert_eq!(m.pc_name(HOT), Some("hot\\x1b[1m"));
    assert_eq!(m.pc_name(0x7f3a_1c29_5d7e), None);
    stop(&mut m);
    assert!(m.take_unnamed_pcs().is_empty(), "named already");
    let exec = EventKind::Transition(Transition {
        tid: PID,
        old: ThreadState::Running,
        new: ThreadState::Stopped,
        cause: Some(StopCause::Exec),
        status: None,
        note: "exec",
    });
    update(&mut m, Msg::Tracer(event(2, 2, exec)));
    // A late answer from before the exec is not taken.
    update(&mut m, Msg::PcNames(vec![(HOT, Some("old".into()))]));
    assert_eq!(m.pc_name(HOT), None);
    assert_eq!(
        m.take_unnamed_pcs(),
        vec![HOT, 0x7f3a_1c29_5d7e],
        "asked again after exec"
    );
}
