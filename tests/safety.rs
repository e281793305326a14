//! The target must survive ptscope, whatever happens to ptscope.

mod common;

use common::debugregs::{assert_all_clear, assert_all_disarmed};
use common::pty::Ui;
use common::*;

#[test]
fn kill_9_of_ptscope_while_the_process_rests_on_a_breakpoint_leaves_it_alive() {
    let mut lab = start_lab(2);
    let hot_tid = lab.command_tid("hot").unwrap();
    let text = read_proc_mem(lab.pid, lab.hot, 32);
    let (mut holder, line) = start_holder(&lab);
    assert_eq!(line, format!("HELD {hot_tid}"));

    // At rest: every thread in a tracing stop, and no int3 of ours in memory.
    for tid in task_ids(lab.pid) {
        assert!(
            status_field(lab.pid, tid, "State").starts_with('t'),
            "{tid}"
        );
    }
    assert_eq!(read_proc_mem(lab.pid, lab.hot, 32), text);
    // And no thread holds a SIGTRAP that would be delivered when the tracer vanishes.
    for tid in task_ids(lab.pid) {
        let pending = u64::from_str_radix(&status_field(lab.pid, tid, "SigPnd"), 16).unwrap();
        assert_eq!(
            pending & (1 << (libc::SIGTRAP - 1)),
            0,
            "{tid} has SIGTRAP pending"
        );
    }

    holder.kill().unwrap();
    holder.wait().unwrap();
    eventually("the kernel to detach the tracees", || {
        task_ids(lab.pid)
            .iter()
            .all(|t| status_field(lab.pid, *t, "TracerPid") == "0")
    });
    assert_untraced_and_running(lab.pid);
    let first = lab.calls().unwrap();
    eventually("the hot thread to run on", || lab.calls().unwrap() > first);
    assert!(lab.child.try_wait().unwrap().is_none(), "the target died");
}

#[test]
fn dump_of_a_process_already_traced_names_the_tracer() {
    let mut lab = start_lab(1);
    lab.command_tid("hot").unwrap();
    let (mut holder, line) = start_holder(&lab);
    assert!(line.starts_with("HELD"));
    let out = ptscope_dump().arg(lab.pid.to_string()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "ptscope: process {} is already traced by PID {} (ptscope)",
            lab.pid,
            holder.id()
        )
    );
    // Closing the holder's stdin makes it detach properly.
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    assert_untraced_and_running(lab.pid);
    assert_alive(&mut lab);
}

fn counter_now(lab: &Lab) -> u64 {
    u64::from_le_bytes(read_proc_mem(lab.pid, lab.counter, 8).try_into().unwrap())
}

/// After ptscope is gone: untraced, no debug register armed on any thread (read through a
/// ptrace attach of the test's own; after a detach, no address of ours left either), and the
/// hot thread writes the watched counter thousands of times with no SIGTRAP reaching the
/// process (the lab counts the ones it gets).
fn assert_left_clean(lab: &mut Lab, detached: bool) {
    eventually("the kernel to detach the tracees", || {
        task_ids(lab.pid)
            .iter()
            .all(|t| status_field(lab.pid, *t, "TracerPid") == "0")
    });
    assert_untraced_and_running(lab.pid);
    if detached {
        assert_all_clear(lab.pid);
    } else {
        assert_all_disarmed(lab.pid);
    }
    let first = counter_now(lab);
    eventually("the hot thread to write on", || {
        counter_now(lab) > first + 10_000
    });
    assert_eq!(
        lab_number(lab, "traps", "traps "),
        0,
        "a SIGTRAP reached the process"
    );
    assert!(lab.child.try_wait().unwrap().is_none(), "the target died");
}

#[test]
fn kill_9_of_ptscope_resting_on_a_watchpoint_hit_leaves_no_debug_register_armed() {
    let mut lab = start_lab(2);
    let hot_tid = lab.command_tid("hot").expect("a lab command");
    let (mut holder, line) = start_watch_holder(&lab);
    assert_eq!(line, format!("HELD {hot_tid}"));
    // At rest after the hit: every thread in a tracing stop, none holding a SIGTRAP.
    for tid in task_ids(lab.pid) {
        assert!(
            status_field(lab.pid, tid, "State").starts_with('t'),
            "{tid}"
        );
        let pending = u64::from_str_radix(&status_field(lab.pid, tid, "SigPnd"), 16).unwrap();
        assert_eq!(
            pending & (1 << (libc::SIGTRAP - 1)),
            0,
            "{tid} has SIGTRAP pending"
        );
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_left_clean(&mut lab, false);
}

#[test]
fn q_in_the_inspector_after_a_watchpoint_hit_leaves_no_debug_register_armed() {
    let mut lab = start_lab(2);
    let hot_tid = lab.command_tid("hot").expect("a lab command");
    let mut ui = Ui::start(&[&lab.pid.to_string()]);
    ui.wait_for("STOPPED");
    // An edit on the way: written, logged with the old value, and really in memory.
    ui.keys("=");
    ui.wait_for("set REG or *ADDR = VALUE");
    ui.keys(&format!("*{:#x} = 7\r", lab.peek));
    ui.wait_for(&format!(
        "wrote 8 bytes at {:#x}: 07 00 00 00 00 00 00 00 (was ed 5e",
        lab.peek
    ));
    assert_eq!(read_proc_mem(lab.pid, lab.peek, 8), 7u64.to_le_bytes());
    ui.keys("w");
    ui.wait_for("watch address");
    ui.keys(&format!("{:#x}\r", lab.counter));
    ui.wait_for(&format!("DR0 {:#x}", lab.counter));
    ui.keys("c");
    ui.wait_for(&format!(
        "watchpoint {:#x} written by {hot_tid}",
        lab.counter
    ));
    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0, "screen:\n{}", ui.text());
    assert_left_clean(&mut lab, true);
}
