//! `ptscope dump` as a user runs it: output contract, errors, exit codes.

mod common;

use common::*;
use std::process::Command;

fn dump(args: &[&str]) -> std::process::Output {
    Command::new(bin()).arg("dump").args(args).output().unwrap()
}

#[test]
fn json_lists_every_thread_with_all_27_registers() {
    let mut lab = Lab::start(4);
    let out = dump(&[&lab.pid.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pid"], lab.pid);
    let threads = v["threads"].as_array().unwrap();
    let mut tids: Vec<i64> = threads.iter().map(|t| t["tid"].as_i64().unwrap()).collect();
    tids.sort();
    let expected: Vec<i64> = task_ids(lab.pid).into_iter().map(i64::from).collect();
    assert_eq!(tids, expected);
    for t in threads {
        assert_eq!(t["state"], "stopped");
        assert_eq!(t["cause"], "stopped");
        let regs = t["registers"].as_object().unwrap();
        assert_eq!(regs.len(), 27);
        for name in ptscope::tracer::regs::REGISTER_NAMES {
            let v = regs[name].as_str().unwrap();
            assert!(
                v.starts_with("0x")
                    && v[2..]
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{name}={v}"
            );
        }
        assert_ne!(regs["rip"], "0x0");
    }
    assert!(threads.iter().any(|t| t["name"] == "idle-3"));
    assert_untraced_and_running(lab.pid);
    lab.assert_alive();
}

#[test]
fn text_names_each_thread_and_escapes_hostile_names() {
    let mut lab = Lab::start(1);
    lab.send("spawn \x1b[31mevil\x07");
    lab.expect("spawned ");
    let out = dump(&[&lab.pid.to_string()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("process {} (", lab.pid)),
        "{text}"
    );
    for tid in task_ids(lab.pid) {
        assert!(text.contains(&format!("{tid}  ")), "{tid} missing:\n{text}");
    }
    assert!(text.contains("\\x1b[31mevil\\x07"), "{text}");
    assert!(!text.contains('\x1b') && !text.contains('\x07'));
    assert_untraced_and_running(lab.pid);
}

#[test]
fn errors_are_one_line_with_exit_code_1() {
    for (pid, want) in [
        ("999999999", "ptscope: no such process: 999999999"),
        (
            "2",
            "ptscope: process 2 is not a user process (kernel thread)",
        ),
    ] {
        let out = dump(&[pid]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8(out.stderr).unwrap(), format!("{want}\n"));
        assert!(out.stdout.is_empty());
    }
    let out = dump(&["not-a-pid"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects it");
}

#[test]
fn a_thread_id_is_not_a_process() {
    let lab = Lab::start(1);
    let tid = lab.tids[1];
    let out = dump(&[&tid.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("is a thread of process {}", lab.pid)),
        "{err}"
    );
}
