//! The threads table through the messages that change it: snapshots, births and deaths,
//! scrolling, the kernel view, and the names of the PCs.

use super::*;
use crate::tracer::event::{BreakpointInfo, EventKind};
use crate::tracer::status::RawStatus;
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::msg::{Effect, Msg};

fn running_model() -> Model {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    m
}

#[test]
fn changed_registers_are_remembered_per_stop() {
    let m = demo_model();
    let row = &m.threads.rows[&(PID + 1)];
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
    assert_eq!(m2.threads.rows[&(PID + 1)].prev_regs, Some(before));
}

#[test]
fn births_and_deaths_update_the_table_and_the_log() {
    let mut m = running_model();
    let before = m.log.lines.len();
    let born = EventKind::Transition(Transition {
        tid: 9000,
        old: ThreadState::Running,
        new: ThreadState::Running,
        cause: None,
        status: None,
        note: "new thread",
    });
    update(&mut m, Msg::Tracer(event(60, 6000, born)));
    assert!(m.threads.rows.contains_key(&9000));
    assert!(m.threads.births_unnamed);
    assert_eq!(
        commands(&update(&mut m, Msg::Tick)),
        vec![crate::tracer::event::Command::Snapshot]
    );
    let died = EventKind::Transition(Transition {
        tid: 9000,
        old: ThreadState::Exiting,
        new: ThreadState::Exited,
        cause: None,
        status: Some(RawStatus::new(0)),
        note: "reaped",
    });
    update(&mut m, Msg::Tracer(event(61, 6100, died)));
    assert!(!m.threads.rows.contains_key(&9000));
    assert_eq!(m.log.lines.len(), before + 2);
}

fn fixtures_thread(tid: Tid) -> ThreadInfo {
    thread(tid, "w", ThreadState::Stopped, Some(StopCause::Stopped))
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
    m.threads.selected = Some(PID);
    m.threads.offset = 0;
    let rows = m.screen.layout().threads_rows();
    for _ in 0..rows + 5 {
        update(&mut m, Msg::Down);
    }
    assert_eq!(m.threads.selected, Some(PID + rows as i32 + 5));
    assert_eq!(m.threads.offset, 6);
    update(&mut m, Msg::Up);
    assert_eq!(
        m.threads.offset, 6,
        "moving up inside the window does not scroll"
    );
    update(&mut m, Msg::End);
    assert_eq!(m.threads.selected, Some(PID + 499));
    update(&mut m, Msg::Home);
    assert_eq!((m.threads.selected, m.threads.offset), (Some(PID), 0));
}

#[test]
fn the_selection_survives_its_thread_and_follows_the_stopper() {
    let mut t = ThreadsModel::default();
    let mut snap = demo_snapshot();
    t.apply_snapshot(&snap, 10);
    assert_eq!(
        t.selected,
        Some(PID + 1),
        "the thread that stopped the rest"
    );
    snap.threads.retain(|x| x.tid != PID + 1);
    snap.stopped_by = None;
    t.apply_snapshot(&snap, 10);
    assert_eq!(t.selected, Some(PID), "gone: the first row");
    t.move_selection(-5, 10);
    assert_eq!(t.selected_index(), Some(0));
}

#[test]
fn readings_of_our_own_stop_keep_the_view_from_before() {
    let mut m = demo_model();
    let before = m.threads.kernel[&(PID + 2)].clone();
    assert_eq!(before.wchan.as_deref(), Some("futex_wait_queue"));
    let mut after = kernel_views();
    for v in after.iter_mut() {
        v.state = 't';
        v.wchan = Some("ptrace_stop".into());
    }
    update(&mut m, Msg::Kernel(after));
    assert_eq!(m.threads.kernel[&(PID + 2)], before);
    // Never seen running: nothing to show rather than our `t`.
    assert!(!m.threads.kernel.contains_key(&(PID + 5)));
    // Hostile text from /proc is sanitised.
    let mut odd = kernel_views();
    odd[0].wchan = Some("\x1b[2Jx".into());
    update(&mut m, Msg::Kernel(odd));
    assert_eq!(m.threads.kernel[&PID].wchan.as_deref(), Some("\\x1b[2Jx"));
    // An unreadable /proc (the process is gone) keeps the last picture.
    update(&mut m, Msg::Kernel(Vec::new()));
    assert_eq!(m.threads.kernel[&PID].wchan.as_deref(), Some("\\x1b[2Jx"));
}

