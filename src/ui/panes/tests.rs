//! Snapshot tests: each pane and the whole screen drawn from hand-made models.

use super::draw_support::{draw, screen, text};
use super::screen::{self};
use crate::tracer::error::TraceError;
use crate::tracer::event::{Command, EventKind};
use crate::tracer::thread::{StopCause, ThreadState};
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::focus::Focus;
use crate::ui::msg::Msg;
use crate::ui::theme;

#[test]
fn threads_pane() {
    let m = demo_model();
    let t = draw(120, 11, screen::threads(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("before the stop"), "{s}");
    assert!(s.contains("futex_wait_queue  futex(0x7f.."), "{s}");
    assert!(s.contains("read(3, 0x7f.., 16)"), "{s}");
    assert!(
        !s.contains("0x7f3a1c295d7e"),
        "no room for the raw PC:\n{s}"
    );
    assert!(s.contains(" D io_schedule"), "{s}");
    // Read after our stop: not shown as if it were the thread's own state.
    assert!(!s.contains("ptrace_stop"), "{s}");
}

#[test]
fn threads_pane_narrow_drops_the_raw_pc_first() {
    let m = demo_model();
    let t = draw(90, 11, screen::threads(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(!s.contains("0x7f3a1c295d7e"), "PC column dropped:\n{s}");
    assert!(s.contains("SYSCALL") && s.contains("futex("), "{s}");
}

#[test]
fn threads_pane_running_says_live_and_long_calls_shrink() {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(40, 4000, EventKind::Resumed)));
    let mut views = crate::ui::fixtures::kernel_views();
    // A call longer than any column, with hostile bytes in wchan.
    views[0].syscall = crate::procinfo::SyscallState::parse(
        "7 0x7f3a18000b70 0xffffffffffffffff 0x7fffffffffffffff 0x0 0x0 0x0 0x1 0x2",
    );
    views[0].wchan = Some("do_\x1b[31mpoll\x07".into());
    update(&mut m, Msg::Kernel(views));
    let t = draw(120, 11, screen::threads(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("kernel view: live"), "{s}");
    assert!(s.contains("poll("), "{s}");
    for c in t.backend().buffer().content() {
        assert!(!c.symbol().chars().any(|ch| ch.is_control()));
    }
}

#[test]
fn backtrace_pane_frames_and_hostile_names() {
    let mut m = demo_model();
    m.screen.focus = Focus::Backtrace;
    let t = draw(100, 9, screen::backtrace(&m));
    insta::assert_snapshot!("backtrace_pane", t.backend());
    let s = text(&t);
    let c = s.find("ptscope_chain_c").unwrap();
    let b = s.find("ptscope_chain_b").unwrap();
    let a = s.find("ptscope_chain_a").unwrap();
    assert!(c < b && b < a, "innermost first:\n{s}");
    assert!(s.contains("chain.rs:21"));

    // Names from a hostile binary, sanitised on the worker side; a walk that ended early.
    let mut bt = crate::symbols::Backtrace {
        frames: Vec::new(),
        stop: crate::symbols::UnwindStop::Unreadable,
    };
    bt.frames.push(crate::symbols::Frame {
        pc: 0x401136,
        sp: 0x7ffd_0000,
        kind: crate::symbols::FrameKind::Top,
        location: crate::symbols::Location {
            addr: 0x401136,
            module: Some("/tmp/\x1b]0;evil\x07.so".into()),
            function: Some("\x1b[2Jclear_screen\u{9b}".into()),
            offset: 6,
            file: Some("/src/\x1b[5mblink.c".into()),
            line: Some(7),
            mapped: true,
            ..Default::default()
        },
    });
    let view = crate::ui::inspect::BacktraceView::from_backtrace(m.backtrace.gen, PID + 1, &bt);
    update(&mut m, Msg::Backtrace(view));
    let t = draw(100, 5, screen::backtrace(&m));
    insta::assert_snapshot!("backtrace_pane_hostile", t.backend());
    for cell in t.backend().buffer().content() {
        assert!(!cell.symbol().chars().any(|ch| ch.is_control()));
    }
    assert!(text(&t).contains("stack walk ended: unreadable stack"));

    // After a resume the last stack stays, marked as old.
    update(&mut m, Msg::Tracer(event(40, 4000, EventKind::Resumed)));
    let t = draw(100, 5, screen::backtrace(&m));
    assert!(text(&t).contains("as of last stop"), "{}", text(&t));
}

#[test]
fn registers_pane_highlights_changes() {
    let m = demo_model();
    let t = draw(57, 18, screen::registers(&m));
    insta::assert_snapshot!(t.backend());
    let b = t.backend().buffer();
    // (column where the value starts, row) of a register in either column.
    let at = |name: &str| {
        (0..b.area.height)
            .flat_map(|y| [(1u16, y), (29u16, y)])
            .find(|(x, y)| {
                (0..8)
                    .map(|i| b[(x + i, *y)].symbol())
                    .collect::<String>()
                    .trim()
                    == name
            })
            .map(|(x, y)| (x + 11, y))
            .unwrap_or_else(|| panic!("{name} not shown"))
    };
    assert_eq!(b[at("rip")].style().fg, theme::CHANGED.fg);
    assert_eq!(b[at("rax")].style().fg, theme::CHANGED.fg);
    assert_ne!(b[at("rbx")].style().fg, theme::CHANGED.fg);
}

#[test]
fn breakpoints_pane() {
    let mut m = demo_model();
    m.screen.focus = Focus::Breakpoints;
    let t = draw(57, 6, screen::breakpoints(&m));
    insta::assert_snapshot!(t.backend());
    assert!(text(&t).contains("0x55d0c0a01139 3 hits   ptscope_demo_hot"));
}

#[test]
fn memory_pane_wide_and_narrow_with_unreadable_tail() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_5a3c_1e00, 40, 64);
    insta::assert_snapshot!("memory_wide", draw(88, 6, screen::memory(&m)).backend());
    let narrow = draw(57, 10, screen::memory(&m));
    insta::assert_snapshot!("memory_narrow", narrow.backend());
    assert!(text(&narrow).contains("?? ??"));
}

