//! "Why is it hung?" on real hung processes: `ptscope dump` names every wait, every lock
//! holder, every deadlock and no deadlock that is not there, groups identical stacks, and
//! leaves the process running untraced.

mod common;
mod hung_support;

use common::assert_untraced_and_running;
use hung_support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_three_thread_mutex_cycle_and_a_relock_are_two_deadlocks_printed_first() {
    let d = Demo::start("hung-cycle", &[]);
    let tids = d.tids("tids");
    let locks = d.addrs("locks");
    d.wait_blocked(&tids, "futex");
    d.wait_blocked(&[d.tid("relock")], "futex");
    let v = d.dump_json();
    // Thread i holds lock i and waits for lock i+1, held by thread i+1.
    for i in 0..3 {
        let w = waits(&v, tids[i]);
        assert_eq!(w["kind"], "mutex", "{w}");
        assert_eq!(w["addr"], locks[(i + 1) % 3], "{w}");
        assert_eq!(w["symbol"], format!("ptscope_cycle_m{}", (i + 1) % 3));
        assert_eq!(w["owner"], tids[(i + 1) % 3], "{w}");
        assert_eq!(w["owner_alive"], true);
        assert_eq!(w["pi"], false);
    }
    // And the thread that locked a normal mutex twice waits for itself.
    let (relock, self_lock) = (d.tid("relock"), d.str("self_lock"));
    let w = waits(&v, relock);
    assert_eq!(
        (&w["addr"], &w["owner"]),
        (&json!(self_lock), &json!(relock)),
        "{w}"
    );
    let waited: Vec<String> = (0..3).map(|i| locks[(i + 1) % 3].clone()).collect();
    let (cycle, cycle_locks) = rotate_to_lowest(&tids, &waited);
    assert_eq!(
        v["deadlocks"],
        json!([{"tids": cycle, "locks": cycle_locks}, {"tids": [relock], "locks": [self_lock]}])
    );
    assert_eq!(v["summary"]["in_deadlock"], 4);

    let text = d.dump_text(&[]);
    let dl = text.find("DEADLOCK 1 of 2: 3 threads").expect(&text);
    let own = text
        .find("DEADLOCK 2 of 2: a thread waiting for a lock it holds itself")
        .expect(&text);
    assert!(text.contains(&format!(
        "  thread {relock} \"relock\" waits for mutex {self_lock} <ptscope_cycle_self> held by \
         this same thread (relocking a mutex it holds)"
    )));
    assert!(dl < own);
    assert!(
        dl < text.find("stacks:").unwrap(),
        "deadlock first:\n{text}"
    );
    for i in 0..3 {
        let line = format!(
            "  thread {} \"cycle-{i}\" waits for mutex {} <ptscope_cycle_m{}> held by {} \"cycle-{}\"",
            tids[i],
            locks[(i + 1) % 3],
            (i + 1) % 3,
            tids[(i + 1) % 3],
            (i + 1) % 3
        );
        let at = text.find(&line).unwrap_or_else(|| panic!("{line}\n{text}"));
        let next = &text[at..].lines().nth(1).unwrap();
        assert!(
            next.starts_with("      at ptscope_cycle_take (") && next.contains("cycle.rs:"),
            "where in the code: {next}"
        );
    }
    assert!(text.contains("; 2 deadlocks (4 threads)"), "{text}");
    assert_untraced_and_running(d.pid);
}

#[test]
fn a_pi_mutex_cycle_is_closed_by_the_lock_the_kernel_refused() {
    let d = Demo::start("hung-pi", &[]);
    let tids = d.tids("tids");
    let locks = d.addrs("locks");
    d.wait_blocked(&tids, "futex");
    let v = d.dump_json();
    for i in 0..2 {
        let w = waits(&v, tids[i]);
        assert_eq!(
            (&w["kind"], &w["pi"], &w["addr"], &w["owner"]),
            (
                &json!("mutex"),
                &json!(true),
                &json!(locks[i + 1]),
                &json!(tids[i + 1])
            ),
            "{w}"
        );
    }
    // Thread 2 asked for lock 0 last: refused with EDEADLK, parked on its own stack.
    let w = waits(&v, tids[2]);
    assert_eq!(w["refused"], true, "{w}");
    assert_eq!(w["addr"], locks[0], "{w}");
    assert_eq!(w["owner"], tids[0], "{w}");
    assert!(w["text"].as_str().unwrap().contains("EDEADLK"), "{w}");
    let waited: Vec<String> = (0..3).map(|i| locks[(i + 1) % 3].clone()).collect();
    let (cycle, cycle_locks) = rotate_to_lowest(&tids, &waited);
    assert_eq!(
        v["deadlocks"],
        json!([{"tids": cycle, "locks": cycle_locks}])
    );
    assert_untraced_and_running(d.pid);
}