#[test]
fn pcs_are_asked_for_once_and_forgotten_at_exec() {
    let mut m = Model::new(PID, "demo", true);
    let stop = |m: &mut Model| {
        let k = EventKind::AllStopped(Box::new(demo_snapshot()));
        name_asks(&update(m, Msg::Tracer(event(1, 1, k))))
    };
    // Two distinct PCs among seven threads, and the second breakpoint's address.
    assert_eq!(stop(&mut m), vec![HOT, 0x55d0_c0a0_2000, 0x7f3a_1c29_5d7e]);
    assert!(stop(&mut m).is_empty(), "asked already");
    update(
        &mut m,
        Msg::PcNames {
            image: 0,
            names: vec![(HOT, Some("hot\x1b[1m".into())), (0x7f3a_1c29_5d7e, None)],
        },
    );
    assert_eq!(m.threads.names.get(HOT), Some("hot\\x1b[1m"));
    assert_eq!(m.threads.names.get(0x7f3a_1c29_5d7e), None);
    assert!(stop(&mut m).is_empty(), "named already");
    let exec = EventKind::Transition(Transition {
        tid: PID,
        old: ThreadState::Running,
        new: ThreadState::Stopped,
        cause: Some(StopCause::Exec),
        status: None,
        note: "exec",
    });
    let after_exec = name_asks(&update(&mut m, Msg::Tracer(event(2, 2, exec))));
    // A late answer from before the exec is not taken.
    update(
        &mut m,
        Msg::PcNames {
            image: 0,
            names: vec![(HOT, Some("old".into()))],
        },
    );
    assert_eq!(m.threads.names.get(HOT), None);
    assert_eq!(
        after_exec,
        vec![HOT, 0x55d0_c0a0_2000, 0x7f3a_1c29_5d7e],
        "asked again after exec"
    );
}

#[test]
fn breakpoints_memory_and_log_addresses_are_named() {
    let mut m = Model::new(PID, "demo", true);
    m.memory.addr = Some(0x40_2000);
    m.breakpoints.list.push(BreakpointInfo {
        addr: 0x40_3000,
        hits: 0,
        rule: None,
    });
    let t = EventKind::Transition(Transition {
        tid: PID + 1,
        old: ThreadState::Running,
        new: ThreadState::Stopping,
        cause: Some(StopCause::Breakpoint { addr: 0x40_1136 }),
        status: None,
        note: "",
    });
    let fx = update(&mut m, Msg::Tracer(event(1, 1, t)));
    assert_eq!(
        fx,
        vec![Effect::NamePcs {
            image: 0,
            pcs: vec![0x40_1136, 0x40_2000, 0x40_3000]
        }]
    );
}

#[test]
fn a_storm_of_births_asks_for_no_names() {
    let mut m = running_model();
    for i in 0..100 {
        let born = EventKind::Transition(Transition {
            tid: 10_000 + i,
            old: ThreadState::Running,
            new: ThreadState::Running,
            cause: Some(StopCause::ThreadCreated { tid: 20_000 + i }),
            status: None,
            note: "clone",
        });
        assert!(update(&mut m, Msg::Tracer(event(1, 1, born))).is_empty());
    }
}

#[test]
fn a_newborn_is_shown_with_its_parents_name_until_a_snapshot_names_it() {
    let mut m = running_model();
    let parent = PID + 1;
    let parent_name = m.threads.rows[&parent].name.clone();
    assert!(!parent_name.is_empty());
    let born = |child| {
        EventKind::Transition(Transition {
            tid: parent,
            old: ThreadState::Running,
            new: ThreadState::Running,
            cause: Some(StopCause::ThreadCreated { tid: child }),
            status: None,
            note: "created a thread",
        })
    };
    update(&mut m, Msg::Tracer(event(60, 6000, born(9001))));
    assert_eq!(m.threads.rows[&9001].name, parent_name);
    // Its own first stop came first: the row exists, nameless, until the parent's event.
    let first_stop = EventKind::Transition(Transition {
        tid: 9002,
        old: ThreadState::Stopping,
        new: ThreadState::Running,
        cause: None,
        status: None,
        note: "new thread joins the running process",
    });
    update(&mut m, Msg::Tracer(event(61, 6100, first_stop)));
    assert_eq!(m.threads.rows[&9002].name, "");
    update(&mut m, Msg::Tracer(event(62, 6200, born(9002))));
    assert_eq!(m.threads.rows[&9002].name, parent_name);
}
