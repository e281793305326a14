use super::*;
use crate::analysis::facts::{DataSymbol, ProcessFacts};
use crate::analysis::waits::{FdWait, LockKind, LockWait, Owner, Wait};
use crate::analysis::{build, json};
use crate::procinfo::fds::{FdEntry, FdTarget, Holder};
use crate::symbols::{FrameKind, Location};

fn frame(pc: u64, function: &str, module: &str, file: Option<(&str, u32)>) -> Frame {
    Frame {
        pc,
        sp: 0,
        kind: FrameKind::Cfi,
        location: Location {
            addr: pc,
            function: Some(function.into()),
            module: Some(module.into()),
            file: file.map(|f| f.0.to_string()),
            line: file.map(|f| f.1),
            mapped: true,
            ..Default::default()
        },
    }
}

fn mutex(addr: u64, owner: Tid) -> Wait {
    Wait::Lock(LockWait {
        kind: LockKind::Mutex,
        futex: addr,
        addr,
        owner: Owner::Thread(owner),
        role: None,
        pi: false,
        owner_died: false,
        by: Some("pthread_mutex_lock".into()),
        refused: false,
        identified: false,
    })
}

/// Three threads in a cycle, two waiters on a holder blocked reading a pipe, one waiter on
/// a lock whose holder exited, four idle pool threads on a condvar, and a hostile name.
fn scene() -> (Vec<Vec<Frame>>, Vec<ThreadWait>, ProcessFacts) {
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let app = "/srv/app";
    let lock_stack = |f: &str, line: u32| {
        vec![
            frame(0x7f10, "__lll_lock_wait", libc, None),
            frame(0x7f20, "pthread_mutex_lock", libc, None),
            frame(0x5500 + u64::from(line), f, app, Some(("src/app.rs", line))),
        ]
    };
    let pool = vec![
        frame(0x7f30, "__futex_abstimed_wait_common", libc, None),
        frame(0x7f40, "pthread_cond_wait", libc, None),
        frame(0x5600, "pool_idle", app, Some(("src/pool.rs", 12))),
    ];
    let reader = vec![
        frame(0x7f50, "read", libc, None),
        frame(0x5700, "holder_fetch", app, Some(("src/holder.rs", 40))),
    ];
    let mut frames = Vec::new();
    let mut waits = Vec::new();
    let mut add = |tid: Tid, f: Vec<Frame>, wait: Wait, since: u64| {
        frames.push(f);
        waits.push(ThreadWait {
            tid,
            wait,
            since_ms: Some(since),
            at: Some(frames.last().map_or(0, |f: &Vec<Frame>| f.len() - 1)),
            confirmed: true,
        });
    };
    add(
        101,
        lock_stack("cycle_take_b", 30),
        mutex(0xa0, 102),
        41_000,
    );
    add(
        102,
        lock_stack("cycle_take_c", 31),
        mutex(0xb0, 103),
        41_000,
    );
    add(
        103,
        lock_stack("cycle_take_a", 32),
        mutex(0xc0, 101),
        41_000,
    );
    add(
        110,
        reader,
        Wait::Fd(FdWait {
            call: "read".into(),
            fds: vec![3],
        }),
        12_000,
    );
    add(111, lock_stack("chain_wait", 50), mutex(0xd0, 110), 11_000);
    add(112, lock_stack("chain_wait", 50), mutex(0xd0, 110), 11_000);
    add(
        113,
        lock_stack("chain_wait_2", 51),
        mutex(0xe0, 112),
        10_000,
    );
    add(120, lock_stack("orphan_wait", 60), mutex(0xf0, 4238), 3_000);
    for t in 130..134 {
        let cv = Wait::Lock(LockWait {
            kind: LockKind::Condvar,
            futex: 0x128,
            addr: 0x128,
            owner: Owner::NotRecorded,
            role: None,
            pi: false,
            owner_died: false,
            by: Some("pthread_cond_wait".into()),
            refused: false,
            identified: false,
        });
        add(t, pool.clone(), cv, 500 + u64::from(t as u32 - 130) * 100);
    }
    let mut facts = ProcessFacts {
        pid: 100,
        holders_complete: true,
        ..Default::default()
    };
    for w in &waits {
        facts.live.insert(w.tid);
        facts.names.insert(w.tid, format!("w{}", w.tid));
    }
    facts.names.insert(130, "pool\x1b[31m".into());
    for (addr, name) in [
        (0xa0, "m_b"),
        (0xb0, "m_c"),
        (0xc0, "m_a"),
        (0xd0, "m_chain"),
        (0xf0, "m_gone"),
    ] {
        facts.symbols.insert(
            addr,
            DataSymbol {
                name: name.into(),
                offset: 0,
            },
        );
    }
    facts.symbols.insert(
        0x128,
        DataSymbol {
            name: "queue_cv".into(),
            offset: 0x28,
        },
    );
    facts
        .elsewhere
        .insert(4238, crate::analysis::facts::Elsewhere::Gone);
    facts.fds.insert(
        3,
        FdEntry {
            fd: 3,
            target: FdTarget::Pipe(88),
            read: true,
            write: false,
        },
    );
    facts.holders.insert(
        88,
        vec![
            Holder {
                pid: 100,
                comm: "app".into(),
                fd: 3,
                read: true,
                write: false,
            },
            Holder {
                pid: 100,
                comm: "app".into(),
                fd: 4,
                read: false,
                write: true,
            },
        ],
    );
    (frames, waits, facts)
}

