//! Snapshot tests of what watchpoints and edits add to the screen: the watchpoint section of
//! the Breakpoints pane, hit and write lines in the event log, the `=` and `w` prompts.

use super::draw_support::{draw, text};
use super::screen;
use crate::tracer::debugregs::WatchKind;
use crate::tracer::event::{EventKind, WatchHit, WatchpointInfo, WriteRecord};
use crate::tracer::thread::StopCause;
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::focus::Focus;
use crate::ui::msg::Msg;

const COUNTER: u64 = 0x55d0_c0a0_4040;

fn watched_model() -> Model {
    let mut m = demo_model();
    let mut snap = demo_snapshot();
    snap.watchpoints = vec![
        WatchpointInfo {
            slot: 0,
            addr: COUNTER,
            len: 8,
            kind: WatchKind::Write,
            hits: 3,
            value: 0x2a,
        },
        WatchpointInfo {
            slot: 2,
            addr: 0x7ffd_5a3c_1e3c,
            len: 4,
            kind: WatchKind::ReadWrite,
            hits: 1,
            value: 0,
        },
    ];
    snap.threads[1].cause = Some(StopCause::Watchpoint { addr: COUNTER });
    let hit = WatchHit {
        tid: PID + 1,
        slot: 0,
        addr: COUNTER,
        len: 8,
        kind: WatchKind::Write,
        old: 0x29,
        new: 0x2a,
        pc: HOT,
        hits: 3,
    };
    let rec = WriteRecord::Memory {
        addr: COUNTER,
        old: vec![0x2a, 0, 0, 0, 0, 0, 0, 0],
        new: vec![7, 0, 0, 0, 0, 0, 0, 0],
    };
    let reg = WriteRecord::Register {
        tid: PID + 1,
        name: "eflags".into(),
        old: 0x246,
        asked: 0,
        now: 0x202,
    };
    for (i, k) in [
        EventKind::WatchpointHit(hit),
        EventKind::AllStopped(Box::new(snap)),
        EventKind::Wrote(rec),
        EventKind::Wrote(reg),
    ]
    .into_iter()
    .enumerate()
    {
        update(
            &mut m,
            Msg::Tracer(event(80 + i as u64, 8000 + i as u64, k)),
        );
    }
    m
}

#[test]
fn breakpoints_pane_with_watchpoints() {
    let mut m = watched_model();
    m.screen.focus = Focus::Breakpoints;
    update(&mut m, Msg::End);
    let t = draw(57, 7, screen::breakpoints(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("watchpoints 2/4"), "{s}");
    assert!(s.contains("DR0 0x55d0c0a04040 w  8 3 hits  = 0x2a"), "{s}");
    assert!(s.contains("DR2 0x7ffd5a3c1e3c rw 4 1 hit   = 0x0"), "{s}");
}

#[test]
fn event_log_with_a_watchpoint_hit_and_writes() {
    let m = watched_model();
    let t = draw(130, 7, screen::events(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(
        s.contains("watchpoint 0x55d0c0a04040 written by 4243 at <ptscope_demo_hot>: 0x29 -> 0x2a"),
        "{s}"
    );
    assert!(
        s.contains("wrote 8 bytes at 0x55d0c0a04040: 07 00 00 00 00 00 00 00 (was 2a 00 00 00 00 00 00 00)"),
        "{s}"
    );
    assert!(
        s.contains("wrote eflags = 0x0 (was 0x246); the kernel made it 0x202"),
        "{s}"
    );
}

#[test]
fn status_bar_edit_and_watch_prompts() {
    let mut m = demo_model();
    update(&mut m, Msg::EditPrompt);
    for c in "*(u32*)rsp = 7".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    insta::assert_snapshot!(
        "status_bar_edit_prompt",
        draw(100, 2, screen::status(&m)).backend()
    );
    update(&mut m, Msg::PromptCancel);
    update(&mut m, Msg::WatchPrompt);
    for c in "counter r".chars() {
        update(&mut m, Msg::PromptChar(c));
    }
    insta::assert_snapshot!(
        "status_bar_watch_prompt",
        draw(100, 2, screen::status(&m)).backend()
    );
}

#[test]
fn line_breakpoints_and_watchpoints_share_the_pane_and_d_deletes_either() {
    use crate::tracer::event::Command;
    const LINE_A: u64 = 0x55d0_c0a0_1500;
    const LINE_B: u64 = 0x55d0_c0a0_1800;
    let mut m = watched_model();
    for a in [LINE_A, LINE_B] {
        m.breakpoints.added(a);
    }
    m.breakpoints
        .add_line("steps.rs:34".into(), vec![LINE_A, LINE_B]);
    m.screen.focus = Focus::Breakpoints;
    update(&mut m, Msg::Home);
    let t = draw(57, 8, screen::breakpoints(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("Breakpoints (3)  watchpoints 2/4"), "{s}");
    assert!(s.contains("steps.rs:34 2 locations 0 hits"), "{s}");
    assert!(s.contains("DR2 0x7ffd5a3c1e3c rw 4"), "{s}");
    // Rows by lowest address: the hot function, the line (both its locations), another
    // address; then the watchpoints by debug register.
    update(&mut m, Msg::Down);
    let cmds = commands(&update(&mut m, Msg::DeleteBreakpoint));
    assert_eq!(
        cmds,
        vec![
            Command::RemoveBreakpoint { addr: LINE_A },
            Command::RemoveBreakpoint { addr: LINE_B },
        ]
    );
    update(&mut m, Msg::End);
    let cmds = commands(&update(&mut m, Msg::DeleteBreakpoint));
    assert_eq!(
        cmds,
        vec![Command::RemoveWatchpoint {
            addr: 0x7ffd_5a3c_1e3c
        }]
    );
    update(&mut m, Msg::Up);
    let cmds = commands(&update(&mut m, Msg::DeleteBreakpoint));
    assert_eq!(cmds, vec![Command::RemoveWatchpoint { addr: COUNTER }]);
}
