//! A wait in a few words, for a table column: "mutex <m_accounts> held by 4250", "read fd 9
//! socket -> 10.0.0.5:5432, 41 s", "cond <queue_cv>", "running"; and a deadlock on one line,
//! "DEADLOCK: 4242 -> 4243 -> 4242 (mutex <m1>, <m0>)". `describe` says the same in full
//! sentences for the dump.
//!
//! The text may carry the target's own strings (symbols, paths): callers sanitise it before a
//! terminal.

use super::describe::{duration, owner_state, OwnerState};
use super::facts::ProcessFacts;
use super::waits::{FdWait, LockKind, LockWait, Owner, Role, ThreadWait, Wait};
use super::Deadlock;
use crate::procinfo::fds::FdTarget;
use crate::procinfo::net::Proto;
use crate::tracer::Tid;
use std::collections::BTreeMap;

/// `<m_accounts>`, `<queue+0x28>`, or the bare address without a symbol.
pub fn lock_name(addr: u64, facts: &ProcessFacts) -> String {
    match facts.symbols.get(&addr) {
        Some(s) if s.offset == 0 => format!("<{}>", s.name),
        Some(s) => format!("<{}+{:#x}>", s.name, s.offset),
        None => format!("{addr:#x}"),
    }
}

/// The kind of lock as the column says it.
fn kind_word(l: &LockWait) -> &'static str {
    match l.kind {
        LockKind::Mutex if l.pi => "pi-mutex",
        LockKind::Mutex => "mutex",
        LockKind::Rwlock => "rwlock",
        LockKind::Condvar => "cond",
        LockKind::Semaphore => "sem",
        LockKind::Join => "join",
        LockKind::Futex => "futex",
    }
}

fn holder(owner: Tid, facts: &ProcessFacts) -> String {
    match owner_state(owner, facts) {
        OwnerState::Live(t) | OwnerState::NotHere(t) => format!("held by {t}"),
        OwnerState::Exited(t) => format!("held by {t} (exited)"),
        OwnerState::OtherProcess { tid, pid, .. } => format!("held by {tid} (process {pid})"),
    }
}

pub fn lock_brief(l: &LockWait, tid: Tid, facts: &ProcessFacts) -> String {
    if l.refused && !l.identified {
        return "pi-mutex refused (EDEADLK), parked".to_string();
    }
    let name = lock_name(l.addr, facts);
    if l.kind == LockKind::Join {
        return match l.owner {
            Owner::Thread(t) => format!("join {t}"),
            _ => "join".to_string(),
        };
    }
    let mut s = match (l.kind, l.role) {
        (LockKind::Rwlock, Some(Role::Read)) => format!("rwlock {name} (read)"),
        (LockKind::Rwlock, Some(Role::Write)) => format!("rwlock {name} (write)"),
        _ => format!("{} {name}", kind_word(l)),
    };
    let owner = match l.owner {
        Owner::Thread(o) if o == tid => Some("held by itself".to_string()),
        Owner::Thread(o) => Some(holder(o, facts)),
        Owner::Readers => Some("held by readers".to_string()),
        Owner::Unknown => Some("owner unknown".to_string()),
        Owner::NotRecorded => None,
    };
    if let Some(o) = owner {
        s.push(' ');
        s.push_str(&o);
    }
    if l.refused {
        s.push_str(", refused (EDEADLK)");
    }
    if l.owner_died {
        s.push_str(", owner died");
    }
    s
}

/// What a descriptor is, shortly: `socket -> 10.0.0.5:5432`, `pipe:[88123]`, a path.
fn fd_brief_target(fd: i32, facts: &ProcessFacts) -> String {
    let Some(e) = facts.fds.get(&fd) else {
        return "(closed)".to_string();
    };
    match &e.target {
        FdTarget::Path(p) => p.clone(),
        FdTarget::Pipe(i) => format!("pipe:[{i}]"),
        FdTarget::Socket(i) => match facts.sockets.get(*i) {
            Some(s) if s.proto == Proto::Unix => format!("unix {}", s.local),
            Some(s) => match s.peer.filter(|_| s.has_peer()) {
                Some(p) => format!("socket -> {p}"),
                None => format!("socket {} ({})", s.local, s.state),
            },
            None => format!("socket:[{i}]"),
        },
        FdTarget::Anon(k) if k == "eventpoll" => {
            let n = facts.fdinfo.get(&fd).map_or(0, |i| i.epoll.len());
            format!("epoll ({n} fds)")
        }
        FdTarget::Anon(k) => k.clone(),
        FdTarget::Other(s) => s.clone(),
    }
}

