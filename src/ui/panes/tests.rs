//! Snapshot tests: each pane and the whole screen drawn from hand-made models.

use super::breakpoints::BreakpointsPane;
use super::events::EventsPane;
use super::memory::MemoryPane;
use super::registers::RegistersPane;
use super::screen::ScreenView;
use super::status::StatusBar;
use super::threads::ThreadsPane;
use crate::tracer::error::TraceError;
use crate::tracer::event::{Command, EventKind};
use crate::tracer::thread::{StopCause, ThreadState};
use crate::ui::app::{update, Focus, Model, Msg};
use crate::ui::fixtures::*;
use crate::ui::theme;
use ratatui::backend::TestBackend;
use ratatui::widgets::Widget;
use ratatui::Terminal;

fn draw<W>(w: u16, h: u16, widget: W) -> Terminal<TestBackend>
where
    for<'a> &'a W: Widget,
{
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(&widget, f.area())).unwrap();
    t
}

fn screen(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    draw(w, h, ScreenView { model: &m })
}

fn text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn threads_pane() {
    let m = demo_model();
    insta::assert_snapshot!(draw(90, 11, ThreadsPane { model: &m }).backend());
}

#[test]
fn registers_pane_highlights_changes() {
    let m = demo_model();
    let t = draw(29, 31, RegistersPane { model: &m });
    insta::assert_snapshot!(t.backend());
    let b = t.backend().buffer();
    let row_of = |name: &str| {
        (0..b.area.height)
            .find(|y| {
                (0..8)
                    .map(|x| b[(1 + x, *y)].symbol())
                    .collect::<String>()
                    .trim()
                    == name
            })
            .unwrap()
    };
    assert_eq!(b[(12, row_of("rip"))].style().fg, theme::CHANGED.fg);
    assert_eq!(b[(12, row_of("rax"))].style().fg, theme::CHANGED.fg);
    assert_ne!(b[(12, row_of("rbx"))].style().fg, theme::CHANGED.fg);
}

#[test]
fn breakpoints_pane() {
    let mut m = demo_model();
    m.focus = Focus::Breakpoints;
    insta::assert_snapshot!(draw(34, 6, BreakpointsPane { model: &m }).backend());
}

#[test]
fn memory_pane_wide_and_narrow_with_unreadable_tail() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_5a3c_1e00, 40, 64);
    insta::assert_snapshot!(
        "memory_wide",
        draw(88, 6, MemoryPane { model: &m }).backend()
    );
    let narrow = draw(57, 10, MemoryPane { model: &m });
    insta::assert_snapshot!("memory_narrow", narrow.backend());
    assert!(text(&narrow).contains("?? ??"));
}

#[test]
fn memory_pane_before_an_address() {
    let m = demo_model();
    insta::assert_snapshot!(draw(60, 4, MemoryPane { model: &m }).backend());
}

#[test]
fn event_log_pane() {
    let m = demo_model();
    let t = draw(118, 12, EventsPane { model: &m });
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("SIGTRAP | PTRACE_EVENT_CLONE<<8"), "{s}");
    assert!(
        s.contains("running -> stopping breakpoint 0x55d0c0a01139"),
        "{s}"
    );
}

#[test]
fn status_bar_with_an_error() {
    let mut m = demo_model();
    m.sent(1, Command::Step { tid: PID + 1 });
    let e = TraceError::WrongState("thread 4243 is running".into());
    reply(&mut m, 1, Err(e));
    let t = draw(120, 2, StatusBar { model: &m });
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
    insta::assert_snapshot!(draw(80, 2, StatusBar { model: &m }).backend());
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
        "Registers 4243",
        "Memory rsp",
        "Breakpoints (2)",
        "Event log",
    ] {
        assert!(s.contains(title), "{title} missing:\n{s}");
    }
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
    m.focus = Focus::Log;
    insta::assert_snapshot!("compact_log_60x12", screen(&m, 60, 12).backend());
    let tiny = screen(&m, 20, 5);
    insta::assert_snapshot!("tiny_20x5", tiny.backend());
    assert!(text(&tiny).contains("terminal"));
    assert!(text(&tiny).contains("too small"));
    // Nothing panics at any size, with the help open or not.
    for help in [false, true] {
        m.help = help;
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
}
