//! The target must survive ptscope, whatever happens to ptscope.

mod common;

use common::*;
use std::process::Command;

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
    let out = Command::new(bin())
        .args(["dump", &lab.pid.to_string()])
        .output()
        .unwrap();
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
