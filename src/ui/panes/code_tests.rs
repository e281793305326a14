//! Snapshot tests of the code and source panes, from fixed bytes (`code_fixtures.rs`): the pc
//! and a breakpoint on one line, calls named, the original byte under our breakpoint decoded
//! (never an int3), the source line marked; and the whole screen at 120x35 and 200x60.

use super::draw_support::{draw, text};
use super::screen::{self, ScreenView};
use crate::tracer::event::EventKind;
use crate::ui::app::{update, Model};
use crate::ui::code_fixtures::*;
use crate::ui::fixtures::*;
use crate::ui::msg::Msg;
use std::sync::Arc;

fn stopped_in_code() -> Model {
    let mut m = demo_model();
    with_code(&mut m);
    m
}

fn line_with<'a>(s: &'a str, what: &str) -> &'a str {
    s.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what}:\n{s}"))
}

#[test]
fn code_pane_at_a_breakpoint() {
    let m = stopped_in_code();
    let t = draw(84, 12, screen::code(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    let pc = line_with(&s, "=>");
    assert!(pc.contains(&format!("{HOT:#x}")), "{s}");
    assert!(pc.contains("●"), "the breakpoint at the pc is marked: {s}");
    assert!(
        pc.contains("48 83 ec 48") && pc.contains("sub rsp,0x48"),
        "{s}"
    );
    assert!(!s.contains("int3"), "our int3 is never shown:\n{s}");
    assert!(
        s.contains("<ptscope_demo_hot>:"),
        "the function's start: {s}"
    );
    assert!(s.contains("call <ptscope::demo::service::helper>"), "{s}");
    assert!(s.contains("ptscope_demo_hot (ptscope) · Intel"), "{s}");
    // Two instructions before the pc are in view: a quarter of the pane.
    let pc_y = s.lines().position(|l| l.contains("=>")).unwrap();
    assert!(pc_y >= 2, "{s}");
}

#[test]
fn code_pane_in_att_syntax_and_scrolled() {
    let mut m = demo_model();
    update(&mut m, Msg::ToggleSyntax);
    assert_eq!(
        m.status.line.as_ref().unwrap().text,
        "code in AT&T syntax (a: Intel)"
    );
    with_code(&mut m);
    m.screen.focus = crate::ui::focus::Focus::Code;
    let t = draw(84, 8, screen::code(&m));
    let s = text(&t);
    assert!(s.contains("sub $0x48,%rsp") && s.contains("AT&T"), "{s}");
    // Scrolling moves the window, not the pc.
    update(&mut m, Msg::Down);
    update(&mut m, Msg::Down);
    let s2 = text(&draw(84, 8, screen::code(&m)));
    assert_ne!(s, s2, "scrolled");
    assert!(s2.contains("=>") || !s2.contains(&format!("{HOT:#x}")));
}

#[test]
fn source_pane_marks_the_line_and_its_breakpoint() {
    let m = stopped_in_code();
    let t = draw(70, 8, screen::source(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    let cur = line_with(&s, "=>");
    assert!(
        cur.contains("17") && cur.contains("pub extern \"C\" fn ptscope_demo_hot"),
        "{s}"
    );
    assert!(cur.contains("●"), "the breakpoint on the line: {s}");
    assert!(s.contains("Source src/demo/service.rs:17"), "{s}");
}

#[test]
fn source_pane_says_when_the_file_is_not_here_and_when_there_is_no_line() {
    let mut m = demo_model();
    let why = format!("source not on this machine: {SOURCE_PATH}");
    with_code_where(&mut m, Err(why.clone()));
    let s = text(&draw(70, 6, screen::source(&m)));
    assert!(
        s.replace(['│', '\n'], "")
            .contains("source not on this machine"),
        "{s}"
    );
    // After a resume, what is shown is marked as the last stop's.
    update(&mut m, Msg::Tracer(event(50, 5000, EventKind::Resumed)));
    let s = text(&draw(84, 8, screen::code(&m)));
    assert!(s.contains("as of last stop"), "{s}");
}

#[test]
fn whole_screen_stopped_in_code_120x35() {
    let mut m = stopped_in_code();
    update(&mut m, Msg::Resize(120, 35));
    let t = draw(120, 35, ScreenView { model: &m });
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("sub rsp,0x48") && s.contains("=>17"), "{s}");
    assert!(
        s.contains("Registers 4243") && s.contains("Backtrace 4243"),
        "{s}"
    );
    assert!(s.contains("Event log"), "{s}");
}

#[test]
fn whole_screen_stopped_in_code_200x60() {
    let mut m = stopped_in_code();
    update(&mut m, Msg::Resize(200, 60));
    let t = draw(200, 60, ScreenView { model: &m });
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    // Code and source side by side: their titles on one row.
    let row = line_with(&s, "Code 4243");
    assert!(row.contains("Source src/demo/service.rs:17"), "{s}");
    assert!(s.contains("sub rsp,0x48") && s.contains("=>17"), "{s}");
    assert!(s.contains("Memory") && s.contains("Breakpoints (2)"), "{s}");
}

#[test]
fn hostile_source_text_is_never_drawn_raw() {
    let mut m = demo_model();
    let mut file = source_file();
    file.lines[16] = crate::text::sanitize("pub fn x() {} \x1b[2J\x1b]0;owned\x07");
    with_code_where(&mut m, Ok(Arc::new(file)));
    let t = draw(70, 8, screen::source(&m));
    for cell in t.backend().buffer().content() {
        assert!(!cell.symbol().chars().any(|c| c.is_control()));
    }
    assert!(text(&t).contains("\\x1b[2J"));
}