#[test]
fn memory_pane_before_an_address() {
    let m = demo_model();
    insta::assert_snapshot!(draw(60, 4, screen::memory(&m)).backend());
}

#[test]
fn event_log_pane() {
    let m = demo_model();
    let t = draw(118, 12, screen::events(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("SIGTRAP | PTRACE_EVENT_CLONE<<8"), "{s}");
    assert!(
        s.contains("running -> stopping breakpoint 0x55d0c0a01139 <ptscope_demo_hot>"),
        "{s}"
    );
}

#[test]
fn status_bar_with_an_error() {
    let mut m = demo_model();
    m.sent(1, Command::Step { tid: PID + 1 });
    let e = TraceError::WrongState("thread 4243 is running".into());
    reply(&mut m, 1, Err(e));
    let t = draw(120, 2, screen::status(&m));
    insta::assert_snapshot!(t.backend());
    let b = t.backend().buffer();
    let x = text(&t).find("thread 4243").unwrap() as u16;
    assert_eq!(b[(x, 0)].style().bg, theme::ERROR.bg);
}

#[test]
fn status_bar_prompt() {
    let mut m = demo_model();
    update(&mut m, Msg::BreakpointPrompt);
    for c in "0x4011".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    insta::assert_snapshot!(draw(80, 2, screen::status(&m)).backend());
}

#[test]
fn whole_screen_normal() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_5a3c_1e00, 128, 128);
    let t = screen(&m, 120, 35);
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    for title in [
        "Threads (7)",
        "Code 4243",
        "Source",
        "Backtrace 4243 (6 frames)",
        "Registers 4243",
        "Breakpoints (2)",
        "Event log",
    ] {
        assert!(s.contains(title), "{title} missing:\n{s}");
    }
    // At this height the memory pane shows in the code panes' place while it has the focus.
    m.screen.focus = Focus::Memory;
    let s = text(&screen(&m, 120, 35));
    assert!(s.contains("Memory rsp") && !s.contains("Code 4243"), "{s}");
}

