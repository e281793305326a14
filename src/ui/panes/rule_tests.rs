//! Snapshot tests of what breakpoint rules add to the screen: the condition, ignore count and
//! log text in the Breakpoints pane, and a logpoint's line in the event log.

use super::draw_support::draw;
use super::screen;
use crate::tracer::event::{EventKind, LogLine};
use crate::tracer::RuleInfo;
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::focus::Focus;
use crate::ui::msg::Msg;

fn ruled_model() -> Model {
    let mut m = demo_model();
    let mut snap = demo_snapshot();
    snap.breakpoints[0].rule = Some(RuleInfo {
        condition: Some("rdi == 3".into()),
        ignore: 5,
        ignore_left: 2,
        log: None,
        trace: false,
        checked: 120,
    });
    snap.breakpoints[1].rule = Some(RuleInfo {
        log: Some("n={rdi:d} \x1b[31m".into()),
        ..RuleInfo::default()
    });
    update(
        &mut m,
        Msg::Tracer(event(80, 3000, EventKind::AllStopped(Box::new(snap)))),
    );
    m
}

#[test]
fn the_breakpoints_pane_shows_each_rule() {
    let mut m = ruled_model();
    m.screen.focus = Focus::Breakpoints;
    let t = draw(100, 5, screen::breakpoints(&m));
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_logpoint_line_goes_to_the_log_and_counts_a_hit() {
    let mut m = ruled_model();
    let addr = m.breakpoints.list[1].addr;
    let before = m.breakpoints.list[1].hits;
    let ev = event(
        90,
        3100,
        EventKind::Logged(LogLine {
            tid: PID + 1,
            addr,
            text: "n=7 \x1b[2J".into(),
        }),
    );
    update(&mut m, Msg::Tracer(ev));
    assert_eq!(m.breakpoints.list[1].hits, before + 1);
    let t = draw(100, 6, screen::events(&m));
    insta::assert_snapshot!(t.backend());
}
