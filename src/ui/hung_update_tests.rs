//! The rules of "why is it hung?" in the inspector: what a stop asks the analysis worker, how
//! its answers land (WAITS, the banner, the log, restarted calls), how long they hold while
//! the process runs, and `G` with the keys of its groups.

use crate::tracer::event::{Command, EventKind};
use crate::tracer::status::ExitKind;
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::hung::AnalyseAsk;
use crate::ui::hung_fixtures::*;
use crate::ui::model::groups::{Cursor, Grouping};
use crate::ui::model::waits::Told;
use crate::ui::model::LogBody;
use crate::ui::msg::{Effect, Msg};

fn asks(fx: &[Effect]) -> Vec<AnalyseAsk> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Analyse(a) => Some((**a).clone()),
            _ => None,
        })
        .collect()
}

fn log_texts(m: &Model) -> Vec<String> {
    m.log
        .lines
        .iter()
        .filter_map(|l| match &l.body {
            LogBody::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stop_asks_why_with_the_kernel_view_from_before_it() {
    let (m, fx) = hung_model_and_effects();
    let a = asks(&fx);
    assert_eq!(a.len(), 1, "{fx:?}");
    let a = &a[0];
    assert!(
        a.waits && !a.groups,
        "no stacks walked for groups while G is off"
    );
    assert_eq!(a.gen, m.waits.gen);
    assert_eq!(a.threads.len(), 10);
    assert!(
        a.threads.iter().all(|t| t.regs.is_some()),
        "every thread holds still"
    );
    assert_eq!(a.kernel[&CYCLE[0]].state, 'S');
    assert_eq!(a.kernel[&CYCLE[0]].syscall.name().as_deref(), Some("futex"));
}

#[test]
fn the_off_cpu_times_read_before_a_users_stop_go_with_its_ask() {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    update(&mut m, Msg::Stop);
    let pre = crate::analysis::gather::PreStop {
        off_cpu_ms: [(PID + 2, 41_000)].into(),
        kstacks: [(PID + 3, vec!["io_schedule".to_string()])].into(),
    };
    update(&mut m, Msg::PreStop(Box::new(pre.clone())));
    assert_eq!(
        update(&mut m, Msg::Kernel(kernel_views())),
        vec![Effect::Tracer(Command::Stop)]
    );
    let fx = update(
        &mut m,
        Msg::Tracer(event(
            31,
            3100,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    let a = asks(&fx);
    assert_eq!(a[0].prestop, pre);
    assert_eq!(m.waits.told, Told::Working);
    assert_eq!(
        m.waits.prestop,
        Default::default(),
        "taken: true only for that stop"
    );
}

#[test]
fn the_answer_fills_waits_the_banner_and_the_log() {
    let m = hung_model();
    assert_eq!(m.waits.told, Told::Done);
    assert_eq!(
        m.waits.cell(READER).map(|c| c.text.as_str()),
        Some("read fd 9 socket -> 10.0.0.5:5432, 41 s")
    );
    assert!(CYCLE.iter().all(|t| m.waits.deadlocked(*t)));
    assert!(!m.waits.deadlocked(READER));
    assert_eq!(m.waits.banner_lines(), 1);
    let logged = log_texts(&m);
    assert!(
        logged
            .iter()
            .any(|l| l.starts_with("DEADLOCK: 4243 -> 4244 -> 4245 -> 4243")),
        "{logged:?}"
    );
    let s = m.status.line.as_ref().unwrap();
    assert!(s.text.contains("1 deadlock (3 threads)"), "{}", s.text);
    // restart_syscall() in the kernel columns, named for the call its wrapper restarts.
    assert_eq!(
        m.threads.kernel[&SLEEPER].call.as_deref(),
        Some("clock_nanosleep(CLOCK_MONOTONIC, 0x0, 0x7f3a17ffe000, 0x0)")
    );
    // The banner takes its line from the threads pane's rows.
    let full = m.screen.layout().threads_rows();
    assert_eq!(m.threads_rows(), full - 1);
}

#[test]
fn answers_for_an_older_stop_are_dropped() {
    let mut m = hung_model();
    let old = m.waits.gen;
    update(&mut m, Msg::Tracer(event(40, 4000, EventKind::Resumed)));
    let mut w = hung_waits(old);
    w.cells.clear();
    update(&mut m, Msg::Waits(Box::new(w)));
    assert_eq!(m.waits.cells.len(), 10, "the stale answer changed nothing");
    update(&mut m, Msg::Groups(Box::new(hung_groups(old))));
    assert!(m.groups.view.is_none());
}

#[test]
fn while_running_a_deadlock_stays_as_long_as_its_threads_stay_in_their_calls() {
    let mut m = hung_model();
    update(&mut m, Msg::Tracer(event(40, 4000, EventKind::Resumed)));
    // Everyone still where they were, but the reader got its reply and runs.
    let mut live = hung_views();
    let r = live.iter_mut().find(|v| v.tid == READER).unwrap();
    r.state = 'R';
    r.syscall = crate::procinfo::SyscallState::Running;
    update(&mut m, Msg::Kernel(live.clone()));
    assert_eq!(m.waits.deadlocks.len(), 1, "still deadlocked");
    assert!(m.waits.cell(READER).is_none(), "its wait is over");
    assert!(
        m.waits.cell(SLEEPER).is_some(),
        "the same call, restarted or not"
    );
    // One thread of the cycle leaves its lock wait: the deadlock no longer holds.
    let t = live.iter_mut().find(|v| v.tid == CYCLE[1]).unwrap();
    t.syscall = crate::procinfo::SyscallState::Running;
    update(&mut m, Msg::Kernel(live));
    assert!(m.waits.deadlocks.is_empty());
    assert_eq!(m.waits.banner_lines(), 0);
    assert!(log_texts(&m)
        .iter()
        .any(|l| l.starts_with("no longer holds: DEADLOCK: 4243")));
}

#[test]
fn a_process_that_is_gone_holds_nothing() {
    let mut m = hung_model();
    let k = EventKind::ProcessExited(ExitKind::Signal { sig: libc::SIGKILL });
    update(&mut m, Msg::Tracer(event(50, 5000, k)));
    assert!(m.waits.deadlocks.is_empty() && m.waits.cells.is_empty());
}

#[test]
fn g_at_a_stop_walks_every_stack_on_the_worker() {
    let mut m = hung_model();
    let fx = update(&mut m, Msg::ToggleGroups);
    let a = asks(&fx);
    assert_eq!(a.len(), 1);
    assert!(a[0].groups && !a[0].waits, "the waits are told already");
    assert_eq!(a[0].gen, m.waits.gen);
    assert_eq!(m.groups.grouping, Grouping::Walking { threads: 10 });
    assert_eq!(
        m.status.line.as_ref().unwrap().text,
        "grouping: unwinding 10 threads..."
    );
    let gen = m.waits.gen;
    update(&mut m, Msg::Groups(Box::new(hung_groups(gen))));
    assert!(m.groups.showing());
    // Pressed again: every thread listed.
    assert!(update(&mut m, Msg::ToggleGroups).is_empty());
    assert_eq!(m.groups.grouping, Grouping::Off);
    // And once more at the same stop: the walk is not done twice.
    assert!(update(&mut m, Msg::ToggleGroups).is_empty());
    assert!(m.groups.showing());
}

#[test]
fn g_while_running_groups_at_the_next_stop() {
    let mut m = demo_model();
    update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
    assert!(update(&mut m, Msg::ToggleGroups).is_empty());
    assert_eq!(m.groups.grouping, Grouping::NextStop);
    assert!(m.status.line.as_ref().unwrap().text.contains("next stop"));
    let fx = update(
        &mut m,
        Msg::Tracer(event(
            31,
            3100,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    let a = asks(&fx);
    assert!(a[0].waits && a[0].groups, "{a:?}");
    assert!(matches!(m.groups.grouping, Grouping::Walking { .. }));
    // Continued before the walk came back: the next stop walks again.
    update(&mut m, Msg::Tracer(event(32, 3200, EventKind::Resumed)));
    assert_eq!(m.groups.grouping, Grouping::NextStop);
}

#[test]
fn group_keys_move_over_groups_and_the_selection_follows() {
    let mut m = grouped_model();
    // Enter without G says what to do; so does a key in another pane.
    let mut flat = hung_model();
    update(&mut flat, Msg::Expand);
    assert!(flat.status.line.as_ref().unwrap().text.contains("press G"));
    // The selection (the first thread, in the "pause" group) puts the cursor on its group.
    assert_eq!(m.threads.selected, Some(PID));
    update(&mut m, Msg::Home);
    assert_eq!(m.groups.cursor, Some(Cursor::Group(POOL[0])));
    assert_eq!(
        m.threads.selected,
        Some(POOL[0]),
        "a group row shows its first thread"
    );
    update(&mut m, Msg::Down);
    assert_eq!(m.threads.selected, Some(CYCLE[0]));
    update(&mut m, Msg::Expand);
    assert!(m.groups.open.contains(&CYCLE[0]));
    update(&mut m, Msg::Down);
    update(&mut m, Msg::Down);
    assert_eq!(m.groups.cursor, Some(Cursor::Thread(CYCLE[1])));
    assert_eq!(m.threads.selected, Some(CYCLE[1]));
    assert!(
        m.backtrace.offset == 0,
        "the backtrace of the new selection starts at its top"
    );
    update(&mut m, Msg::Collapse);
    assert_eq!(m.groups.cursor, Some(Cursor::Group(CYCLE[0])));
    assert!(m.groups.open.is_empty());
    update(&mut m, Msg::End);
    assert_eq!(m.threads.selected, Some(SLEEPER));
    m.screen.focus = crate::ui::focus::Focus::Log;
    update(&mut m, Msg::Expand);
    assert!(m.groups.open.is_empty());
    assert!(m
        .status
        .line
        .as_ref()
        .unwrap()
        .text
        .contains("in the Threads pane"));
}

#[test]
fn a_late_answer_does_not_talk_over_a_key() {
    let mut m = demo_model();
    update(
        &mut m,
        Msg::Tracer(event(
            31,
            3100,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    update(&mut m, Msg::Step);
    let said = m.status.line.clone().unwrap().text;
    assert!(said.starts_with("stepping thread"), "{said}");
    let gen = m.waits.gen;
    update(&mut m, Msg::Waits(Box::new(hung_waits(gen))));
    assert_eq!(m.status.line.as_ref().unwrap().text, said);
    assert!(
        log_texts(&m).iter().any(|l| l.starts_with("DEADLOCK: ")),
        "the log still says it"
    );
    // Untouched since the stop, the status line takes the answer.
    let (m, _) = hung_model_and_effects();
    assert!(m.status.line.unwrap().text.starts_with("why: 10 threads"));
}

#[test]
fn the_end_of_a_step_stays_on_the_status_line_when_the_answer_comes() {
    use crate::tracer::event::Reply;
    let mut m = demo_model();
    // The step's reply comes before the stop it ends is published.
    update(&mut m, Msg::Step);
    let tid = m.threads.selected.expect("a selected thread");
    m.sent(5, Command::Step { tid });
    reply(&mut m, 5, Ok(Reply::Done));
    let said = m.status.line.clone().unwrap();
    assert_eq!(said.text, format!("thread {tid} stepped one instruction"));
    update(
        &mut m,
        Msg::Tracer(event(
            32,
            3200,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    let gen = m.waits.gen;
    update(&mut m, Msg::Waits(Box::new(hung_waits(gen))));
    assert_eq!(m.status.line, Some(said), "the step's end stays");
    assert!(
        log_texts(&m).iter().any(|l| l.starts_with("DEADLOCK: ")),
        "the log still says it"
    );
}