#[test]
fn a_chain_of_waiters_names_its_holder_and_what_the_holder_waits_on() {
    let d = Demo::start("hung-chain", &[]);
    let holder = d.tid("holder");
    let waiters = d.tids("waiters");
    let inner = d.tid("inner_waiter");
    let (lock, inner_lock) = (d.str("lock"), d.str("inner"));
    let (r, w) = (d.tid("pipe_read"), d.tid("pipe_write"));
    d.wait_blocked(&[holder], "read");
    d.wait_blocked(&[waiters[0], waiters[1], inner], "futex");
    let v = d.dump_json();
    assert_eq!(v["deadlocks"], json!([]), "a chain is not a deadlock");
    for &t in &waiters {
        let x = waits(&v, t);
        assert_eq!(
            (&x["addr"], &x["owner"]),
            (&json!(lock), &json!(holder)),
            "{x}"
        );
    }
    let x = waits(&v, inner);
    assert_eq!(
        (&x["addr"], &x["owner"]),
        (&json!(inner_lock), &json!(waiters[1]))
    );
    let h = waits(&v, holder);
    assert_eq!((&h["kind"], &h["fd"]), (&json!("fd"), &json!(r)), "{h}");
    let target = h["target"].as_str().unwrap();
    assert!(
        target.starts_with("pipe:[")
            && target.ends_with(&format!("(write end: this process fd {w})")),
        "{target}"
    );

    let text = d.dump_text(&[]);
    assert!(
        text.contains("no deadlock found") && !text.contains("DEADLOCK"),
        "{text}"
    );
    let mut all = vec![waiters[0], waiters[1], inner];
    all.sort();
    let head = format!(
        "  thread {holder} \"holder\" holds up 3 thread(s): {}",
        ptscope::analysis::ranges::format(&all)
    );
    let at = text.find(&head).unwrap_or_else(|| panic!("{head}\n{text}"));
    let block: Vec<&str> = text[at..].lines().take(6).collect();
    assert!(
        block[1].starts_with(&format!("      itself: read fd {r} pipe:[")),
        "{block:?}"
    );
    assert!(block[2].contains("ptscope_chain_hold") || block[2].contains("read_forever"));
    assert_eq!(
        block[3],
        format!(
            "    mutex {lock} <ptscope_chain_m>: waited for by {}",
            ptscope::analysis::ranges::format(&waiters)
        )
    );
    assert_eq!(
        block[4],
        format!(
            "      {} \"waiter-2\" holds up 1 more thread(s):",
            waiters[1]
        )
    );
    assert_eq!(
        block[5],
        format!("        mutex {inner_lock} <ptscope_chain_inner>: waited for by {inner}")
    );
    assert_untraced_and_running(d.pid);
}

#[test]
fn a_mutex_whose_holder_exited_says_it_can_never_be_released() {
    let d = Demo::start("hung-orphan", &[]);
    let (owner, waiter) = (d.tid("owner"), d.tid("waiter"));
    d.wait_blocked(&[waiter], "futex");
    let v = d.dump_json();
    let w = waits(&v, waiter);
    assert_eq!(
        (&w["kind"], &w["addr"], &w["owner"], &w["owner_alive"]),
        (
            &json!("mutex"),
            &json!(d.str("lock")),
            &json!(owner),
            &json!(false)
        ),
        "{w}"
    );
    assert_eq!(v["deadlocks"], json!([]));
    let text = d.dump_text(&[]);
    let line = format!(
        "  mutex {} <ptscope_orphan_m> held by {owner}, which has exited (it can never be released): waited for by {waiter}",
        d.str("lock")
    );
    assert!(text.contains(&line), "{line}\n{text}");
    assert_untraced_and_running(d.pid);
}

