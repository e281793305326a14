//! A hung service as the inspector sees it after the analysis worker answered: three threads in
//! a mutex cycle, a reader blocked on a database socket, a pool on a condition variable, a
//! sleeper a tracer interrupted before (the kernel shows restart_syscall), the main thread in
//! pause(). For the model and snapshot tests of WAITS, the deadlock banner and `G`.

use crate::procinfo::{SyscallState, ThreadKernelView};
use crate::tracer::event::{EventKind, ProcessState, Snapshot};
use crate::tracer::thread::{StopCause, ThreadState, Tid};
use crate::ui::app::{update, Model};
use crate::ui::fixtures::{event, thread, PID};
use crate::ui::hung::{DeadlockView, GroupView, GroupsView, WaitCell, WaitsView};
use crate::ui::msg::{Effect, Msg};
use std::collections::BTreeMap;

pub const CYCLE: [Tid; 3] = [PID + 1, PID + 2, PID + 3];
pub const READER: Tid = PID + 4;
pub const POOL: [Tid; 4] = [PID + 5, PID + 6, PID + 7, PID + 8];
pub const SLEEPER: Tid = PID + 9;

fn view(tid: Tid, wchan: &str, syscall: &str) -> ThreadKernelView {
    ThreadKernelView {
        tid,
        comm: String::new(),
        state: 'S',
        wchan: Some(wchan.to_string()),
        syscall: SyscallState::parse(syscall),
        cpu_ms: 40,
    }
}

/// /proc just before the stop.
pub fn hung_views() -> Vec<ThreadKernelView> {
    let mut v = vec![view(
        PID,
        "__do_sys_pause",
        "34 0x0 0x0 0x0 0x0 0x0 0x0 0x7ffd5a3c1e00 0x7f3a1c2a5df2",
    )];
    for (tid, lock) in CYCLE
        .iter()
        .zip(["0x55d0c0a04040", "0x55d0c0a04068", "0x55d0c0a04018"])
    {
        v.push(view(
            *tid,
            "futex_do_wait",
            &format!("202 {lock} 0x80 0x2 0x0 0x0 0x0 0x7f3a1b000e48 0x7f3a1c29512b"),
        ));
    }
    v.push(view(
        READER,
        "wait_woken",
        "0 0x9 0x7f3a18000b70 0x4000 0x0 0x0 0x0 0x7f3a1a7fdd40 0x7f3a1c31ba5c",
    ));
    for tid in POOL {
        v.push(view(
            tid,
            "futex_do_wait",
            "202 0x55d0c0a05068 0x189 0x0 0x0 0x0 0xffffffff 0x7f3a19ffe0c0 0x7f3a1c291f16",
        ));
    }
    v.push(view(
        SLEEPER,
        "do_syscall_64",
        "219 0x1 0x0 0x7f3a17ffe000 0x0 0x0 0x0 0x7f3a17ffdf88 0x7f3a1c295d7e",
    ));
    v
}

fn snapshot() -> Snapshot {
    let stop = Some(StopCause::Stopped);
    let names = [
        "accounts",
        "transfer-0",
        "transfer-1",
        "transfer-2",
        "db-reader",
        "pool-0",
        "pool-1",
        "pool-2",
        "pool-\x1b[2Jevil",
        "backoff",
    ];
    Snapshot {
        pid: PID,
        state: ProcessState::Stopped,
        threads: names
            .iter()
            .enumerate()
            .map(|(i, n)| thread(PID + i as Tid, n, ThreadState::Stopped, stop))
            .collect(),
        breakpoints: Vec::new(),
        watchpoints: Vec::new(),
        stopped_by: None,
    }
}

fn cell(text: &str, kind: &'static str, v: &ThreadKernelView) -> WaitCell {
    WaitCell {
        text: text.into(),
        kind,
        call: crate::ui::hung::call_key(v),
    }
}

/// What the analysis worker answers for that stop.
pub fn hung_waits(gen: u64) -> WaitsView {
    let views: BTreeMap<Tid, ThreadKernelView> =
        hung_views().into_iter().map(|v| (v.tid, v)).collect();
    let mut cells = BTreeMap::new();
    let mut put = |tid: Tid, text: &str, kind| {
        cells.insert(tid, cell(text, kind, &views[&tid]));
    };
    put(PID, "signal wait (pause), 12 s", "signal-wait");
    put(CYCLE[0], "mutex <m_accounts> held by 4244, 41 s", "mutex");
    put(CYCLE[1], "mutex <m_ledger> held by 4245, 41 s", "mutex");
    put(CYCLE[2], "mutex <m_audit> held by 4243, 41 s", "mutex");
    put(READER, "read fd 9 socket -> 10.0.0.5:5432, 41 s", "fd");
    for t in POOL {
        put(t, "cond <queue_cv>, 2 min 5 s", "condvar");
    }
    put(SLEEPER, "sleep (clock_nanosleep), 3.2 s", "sleep");
    WaitsView {
        gen,
        cells,
        deadlocks: vec![DeadlockView {
            tids: CYCLE.to_vec(),
            text: "DEADLOCK: 4243 -> 4244 -> 4245 -> 4243 (mutex <m_accounts>, <m_ledger>, \
                   <m_audit>)"
                .into(),
        }],
        summary: "10 threads: 4 condvar, 3 mutex, 1 fd, 1 signal-wait, 1 sleep; 1 deadlock \
                  (3 threads)"
            .into(),
        restarted: [(
            SLEEPER,
            "clock_nanosleep(CLOCK_MONOTONIC, 0x0, 0x7f3a17ffe000, 0x0)".to_string(),
        )]
        .into(),
    }
}

pub fn hung_groups(gen: u64) -> GroupsView {
    let g = |tids: &[Tid], top: &str, at: &str| GroupView {
        tids: tids.to_vec(),
        top: top.into(),
        at: Some(at.into()),
        depth: 9,
    };
    GroupsView {
        gen,
        groups: vec![
            g(&POOL, "__futex_abstimed_wait_common", "queue_pop"),
            g(&CYCLE, "__lll_lock_wait", "transfer"),
            g(&[PID], "pause", "main"),
            g(&[READER], "read", "db_query"),
            g(&[SLEEPER], "clock_nanosleep", "backoff"),
        ],
    }
}

/// The model once the stop's analysis answered, and the effects that stop asked for.
pub fn hung_model_and_effects() -> (Model, Vec<Effect>) {
    let mut m = Model::new(PID, "/srv/bin/accounts --port 8080", false);
    update(&mut m, Msg::Kernel(hung_views()));
    let fx = update(
        &mut m,
        Msg::Tracer(event(1, 1500, EventKind::AllStopped(Box::new(snapshot())))),
    );
    let gen = m.waits.gen;
    update(&mut m, Msg::Waits(Box::new(hung_waits(gen))));
    (m, fx)
}

pub fn hung_model() -> Model {
    hung_model_and_effects().0
}

/// With `G` pressed and the walk answered.
pub fn grouped_model() -> Model {
    let mut m = hung_model();
    update(&mut m, Msg::ToggleGroups);
    let gen = m.waits.gen;
    update(&mut m, Msg::Groups(Box::new(hung_groups(gen))));
    m
}