fn inputs<'a>(
    frames: &'a [Vec<Frame>],
    waits: &[ThreadWait],
    facts: &'a ProcessFacts,
) -> Vec<ThreadInput<'a>> {
    waits
        .iter()
        .zip(frames)
        .map(|(w, f)| ThreadInput {
            tid: w.tid,
            name: facts.names[&w.tid].as_str(),
            kernel: None,
            frames: f,
            regs: None,
            off_cpu_ms: w.since_ms,
            kstack: None,
        })
        .collect()
}

#[test]
fn a_hung_process_reads_deadlock_first_then_holders_then_groups() {
    let (frames, waits, facts) = scene();
    let f2 = facts.clone();
    let threads = inputs(&frames, &waits, &f2);
    let a = build(&threads, waits, facts);
    assert_eq!(a.deadlocks.len(), 1);
    assert_eq!(a.deadlocks[0].tids, vec![101, 102, 103]);
    assert_eq!(a.deadlocks[0].locks, vec![0xa0, 0xb0, 0xc0]);
    let text = sections(&a, &threads, true);
    assert!(!text.contains('\x1b'));
    insta::assert_snapshot!(text);
}

#[test]
fn the_json_sections_carry_the_same_answers() {
    let (frames, waits, facts) = scene();
    let f2 = facts.clone();
    let threads = inputs(&frames, &waits, &f2);
    let a = build(&threads, waits, facts);
    let d = json::deadlocks(&a);
    assert_eq!(
        d,
        serde_json::json!([{"tids": [101, 102, 103], "locks": ["0xa0", "0xb0", "0xc0"]}])
    );
    let g = json::groups(&a, |t| {
        threads
            .iter()
            .find(|x| x.tid == t)
            .map_or(&[][..], |x| x.frames)
    });
    assert_eq!(g[0]["count"], 4);
    assert_eq!(g[0]["tids"], serde_json::json!([130, 131, 132, 133]));
    assert_eq!(g[0]["frames"][2]["function"], "pool_idle");
    let orphan = json::wait(&a.waits[&120], &a);
    assert_eq!(orphan["owner"], 4238);
    assert_eq!(orphan["owner_alive"], false);
    assert_eq!(orphan["kind"], "mutex");
    assert_eq!(orphan["addr"], "0xf0");
    assert_eq!(orphan["symbol"], "m_gone");
    let reader = json::wait(&a.waits[&110], &a);
    assert_eq!(reader["fd"], 3);
    assert_eq!(reader["target"], "pipe:[88] (write end: this process fd 4)");
    assert_eq!(reader["since_ms"], 12_000);
    let s = json::summary(&a);
    assert_eq!(s["in_deadlock"], 3);
    assert_eq!(s["kinds"]["mutex"], 7);
}