#[test]
fn waits_without_an_owner_say_what_they_are_and_for_how_long() {
    let d = Demo::start("hung-waits", &[]);
    // The demo printed READY once every thread slept in its call; let some time pass so
    // "how long" has something to measure (the quantity under test is elapsed time).
    std::thread::sleep(Duration::from_millis(300));
    let before_dump = d.ready_at.elapsed();
    let v = d.dump_json();
    let upper = d.started.elapsed();

    let cv = waits(&v, d.tid("cv_tid"));
    assert_eq!(
        (&cv["kind"], &cv["addr"], &cv["symbol"], &cv["owner"]),
        (
            &json!("condvar"),
            &json!(d.str("cv")),
            &json!("ptscope_queue_cv"),
            &Value::Null
        ),
        "{cv}"
    );
    assert_eq!(cv["owner_record"], "not-recorded");

    let m = waits(&v, d.tid("std_mutex_tid"));
    assert_eq!(
        (&m["kind"], &m["owner"]),
        (&json!("futex"), &Value::Null),
        "{m}"
    );
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains("(owner not recorded by this lock)") && text.contains("lock_contended"),
        "{m}"
    );

    let r = waits(&v, d.tid("recv_tid"));
    assert_eq!(
        (&r["kind"], &r["fd"]),
        (&json!("fd"), &json!(d.tid("recv_fd"))),
        "{r}"
    );
    assert_eq!(
        r["target"],
        format!(
            "socket {} -> {} (tcp established), peer held by this process fd {}",
            d.str("local"),
            d.str("peer"),
            d.tid("peer_fd")
        )
    );
    let since = int(&r["since_ms"]) as u128;
    assert!(
        since + 50 >= before_dump.as_millis() && since <= upper.as_millis() + 50,
        "off CPU {since} ms: blocked before READY ({} ms before the dump), started {} ms ago",
        before_dump.as_millis(),
        upper.as_millis()
    );

    let a = waits(&v, d.tid("accept_tid"));
    assert_eq!(
        a["target"],
        format!("socket {} (tcp listen)", d.str("listen")),
        "{a}"
    );
    let e = waits(&v, d.tid("epoll_tid"));
    assert_eq!(e["fd"], d.tid("epoll_fd"));
    let watch = e["target"].as_str().unwrap();
    assert!(
        watch.starts_with(&format!(
            "epoll set watching fd {} (eventfd), fd {} (pipe:[",
            d.tid("eventfd"),
            d.tid("pipe_read")
        )),
        "{watch}"
    );
    assert_eq!(waits(&v, d.tid("sleeper_tid"))["kind"], "sleep");
    let j = waits(&v, d.tid("joiner_tid"));
    assert_eq!(
        (&j["kind"], &j["owner"]),
        (&json!("join"), &json!(d.tid("sleeper_tid"))),
        "{j}"
    );
    assert_eq!(v["deadlocks"], json!([]));
    assert_untraced_and_running(d.pid);
}

#[test]
fn an_rwlock_names_its_writer_and_says_readers_are_not_recorded() {
    let d = Demo::start("hung-rwlock", &[]);
    let (a, b) = (d.str("a"), d.str("b"));
    let writer = d.tid("writer");
    let v = d.dump_json();
    for (who, role) in [("reader", "read"), ("writer_2", "write")] {
        let w = waits(&v, d.tid(who));
        assert_eq!(
            (
                &w["kind"],
                &w["role"],
                &w["addr"],
                &w["owner"],
                &w["symbol"]
            ),
            (
                &json!("rwlock"),
                &json!(role),
                &json!(a),
                &json!(writer),
                &json!("ptscope_rw_a")
            ),
            "{who}: {w}"
        );
    }
    let w3 = waits(&v, d.tid("writer_3"));
    assert_eq!(
        (&w3["role"], &w3["addr"], &w3["owner"], &w3["owner_record"]),
        (&json!("write"), &json!(b), &Value::Null, &json!("readers")),
        "{w3}"
    );
    assert!(w3["text"]
        .as_str()
        .unwrap()
        .contains("held by readers (readers are not recorded)"));
    assert_eq!(v["deadlocks"], json!([]));
    assert_untraced_and_running(d.pid);
}