#[test]
fn whole_screen_many_threads() {
    let mut m = demo_model();
    let mut snap = demo_snapshot();
    snap.threads = (0..1000)
        .map(|i| {
            let cause = match i % 4 {
                0 => StopCause::Stopped,
                1 => StopCause::Signal { sig: libc::SIGUSR1 },
                2 => StopCause::ThreadCreated {
                    tid: PID + 2000 + i,
                },
                _ => StopCause::GroupStop { sig: libc::SIGSTOP },
            };
            thread(
                PID + i,
                &format!("pool-{i}"),
                ThreadState::Stopped,
                Some(cause),
            )
        })
        .collect();
    snap.stopped_by = Some(PID + 500);
    update(
        &mut m,
        Msg::Tracer(event(30, 3000, EventKind::AllStopped(Box::new(snap)))),
    );
    // The stopping thread is selected and scrolled into view.
    let t = screen(&m, 120, 35);
    insta::assert_snapshot!(t.backend());
    assert!(text(&t).contains("> 4742"), "{}", text(&t));
}

#[test]
fn whole_screen_hostile_names() {
    let mut m = Model::new(PID, "evil\x1b]0;pwned\x07 --flag\r\n", false);
    let mut snap = demo_snapshot();
    snap.threads[0].name = "\x1b[2J\x1b[31mred".into();
    snap.threads[1].name = "bell\x07\u{9b}6n".into();
    update(
        &mut m,
        Msg::Tracer(event(1, 10, EventKind::AllStopped(Box::new(snap)))),
    );
    let k = EventKind::Note {
        tid: None,
        text: "child \x1b[1mbold".into(),
    };
    update(&mut m, Msg::Tracer(event(2, 20, k)));
    let t = screen(&m, 120, 35);
    insta::assert_snapshot!(t.backend());
    let b = t.backend().buffer();
    for c in b.content() {
        assert!(
            !c.symbol().chars().any(|ch| ch.is_control()),
            "control char {:?}",
            c.symbol()
        );
    }
    assert!(text(&t).contains("\\x1b[2J\\x1b[31m"));
    assert!(text(&t).contains("evil\\x1b]0;pwned\\x07"));
}

#[test]
fn whole_screen_error_in_status_bar() {
    let mut m = demo_model();
    m.sent(9, Command::AddBreakpoint { addr: 0x1234 });
    reply(&mut m, 9, Err(TraceError::NotMapped(0x1234)));
    let t = screen(&m, 120, 35);
    insta::assert_snapshot!(t.backend());
    assert!(text(&t).contains("address 0x1234 is not mapped in the process"));
}

#[test]
fn whole_screen_compact_and_tiny() {
    let mut m = demo_model();
    insta::assert_snapshot!("compact_80x24", screen(&m, 80, 24).backend());
    m.screen.focus = Focus::Log;
    insta::assert_snapshot!("compact_log_60x12", screen(&m, 60, 12).backend());
    let tiny = screen(&m, 20, 5);
    insta::assert_snapshot!("tiny_20x5", tiny.backend());
    assert!(text(&tiny).contains("terminal"));
    assert!(text(&tiny).contains("too small"));
    // Nothing panics at any size, with the help open or not.
    for help in [false, true] {
        m.screen.help = help;
        for w in 0..70 {
            for h in 0..25 {
                screen(&m, w, h);
            }
        }
    }
}

#[test]
fn help_overlay() {
    let mut m = demo_model();
    update(&mut m, Msg::ToggleHelp);
    let t = screen(&m, 120, 35);
    insta::assert_snapshot!(t.backend());
    assert!(text(&t).contains("step the selected thread"));
    assert!(
        text(&t).contains("  G            group the threads by identical stack"),
        "? lists G"
    );
}

#[test]
fn memory_title_names_the_symbol_at_the_address() {
    let mut m = demo_model();
    with_memory(&mut m, HOT, 32, 32);
    m.memory.expr = "0x55d0c0a01139".into();
    let t = draw(88, 4, screen::memory(&m));
    insta::assert_snapshot!(t.backend());
    assert!(text(&t).contains("Memory 0x55d0c0a01139 = 0x55d0c0a01139 <ptscope_demo_hot>"));
    // Typed by name: the name is not repeated.
    m.memory.expr = "ptscope_demo_hot".into();
    let t = draw(88, 4, screen::memory(&m));
    assert!(!text(&t).contains("<ptscope_demo_hot>"), "{}", text(&t));
}