pub fn fd_brief(f: &FdWait, facts: &ProcessFacts) -> String {
    match f.fds.as_slice() {
        [] => f.call.clone(),
        [one] => format!("{} fd {one} {}", f.call, fd_brief_target(*one, facts)),
        many => {
            let fds: Vec<String> = many.iter().map(i32::to_string).collect();
            format!("{} fds {}", f.call, fds.join(","))
        }
    }
}

/// The wait in a few words, with how long when known.
pub fn wait_brief(w: &ThreadWait, facts: &ProcessFacts) -> String {
    let mut s = match &w.wait {
        Wait::Running => "running".to_string(),
        Wait::Lock(l) => lock_brief(l, w.tid, facts),
        Wait::Fd(f) => fd_brief(f, facts),
        Wait::Sleep { call } => format!("sleep ({call})"),
        Wait::SignalWait { call } => format!("signal wait ({call})"),
        Wait::Child { pid, .. } if *pid > 0 => format!("wait child {pid}"),
        Wait::Child { .. } => "wait child".to_string(),
        Wait::Vfork => match facts.children.get(&w.tid).and_then(|c| c.first()) {
            Some(c) => format!("vfork, child {c}"),
            None => "vfork".to_string(),
        },
        Wait::SignalStop => "job-control stop".to_string(),
        Wait::Disk { call: Some(c), .. } => {
            let name = c.split('(').next().unwrap_or(c);
            format!("D in {name}")
        }
        Wait::Disk { call: None, .. } => "D (no syscall)".to_string(),
        Wait::Syscall { call } => {
            let name = call.split('(').next().unwrap_or(call);
            format!("in {name}")
        }
        Wait::NotInSyscall => "asleep (no syscall)".to_string(),
        Wait::Exited => "zombie".to_string(),
        Wait::Unknown => "?".to_string(),
    };
    if let Some(ms) = w.since_ms.filter(|ms| *ms >= 1000) {
        s.push_str(&format!(", {}", duration(ms)));
    }
    s
}

