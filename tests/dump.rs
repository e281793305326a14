//! `ptscope dump` as a user runs it: output contract, errors, exit codes.

mod common;
mod symbols_support;

use common::*;

fn dump(args: &[&str]) -> std::process::Output {
    ptscope_dump().args(args).output().unwrap()
}

#[test]
fn json_lists_every_thread_with_all_27_registers() {
    let mut lab = start_lab(4);
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
        for name in ptscope::regs::REGISTER_NAMES {
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
    assert_alive(&mut lab);
}

#[test]
fn text_names_each_thread_and_escapes_hostile_names() {
    let mut lab = start_lab(1);
    lab.send("spawn \x1b[31mevil\x07").unwrap();
    lab.wait_line("spawned ").unwrap();
    let out = dump(&[&lab.pid.to_string(), "--all"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("process {} (", lab.pid)),
        "{text}"
    );
    for tid in task_ids(lab.pid) {
        assert!(
            text.contains(&format!("\nthread {tid} ")),
            "{tid} missing:\n{text}"
        );
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
    let lab = start_lab(1);
    let tid = lab.tids[1];
    let out = dump(&[&tid.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("is a thread of process {}", lab.pid)),
        "{err}"
    );
}

#[test]
fn json_has_the_kernel_view_and_the_call_chain_of_each_thread() {
    let t = symbols_support::start_default();
    let out = dump(&[&t.pid.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let thread = |tid: i32| {
        v["threads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["tid"] == tid)
            .unwrap()
            .clone()
    };
    let chain = thread(t.chain_tid);
    // Read before the stop: the state the service was in, not our tracing stop.
    assert_eq!(chain["kernel"]["state"], "S");
    assert_eq!(chain["kernel"]["syscall"], "read");
    let functions: Vec<String> = chain["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("?").to_string())
        .collect();
    let at = |name: &str| {
        functions
            .iter()
            .position(|f| f == name)
            .unwrap_or_else(|| panic!("{name} not in {functions:?}"))
    };
    assert!(at("read") < at("ptscope_chain_c"));
    assert!(at("ptscope_chain_c") < at("ptscope_chain_b"));
    assert!(at("ptscope_chain_b") < at("ptscope_chain_a"));
    let top = &chain["frames"][0];
    assert!(top["module"].as_str().unwrap().contains("libc"), "{top}");
    assert!(top["pc"].as_str().unwrap().starts_with("0x"));

    let mutex = thread(t.mutex_tid);
    assert_eq!(mutex["kernel"]["syscall"], "futex");
    let text = mutex["frames"].to_string();
    assert!(
        text.contains("pthread_mutex_lock") && text.contains("mutex_waiter"),
        "{text}"
    );
    assert_untraced_and_running(t.pid);
}

/// Each thread's frames as `function:line`, innermost first, by thread id.
fn frames_by_tid(out: &std::process::Output) -> Vec<(i64, String)> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_tid: Vec<(i64, String)> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let names: Vec<String> = x["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{}:{}", f["function"], f["line"]))
                .collect();
            (x["tid"].as_i64().unwrap(), names.join(" < "))
        })
        .collect();
    by_tid.sort();
    by_tid
}

/// The CPU budget changes how much runs side by side, never what is found: one CPU (every
/// loader and walker in turn) and four (side by side, more than the default gives here) show
/// the same frames for every thread.
#[test]
fn the_cpu_budget_changes_nothing_in_the_answer() {
    let t = symbols_support::start_default();
    let frames = |cpus: &str| frames_by_tid(&dump(&[&t.pid.to_string(), "--json", "--cpus", cpus]));
    let one = frames("1");
    assert!(
        one.iter().any(|(_, f)| f.contains("ptscope_chain_b")),
        "{one:?}"
    );
    assert_eq!(one, frames("4"));
    assert_untraced_and_running(t.pid);
}

#[test]
fn a_second_dump_answers_from_what_the_first_remembered() {
    let t = symbols_support::start_default();
    let cache = std::env::temp_dir().join(format!("ptscope-dump-answers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let answers = cache.join("ptscope").join("answers");
    let frames = |extra: &[&str]| {
        // Its own cache, in place of the one the tests share.
        let out = ptscope_dump()
            .env("XDG_CACHE_HOME", &cache)
            .args([&t.pid.to_string(), "--json"])
            .args(extra)
            .output()
            .unwrap();
        frames_by_tid(&out)
    };
    let written = || -> Vec<(std::path::PathBuf, String)> {
        let mut files: Vec<_> = std::fs::read_dir(&answers)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect()
    };

    let fresh = frames(&["--no-cache"]);
    assert!(written().is_empty(), "--no-cache writes nothing");
    let cold = frames(&[]);
    assert_eq!(cold, fresh, "remembering changes nothing in a first dump");
    let files = written();
    assert!(
        files
            .iter()
            .any(|(_, text)| text.contains("ptscope_chain_b")),
        "the program's answers are kept: {files:?}"
    );
    let warm = frames(&[]);
    assert_eq!(
        warm, cold,
        "the second dump says the same from the kept answers"
    );
    assert_eq!(written(), files, "nothing new to keep");

    // The second dump did read them: a name changed on disk is what it shows, and only
    // without --no-cache.
    for (p, text) in &files {
        std::fs::write(p, text.replace("ptscope_chain_b", "kept_chain_b")).unwrap();
    }
    let planted = frames(&[]);
    let shown = format!("{planted:?}");
    assert!(
        shown.contains("kept_chain_b") && !shown.contains("ptscope_chain_b"),
        "{shown}"
    );
    assert_eq!(frames(&["--no-cache"]), fresh);
    let _ = std::fs::remove_dir_all(&cache);
    assert_untraced_and_running(t.pid);
}

#[test]
fn text_reads_like_a_thread_backtrace() {
    let t = symbols_support::start_default();
    let out = dump(&[&t.pid.to_string(), "--all"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let block = text
        .split("\nthread ")
        .find(|b| b.starts_with(&t.chain_tid.to_string()))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(block.contains("[kernel: S"), "{block}");
    assert!(block.contains("read("), "{block}");
    let c = block.find("ptscope_chain_c").unwrap();
    let a = block.find("ptscope_chain_a").unwrap();
    assert!(block.find("#0 ").unwrap() < c && c < a, "{block}");
}

/// The dump's stop: `attach_once` runs its copy on the tracer thread while the kernel shows
/// every thread in a tracing stop, then detaches with no command from us; afterwards every
/// thread is untraced and running, and the picture handed to the job is the one published.
#[test]
fn attach_once_copies_while_every_thread_is_stopped_then_lets_go() {
    use ptscope::tracer::{EventKind, Options, TracerHandle};
    let mut lab = start_lab(6);
    let pid = lab.pid;
    let (tx, rx) = std::sync::mpsc::channel();
    let job = Box::new(move |snap: &ptscope::tracer::Snapshot| {
        // What the kernel says while the job runs, read from /proc directly.
        let states: Vec<(i32, String)> = task_ids(pid)
            .into_iter()
            .map(|t| (t, status_field(pid, t, "State")))
            .collect();
        let tids: Vec<i32> = snap.threads.iter().map(|t| t.tid).collect();
        let _ = tx.send((states, tids));
    });
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let h = TracerHandle::attach_once(pid, opts, job).expect("attach_once");
    let (states, tids) = rx.recv_timeout(TIMEOUT).expect("the job ran");
    assert_eq!(states.len(), 8, "{states:?}");
    for (tid, state) in &states {
        assert!(
            state.starts_with('t'),
            "thread {tid} in {state} during the copy"
        );
    }
    let mut seen = tids.clone();
    seen.sort();
    assert_eq!(seen, task_ids(pid));
    let snap = match wait_for(&h, |e| matches!(e.kind, EventKind::AllStopped(_))).kind {
        EventKind::AllStopped(s) => s,
        _ => unreachable!(),
    };
    assert_eq!(snap.threads.iter().map(|t| t.tid).collect::<Vec<_>>(), tids);
    wait_for(&h, |e| matches!(e.kind, EventKind::Detached));
    h.shutdown().expect("shutdown after the detach");
    assert_untraced_and_running(pid);
    assert_alive(&mut lab);
}
