//! Snapshot tests of "why is it hung?" on screen, from a fixed hung service
//! (`ui::hung_fixtures`): the WAITS column, the deadlock banner, the grouped threads pane.

use super::draw_support::{draw, screen, text};
use super::screen::{self};
use crate::ui::app::update;
use crate::ui::hung_fixtures::*;
use crate::ui::msg::Msg;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn row<'a>(s: &'a str, tid: &str) -> &'a str {
    s.lines()
        .find(|l| l.split_whitespace().any(|w| w == tid))
        .unwrap_or_else(|| panic!("no row for {tid}:\n{s}"))
}

fn terminal_safe(t: &Terminal<TestBackend>) {
    for c in t.backend().buffer().content() {
        assert!(!c.symbol().chars().any(|ch| ch.is_control()));
    }
}

#[test]
fn threads_pane_with_waits() {
    let m = hung_model();
    let t = draw(150, 14, screen::threads(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("WAITS"), "{s}");
    assert!(
        row(&s, "4246").contains("read fd 9 socket -> 10.0.0.5:5432, 41 s"),
        "{s}"
    );
    assert!(
        row(&s, "4243").contains("mutex <m_accounts> held by 4244"),
        "{s}"
    );
    // The cycle's threads are marked, the others not.
    for tid in ["4243", "4244", "4245"] {
        assert!(row(&s, tid).starts_with("│ ! "), "{tid} marked:\n{s}");
    }
    assert!(row(&s, "4246").starts_with("│   4246"), "{s}");
    // The sleeper's restart_syscall() is named for what it restarts.
    assert!(row(&s, "4251").contains("clock_nanosleep("), "{s}");
    assert!(!s.contains("restart_syscall"), "{s}");
    terminal_safe(&t);
}

#[test]
fn narrow_panes_drop_the_other_columns_before_waits_and_then_waits() {
    let m = hung_model();
    let t = draw(100, 14, screen::threads(&m));
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    assert!(s.contains("WAITS") && s.contains("SYSCALL"), "{s}");
    let head = s.lines().nth(1).unwrap();
    assert!(
        !head.contains(" PC ") && !head.contains("WCHAN") && !head.contains(" IN "),
        "{s}"
    );
    assert!(
        row(&s, "4246").contains("read fd 9 socket -> 10.0.0.5:5432"),
        "{s}"
    );
    // Narrower still: WAITS is cut, then dropped; the system call stays.
    let s = text(&draw(72, 14, screen::threads(&m)));
    assert!(!s.contains("WAITS") && s.contains("SYSCALL"), "{s}");
    assert!(row(&s, "4243").starts_with("│ ! "), "still marked:\n{s}");
}

#[test]
fn whole_screen_announces_the_deadlock() {
    let m = hung_model();
    let t = screen(&m, 150, 40);
    insta::assert_snapshot!(t.backend());
    let s = text(&t);
    let first = s.lines().next().unwrap();
    assert!(
        first.starts_with(
            " DEADLOCK: 4243 -> 4244 -> 4245 -> 4243 (mutex <m_accounts>, <m_ledger>, <m_audit>)"
        ),
        "the banner is the top line:\n{s}"
    );
    assert!(
        s.lines().nth(1).unwrap().starts_with("┌ Threads (10)"),
        "{s}"
    );
    assert!(s.contains("why: 10 threads"), "the status line:\n{s}");
    terminal_safe(&t);
    // The banner is red on every cell of its line.
    let b = t.backend().buffer();
    assert_eq!(b[(5, 0)].bg, ratatui::style::Color::Red);
}

#[test]
fn more_deadlocks_than_the_banner_holds_are_counted() {
    let mut m = hung_model();
    let d = m.waits.deadlocks[0].clone();
    for i in 0..4 {
        let mut e = d.clone();
        e.text = format!("DEADLOCK: {i} -> {i} (mutex 0x{i}0)");
        m.waits.deadlocks.push(e);
    }
    let s = text(&screen(&m, 150, 40));
    let lines: Vec<&str> = s.lines().take(4).collect();
    assert!(lines[0].starts_with(" DEADLOCK: 4243"), "{s}");
    assert!(lines[2].contains("(and 2 more: see the event log)"), "{s}");
    assert!(
        lines[3].starts_with("┌ Threads"),
        "three lines at most:\n{s}"
    );
}

#[test]
fn grouped_threads_pane() {
    let mut m = grouped_model();
    let t = draw(150, 14, screen::threads(&m));
    insta::assert_snapshot!("grouped_threads_pane_closed", t.backend());
    let s = text(&t);
    assert!(s.contains("Threads (10) in 5 stack groups"), "{s}");
    let lines: Vec<&str> = s.lines().skip(2).take(5).collect();
    assert!(
        lines[0].contains("▸   4 threads  4247-4250  __futex_abstimed_wait_common < queue_pop"),
        "largest first, count, tid ranges, top function:\n{s}"
    );
    assert!(lines[0].contains("cond <queue_cv>, 2 min 5 s"), "{s}");
    assert!(
        lines[1].contains("3 threads  4243-4245  __lll_lock_wait < transfer"),
        "{s}"
    );
    assert!(
        lines[1].contains("mutex x3") && lines[1].contains("! 3 in a deadlock"),
        "{s}"
    );
    assert!(lines[2].contains("1 thread   4242  pause < main"), "{s}");
    terminal_safe(&t);

    // Opened, the group lists its threads as rows under it.
    update(&mut m, Msg::Home);
    update(&mut m, Msg::Expand);
    let t = draw(150, 14, screen::threads(&m));
    insta::assert_snapshot!("grouped_threads_pane_open", t.backend());
    let s = text(&t);
    let lines: Vec<&str> = s.lines().skip(2).take(6).collect();
    assert!(lines[0].contains("▾   4 threads"), "{s}");
    for (i, tid) in ["4247", "4248", "4249", "4250"].iter().enumerate() {
        assert!(lines[1 + i].contains(tid), "{s}");
    }
    assert!(lines[5].contains("▸   3 threads"), "{s}");
    assert!(s.contains("pool-\\x1b[2J"), "names sanitised:\n{s}");
    terminal_safe(&t);
}

#[test]
fn grouping_says_so_while_the_stacks_are_walked() {
    let mut m = hung_model();
    update(&mut m, Msg::ToggleGroups);
    let s = text(&draw(150, 14, screen::threads(&m)));
    assert!(s.contains("grouping: unwinding 10 threads..."), "{s}");
    assert!(s.contains("WAITS"), "the flat list meanwhile:\n{s}");
}