/// `DEADLOCK: 4242 -> 4243 -> 4244 -> 4242 (mutex <m1>, <m2>, <m0>)`: each thread waits for
/// the lock after it in the list, held by the next thread.
pub fn deadlock_line(
    d: &Deadlock,
    waits: &BTreeMap<Tid, ThreadWait>,
    facts: &ProcessFacts,
) -> String {
    let mut path: Vec<String> = d.tids.iter().map(Tid::to_string).collect();
    if let Some(first) = d.tids.first() {
        path.push(first.to_string());
    }
    let mut last_kind = "";
    let locks: Vec<String> = d
        .tids
        .iter()
        .zip(&d.locks)
        .map(|(t, addr)| {
            let kind = waits
                .get(t)
                .and_then(|w| w.wait.lock())
                .map_or("lock", kind_word);
            let name = lock_name(*addr, facts);
            let s = if kind == last_kind {
                name
            } else {
                format!("{kind} {name}")
            };
            last_kind = kind;
            s
        })
        .collect();
    format!("DEADLOCK: {} ({})", path.join(" -> "), locks.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::facts::{DataSymbol, Elsewhere};
    use crate::procinfo::fds::FdEntry;
    use crate::procinfo::net::SocketTable;

    fn facts() -> ProcessFacts {
        let mut f = ProcessFacts {
            pid: 100,
            live: [100, 101, 102].into(),
            names: [(101, "worker-7".to_string())].into(),
            holders_complete: true,
            ..Default::default()
        };
        for (addr, name, offset) in [(0x5000, "m_accounts", 0), (0x6028, "queue", 0x28)] {
            let name = name.to_string();
            f.symbols.insert(addr, DataSymbol { name, offset });
        }
        f.elsewhere.insert(4238, Elsewhere::Gone);
        f
    }

    fn lock(kind: LockKind, addr: u64, owner: Owner) -> LockWait {
        LockWait {
            kind,
            futex: addr,
            addr,
            owner,
            role: None,
            pi: false,
            owner_died: false,
            by: None,
            refused: false,
            identified: false,
        }
    }

    fn wait(tid: Tid, wait: Wait, since_ms: Option<u64>) -> ThreadWait {
        ThreadWait {
            tid,
            wait,
            since_ms,
            at: None,
            confirmed: true,
        }
    }

    #[test]
    fn locks_in_a_few_words() {
        let f = facts();
        let b = |l: LockWait| lock_brief(&l, 102, &f);
        assert_eq!(
            b(lock(LockKind::Mutex, 0x5000, Owner::Thread(101))),
            "mutex <m_accounts> held by 101"
        );
        assert_eq!(
            b(lock(LockKind::Mutex, 0x5000, Owner::Thread(4238))),
            "mutex <m_accounts> held by 4238 (exited)"
        );
        assert_eq!(
            b(lock(LockKind::Mutex, 0x5000, Owner::Thread(102))),
            "mutex <m_accounts> held by itself"
        );
        assert_eq!(
            b(lock(LockKind::Condvar, 0x6028, Owner::NotRecorded)),
            "cond <queue+0x28>"
        );
        assert_eq!(
            b(lock(LockKind::Futex, 0x7000, Owner::NotRecorded)),
            "futex 0x7000"
        );
        let mut rw = lock(LockKind::Rwlock, 0x7000, Owner::Readers);
        rw.role = Some(Role::Write);
        assert_eq!(b(rw), "rwlock 0x7000 (write) held by readers");
        let mut pi = lock(LockKind::Mutex, 0x5000, Owner::Thread(101));
        pi.pi = true;
        assert_eq!(b(pi.clone()), "pi-mutex <m_accounts> held by 101");
        pi.refused = true;
        assert_eq!(b(pi.clone()), "pi-mutex refused (EDEADLK), parked");
        pi.identified = true;
        assert_eq!(
            b(pi),
            "pi-mutex <m_accounts> held by 101, refused (EDEADLK)"
        );
        assert_eq!(b(lock(LockKind::Join, 0, Owner::Thread(101))), "join 101");
    }

    #[test]
    fn descriptors_and_the_rest_with_how_long() {
        let mut f = facts();
        f.fds.insert(
            3,
            FdEntry {
                fd: 3,
                target: FdTarget::Pipe(88123),
                read: true,
                write: false,
            },
        );
        f.fds.insert(
            9,
            FdEntry {
                fd: 9,
                target: FdTarget::Socket(555),
                read: true,
                write: true,
            },
        );
        f.sockets = SocketTable::parse(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:9C40 0500000A:1538 01 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 20 4 0 10 -1\n",
            "",
            "",
        );
        let fd = |fds: Vec<i32>| {
            Wait::Fd(FdWait {
                call: "read".into(),
                fds,
            })
        };
        assert_eq!(
            wait_brief(&wait(100, fd(vec![9]), Some(41_200)), &f),
            "read fd 9 socket -> 10.0.0.5:5432, 41 s"
        );
        assert_eq!(
            wait_brief(&wait(100, fd(vec![3]), Some(300)), &f),
            "read fd 3 pipe:[88123]",
            "under a second is not worth the room"
        );
        assert_eq!(
            wait_brief(&wait(100, fd(vec![3, 4]), None), &f),
            "read fds 3,4"
        );
        assert_eq!(
            wait_brief(&wait(100, fd(vec![7]), None), &f),
            "read fd 7 (closed)"
        );
        let call = |c: &str| c.to_string();
        let cases = [
            (Wait::Running, "running"),
            (
                Wait::Sleep {
                    call: call("clock_nanosleep"),
                },
                "sleep (clock_nanosleep)",
            ),
            (
                Wait::SignalWait {
                    call: call("pause"),
                },
                "signal wait (pause)",
            ),
            (
                Wait::Child {
                    call: call("wait4"),
                    pid: 77,
                },
                "wait child 77",
            ),
            (Wait::Vfork, "vfork"),
            (
                Wait::Syscall {
                    call: call("ioctl(3, 0x5401, 0x0)"),
                },
                "in ioctl",
            ),
            (
                Wait::Disk {
                    call: Some(call("read(3, 0x0, 4096)")),
                    kstack: Vec::new(),
                },
                "D in read",
            ),
            (Wait::Exited, "zombie"),
            (Wait::Unknown, "?"),
        ];
        for (w, want) in cases {
            assert_eq!(wait_brief(&wait(100, w, None), &f), want);
        }
    }

    #[test]
    fn a_deadlock_on_one_line() {
        let mut f = facts();
        for (addr, name) in [(0x10, "m0"), (0x20, "m1"), (0x30, "m2")] {
            let name = name.to_string();
            f.symbols.insert(addr, DataSymbol { name, offset: 0 });
        }
        let waits: BTreeMap<Tid, ThreadWait> =
            [(4242, 0x20, 4243), (4243, 0x30, 4244), (4244, 0x10, 4242)]
                .into_iter()
                .map(|(t, a, o)| {
                    let w = wait(
                        t,
                        Wait::Lock(lock(LockKind::Mutex, a, Owner::Thread(o))),
                        None,
                    );
                    (t, w)
                })
                .collect();
        let d = Deadlock {
            tids: vec![4242, 4243, 4244],
            locks: vec![0x20, 0x30, 0x10],
        };
        assert_eq!(
            deadlock_line(&d, &waits, &f),
            "DEADLOCK: 4242 -> 4243 -> 4244 -> 4242 (mutex <m1>, <m2>, <m0>)"
        );
        let one = Deadlock {
            tids: vec![4242],
            locks: vec![0x99],
        };
        assert_eq!(
            deadlock_line(&one, &waits, &f),
            "DEADLOCK: 4242 -> 4242 (mutex 0x99)"
        );
    }
}
