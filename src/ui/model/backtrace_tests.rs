//! Stacks through the messages that ask for and answer them.

use crate::tracer::event::EventKind;
use crate::ui::app::{update, Model};
use crate::ui::fixtures::*;
use crate::ui::focus::Focus;
use crate::ui::inspect::UnwindAsk;
use crate::ui::msg::{Effect, Msg};

fn unwinds(fx: &[Effect]) -> Vec<UnwindAsk> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Unwind(u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn backtraces_follow_the_selection_and_stale_ones_are_dropped() {
    let mut m = Model::new(PID, "demo", true);
    let k = EventKind::AllStopped(Box::new(demo_snapshot()));
    let asked = unwinds(&update(&mut m, Msg::Tracer(event(1, 1, k))));
    let [ask] = asked.as_slice() else {
        panic!("the stopping thread is unwound: {asked:?}")
    };
    assert_eq!((ask.gen, ask.tid), (m.backtrace.gen, PID + 1));
    assert_eq!(ask.regs.rip(), HOT);
    assert!(unwinds(&update(&mut m, Msg::Tick)).is_empty(), "asked once");
    // Moving the selection asks for the next thread.
    let next = unwinds(&update(&mut m, Msg::Down));
    assert_eq!(next.iter().map(|u| u.tid).collect::<Vec<_>>(), [PID + 2]);
    // An answer for the old stop is dropped; one for this stop is kept.
    let old = chain_backtrace(ask.gen - 1, PID + 2);
    update(&mut m, Msg::Backtrace(old));
    assert!(m.backtrace.get(m.threads.selected).is_none());
    update(
        &mut m,
        Msg::Backtrace(chain_backtrace(next[0].gen, PID + 2)),
    );
    assert_eq!(
        m.backtrace.get(m.threads.selected).map(|b| b.frames.len()),
        Some(6)
    );
    // Back up: the first answer never came, so it is asked again; then down again is cached.
    let again = unwinds(&update(&mut m, Msg::Up));
    assert_eq!(again.iter().map(|u| u.tid).collect::<Vec<_>>(), [PID + 1]);
    assert!(
        unwinds(&update(&mut m, Msg::Down)).is_empty(),
        "cached for this stop"
    );
    // Running: nothing is unwound, and answers that arrive late are dropped.
    update(&mut m, Msg::Tracer(event(2, 2, EventKind::Resumed)));
    assert!(unwinds(&update(&mut m, Msg::Up)).is_empty());
    let late = chain_backtrace(m.backtrace.gen, PID + 1);
    update(&mut m, Msg::Backtrace(late));
    assert!(!m.backtrace.by_thread.contains_key(&(PID + 1)));
    // A new stop forgets the old stacks.
    let k = EventKind::AllStopped(Box::new(demo_snapshot()));
    let fx = update(&mut m, Msg::Tracer(event(3, 3, k)));
    assert!(m.backtrace.by_thread.is_empty());
    assert_eq!(unwinds(&fx).len(), 1);
}

#[test]
fn the_backtrace_pane_selects_a_frame_and_scrolls_when_focused() {
    let mut m = demo_model();
    update(&mut m, Msg::Resize(120, 35));
    m.screen.focus = Focus::Backtrace;
    update(&mut m, Msg::Down);
    assert_eq!(m.backtrace.selected, 1, "the frame f finishes");
    assert_eq!(
        m.backtrace.offset, 0,
        "the selected frame is in view: nothing to scroll"
    );
    let mut long = chain_backtrace(m.backtrace.gen, PID + 1);
    let extra = long.frames.clone();
    for _ in 0..5 {
        long.frames.extend(extra.clone());
    }
    update(&mut m, Msg::Backtrace(long));
    update(&mut m, Msg::PageDown);
    assert!(m.backtrace.offset > 0);
    update(&mut m, Msg::Home);
    assert_eq!(m.backtrace.offset, 0);
    update(&mut m, Msg::End);
    let rows = m.screen.layout().backtrace_rows();
    assert_eq!((m.backtrace.selected, m.backtrace.offset), (35, 36 - rows));
    // Another thread's stack starts at its top.
    m.screen.focus = Focus::Threads;
    update(&mut m, Msg::Down);
    assert_eq!((m.backtrace.selected, m.backtrace.offset), (0, 0));
}