#[test]
fn a_pool_of_hundreds_collapses_into_one_group_per_stack_shape() {
    let d = Demo::start("hung-pool", &["--per-shape", "100"]);
    let shapes = [d.tids("cv"), d.tids("read"), d.tids("sleep")];
    let v = d.dump_json();
    assert_eq!(v["deadlocks"], json!([]));
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4, "three shapes and the main thread");
    let mut seen: Vec<Vec<i32>> = groups[..3]
        .iter()
        .map(|g| {
            assert_eq!(g["count"], 100);
            g["tids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| int(t) as i32)
                .collect()
        })
        .collect();
    seen.sort();
    let mut want = shapes.to_vec();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(groups[3]["tids"], json!([d.pid]));
    let functions = |g: &Value| g["frames"].to_string();
    let by_first = |tid: i32| groups.iter().find(|g| g["tids"][0] == tid).unwrap();
    assert!(functions(by_first(shapes[0][0])).contains("ptscope_pool_idle"));
    assert!(functions(by_first(shapes[1][0])).contains("ptscope_pool_read"));
    assert!(functions(by_first(shapes[2][0])).contains("ptscope_pool_sleep"));
    assert_eq!(
        v["summary"]["kinds"],
        json!({"condvar": 100, "fd": 100, "sleep": 100, "signal-wait": 1})
    );

    // The text names each group once, and no thread on its own unless asked.
    let text = d.dump_text(&[]);
    for s in &shapes {
        let line = format!("100 threads: {}  ", ptscope::analysis::ranges::format(s));
        assert_eq!(text.matches(&line).count(), 1, "{line}\n{text}");
    }
    assert!(
        !text.contains(&format!("\nthread {} ", shapes[0][0])),
        "{text}"
    );
    let all = d.dump_text(&["--all"]);
    assert!(all.contains(&format!("\nthread {} \"pool-cv\"", shapes[0][0])));
    assert_untraced_and_running(d.pid);
}

/// One thread's object in a dump.
fn thread(dump: &Value, tid: i32) -> Value {
    dump["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .find(|t| t["tid"] == tid)
        .unwrap_or_else(|| panic!("thread {tid} not in the dump"))
        .clone()
}

#[test]
fn a_thread_in_vfork_is_reported_and_every_other_thread_is_dumped_in_full() {
    let d = Demo::start("hung-vfork", &[]);
    let (tid, child, idle) = (d.tid("vfork_tid"), d.tid("child"), d.tid("idle_tid"));
    let t0 = Instant::now();
    let v = d.dump_json();
    // Only catches a hang (the old all-stop waited 12 s for the vfork thread), not a speed
    // goal: speed is measured in the benchmark.
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "took {:?}",
        t0.elapsed()
    );
    let stuck = thread(&v, tid);
    assert_eq!(
        (&stuck["waits"]["kind"], &stuck["waits"]["child"]),
        (&json!("vfork"), &json!(child)),
        "{stuck}"
    );
    assert_eq!(stuck["state"], "cannot stop", "{stuck}");
    assert_eq!(
        stuck["cause"],
        format!("cannot stop: in vfork, child {child}")
    );
    assert!(stuck["registers"].is_null());
    for t in [d.pid, idle] {
        let x = thread(&v, t);
        assert_eq!(x["state"], "stopped", "{x}");
        assert!(
            x["frames"]
                .to_string()
                .contains("ptscope::demo::hung::park"),
            "{x}"
        );
    }
    assert!(v["not_stopped"].is_null());
    assert_untraced_and_running(d.pid);
    let state = ptscope::procinfo::ProcReader::new()
        .thread(d.pid, tid)
        .unwrap()
        .state;
    assert_eq!(state, 'D', "still in vfork, untouched");
}

#[test]
fn no_analysis_keeps_the_old_output_and_json() {
    let d = Demo::start("hung-cycle", &[]);
    let tids = d.tids("tids");
    d.wait_blocked(&tids, "futex");
    let out = d.dump(&["--json", "--no-analysis"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["deadlocks", "groups", "summary"] {
        assert!(v.get(key).is_none(), "{key} present");
    }
    assert!(v["threads"][0].get("waits").is_none());
    let text = d.dump_text(&["--no-analysis"]);
    assert!(!text.contains("summary:"));
    for t in tids {
        assert!(text.contains(&format!("\nthread {t} \"cycle-")), "{text}");
    }
    assert_untraced_and_running(d.pid);
}

#[test]
fn heavy_contention_in_one_lock_order_is_never_a_deadlock() {
    let d = Demo::start("hung-busy", &[]);
    let rounds = u64::from_str_radix(d.str("rounds").trim_start_matches("0x"), 16).unwrap();
    let count = || u64::from_le_bytes(common::read_proc_mem(d.pid, rounds, 8).try_into().unwrap());
    let mut waits_seen = 0;
    for _ in 0..3 {
        let v = d.dump_json();
        assert_eq!(v["deadlocks"], json!([]), "{}", v["deadlocks"]);
        waits_seen += d
            .tids("tids")
            .iter()
            .filter(|t| waits(&v, **t)["kind"] == "mutex")
            .count();
    }
    assert!(
        waits_seen > 0,
        "the threads never waited for each other: nothing was tested"
    );
    let before = count();
    common::eventually("the threads to go on after the dumps", || count() > before);
    assert_untraced_and_running(d.pid);
}
