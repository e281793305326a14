//! A wait in words: "mutex 0x55d0c0a04040 <m_accounts> held by 4250 "worker-7"", "read fd 3
//! pipe:[88123] (write end: this process fd 4)", and the same facts as JSON fields.
//!
//! The text may carry the target's own strings (thread names, paths, symbols): callers
//! sanitise it before a terminal; JSON escapes it by itself.

use super::facts::{Elsewhere, ProcessFacts};
use super::waits::{FdWait, LockKind, LockWait, Owner, Role, ThreadWait, Wait};
use crate::procinfo::fds::FdTarget;
use crate::procinfo::net::{Endpoint, Proto};
use crate::symbols::Frame;
use crate::tracer::Tid;

/// How an owner stands, as far as this process is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerState {
    Live(Tid),
    Exited(Tid),
    OtherProcess {
        tid: Tid,
        pid: i32,
        comm: String,
    },
    /// Not known to be gone but not a thread here either (the check could not be made).
    NotHere(Tid),
}

pub fn owner_state(owner: Tid, facts: &ProcessFacts) -> OwnerState {
    if facts.live.contains(&owner) {
        return OwnerState::Live(owner);
    }
    match facts.elsewhere.get(&owner) {
        Some(Elsewhere::Gone) => OwnerState::Exited(owner),
        Some(Elsewhere::Process { pid, comm }) => OwnerState::OtherProcess {
            tid: owner,
            pid: *pid,
            comm: comm.clone(),
        },
        None => OwnerState::NotHere(owner),
    }
}

/// `4250 "worker-7"`, or the bare tid when the name is unknown.
pub fn thread_label(tid: Tid, facts: &ProcessFacts) -> String {
    match facts.names.get(&tid) {
        Some(n) => format!("{tid} \"{n}\""),
        None => tid.to_string(),
    }
}

/// `0x55d0c0a04040 <m_accounts>` / `0x... <queue+0x28>` / `0x...`.
pub fn addr_label(addr: u64, facts: &ProcessFacts) -> String {
    match facts.symbols.get(&addr) {
        Some(s) if s.offset == 0 => format!("{addr:#x} <{}>", s.name),
        Some(s) => format!("{addr:#x} <{}+{:#x}>", s.name, s.offset),
        None => format!("{addr:#x}"),
    }
}

fn holder_text(owner: Tid, facts: &ProcessFacts) -> String {
    match owner_state(owner, facts) {
        OwnerState::Live(t) => format!("held by {}", thread_label(t, facts)),
        OwnerState::Exited(t) => {
            format!("held by {t}, which has exited (it can never be released)")
        }
        OwnerState::OtherProcess { tid, pid, comm } => format!(
            "held by {tid}, not a thread of this process (a thread of process {pid} \"{comm}\" \
             now: a process-shared lock, or its holder exited and the id was reused)"
        ),
        OwnerState::NotHere(t) => format!("held by {t}, not a thread of this process"),
    }
}

pub fn lock_text(l: &LockWait, tid: Tid, facts: &ProcessFacts) -> String {
    if l.refused {
        if !l.identified {
            return "parked for ever by glibc in __pthread_mutex_lock_full: the kernel refused a \
                priority-inheritance lock with EDEADLK (taking it would deadlock) or ESRCH (its \
                holder died); the mutex could not be identified"
                .to_string();
        }
        let held = match l.owner {
            Owner::Thread(o) if o == tid => "held by this same thread".to_string(),
            Owner::Thread(o) => holder_text(o, facts),
            _ => "holder not recorded".to_string(),
        };
        return format!(
            "priority-inheritance mutex {} {held}: the kernel refused it with EDEADLK (taking it \
             would deadlock) and glibc parked the thread for ever",
            addr_label(l.addr, facts)
        );
    }
    let mut s = match (l.kind, l.role) {
        (LockKind::Rwlock, Some(Role::Read)) => "rwlock (to read)".to_string(),
        (LockKind::Rwlock, Some(Role::Write)) => "rwlock (to write)".to_string(),
        (LockKind::Mutex, _) if l.pi => "priority-inheritance mutex".to_string(),
        (kind, _) => kind.name().to_string(),
    };
    if l.kind == LockKind::Join {
        return match l.owner {
            Owner::Thread(t) => match owner_state(t, facts) {
                OwnerState::Live(_) => {
                    format!("join: waits for {} to exit", thread_label(t, facts))
                }
                _ => format!("join: waits for {t} to exit"),
            },
            _ => "join: waits for a thread to exit".to_string(),
        };
    }
    s.push(' ');
    s.push_str(&addr_label(l.addr, facts));
    let owner = match l.owner {
        Owner::Thread(o) if o == tid && l.kind == LockKind::Mutex => {
            "held by this same thread (relocking a mutex it holds)".to_string()
        }
        Owner::Thread(o) => match l.kind {
            LockKind::Rwlock => format!("{} for writing", holder_text(o, facts)),
            _ => holder_text(o, facts),
        },
        Owner::Readers => "held by readers (readers are not recorded)".to_string(),
        Owner::Unknown => "owner not recorded (the lock reads as free)".to_string(),
        Owner::NotRecorded => match l.kind {
            LockKind::Condvar | LockKind::Semaphore => "(no owner)".to_string(),
            _ => "(owner not recorded by this lock)".to_string(),
        },
    };
    s.push(' ');
    s.push_str(&owner);
    if l.owner_died {
        s.push_str(", whose holder died (robust: the next locker gets EOWNERDEAD)");
    }
    if let Some(by) = &l.by {
        if l.kind == LockKind::Futex {
            s.push_str(&format!(" in {by}"));
        }
    }
    s
}

fn endpoint(e: &Endpoint) -> String {
    e.to_string()
}

fn holders_text(
    inode: u64,
    me: (i32, i32),
    want_write: Option<bool>,
    facts: &ProcessFacts,
) -> String {
    let list: Vec<String> = facts
        .holders
        .get(&inode)
        .into_iter()
        .flatten()
        .filter(|h| (h.pid, h.fd) != me)
        .filter(|h| want_write.is_none_or(|w| if w { h.write } else { h.read }))
        .map(|h| {
            if h.pid == facts.pid {
                format!("this process fd {}", h.fd)
            } else {
                format!("{} \"{}\" fd {}", h.pid, h.comm, h.fd)
            }
        })
        .collect();
    if list.is_empty() {
        if facts.holders_complete {
            "none open".to_string()
        } else {
            "not found (search incomplete)".to_string()
        }
    } else {
        list.join(", ")
    }
}

/// What fd N of the process is, in words.
pub fn fd_target(fd: i32, writing: bool, facts: &ProcessFacts) -> String {
    let Some(e) = facts.fds.get(&fd) else {
        return format!("fd {fd} (closed since)");
    };
    let me = (facts.pid, fd);
    match &e.target {
        FdTarget::Path(p) => p.clone(),
        FdTarget::Pipe(i) => {
            let (end, want) = if writing {
                ("read end", false)
            } else {
                ("write end", true)
            };
            format!(
                "pipe:[{i}] ({end}: {})",
                holders_text(*i, me, Some(want), facts)
            )
        }
        FdTarget::Socket(i) => match facts.sockets.get(*i) {
            Some(s) if s.proto == Proto::Unix => {
                format!("socket unix {} ({})", endpoint(&s.local), s.state)
            }
            Some(s) => {
                let mut t = format!("socket {}", endpoint(&s.local));
                if s.has_peer() {
                    if let Some(p) = s.peer {
                        t.push_str(&format!(" -> {p}"));
                    }
                }
                t.push_str(&format!(" ({} {})", s.proto.name(), s.state));
                if let Some(peer) = facts.sockets.tcp_peer_of(*i) {
                    t.push_str(&format!(
                        ", peer held by {}",
                        holders_text(peer, (0, -1), None, facts)
                    ));
                }
                t
            }
            None => format!("socket:[{i}]"),
        },
        FdTarget::Anon(kind) if kind == "eventfd" => match facts.fdinfo.get(&fd) {
            Some(info) => match info.eventfd_count {
                Some(c) => format!("eventfd (count {c})"),
                None => "eventfd".to_string(),
            },
            None => "eventfd".to_string(),
        },
        FdTarget::Anon(kind) if kind == "eventpoll" => {
            let mut watched = facts
                .fdinfo
                .get(&fd)
                .map(|i| i.epoll.clone())
                .unwrap_or_default();
            // The kernel lists the set in its tree's order, not by descriptor.
            watched.sort_by_key(|w| w.fd);
            if watched.is_empty() {
                return "epoll set watching nothing".to_string();
            }
            let parts: Vec<String> = watched
                .iter()
                .map(|w| format!("fd {} {}", w.fd, fd_short(w.fd, facts)))
                .collect();
            format!("epoll set watching {}", parts.join(", "))
        }
        FdTarget::Anon(kind) => format!("anon_inode:[{kind}]"),
        FdTarget::Other(s) => s.clone(),
    }
}

/// A watched descriptor in an epoll set, without going further (no nested sets, no holders).
fn fd_short(fd: i32, facts: &ProcessFacts) -> String {
    match facts.fds.get(&fd).map(|e| &e.target) {
        Some(FdTarget::Path(p)) => format!("({p})"),
        Some(FdTarget::Pipe(i)) => format!("(pipe:[{i}])"),
        Some(FdTarget::Socket(i)) => match facts.sockets.get(*i) {
            Some(s) if s.has_peer() => format!(
                "(socket {} -> {})",
                endpoint(&s.local),
                s.peer.map(|p| p.to_string()).unwrap_or_default()
            ),
            Some(s) => format!("(socket {} {})", endpoint(&s.local), s.state),
            None => format!("(socket:[{i}])"),
        },
        Some(FdTarget::Anon(k)) => format!("({k})"),
        Some(FdTarget::Other(s)) => format!("({s})"),
        None => "(closed)".to_string(),
    }
}

fn writes(call: &str) -> bool {
    call.starts_with("write")
        || call.starts_with("pwrite")
        || call.starts_with("send")
        || call == "splice"
        || call == "connect"
}

pub fn fd_text(f: &FdWait, facts: &ProcessFacts) -> String {
    let writing = writes(&f.call);
    match f.fds.as_slice() {
        [] => format!("{} (no descriptors)", f.call),
        [one] => format!("{} fd {one} {}", f.call, fd_target(*one, writing, facts)),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|fd| format!("fd {fd} {}", fd_target(*fd, writing, facts)))
                .collect();
            format!("{} on {}", f.call, parts.join("; "))
        }
    }
}

/// The whole wait in words, with how long when known: "read fd 9 socket ... for 41 s".
pub fn wait_text(w: &ThreadWait, facts: &ProcessFacts) -> String {
    let mut s = match &w.wait {
        Wait::Running => "running".to_string(),
        Wait::Lock(l) => lock_text(l, w.tid, facts),
        Wait::Fd(f) => fd_text(f, facts),
        Wait::Sleep { call } => format!("sleeping ({call})"),
        Wait::SignalWait { call } => format!("waiting for a signal ({call})"),
        Wait::Child { call, pid } => {
            let kids = facts.children.get(&w.tid).cloned().unwrap_or_default();
            let kids = if kids.is_empty() {
                "no children of this thread left".to_string()
            } else {
                let k: Vec<String> = kids.iter().map(i32::to_string).collect();
                format!("children: {}", k.join(", "))
            };
            if *pid > 0 {
                format!("waiting for child {pid} ({call}; {kids})")
            } else {
                format!("waiting for a child ({call}; {kids})")
            }
        }
        Wait::Vfork => match facts.children.get(&w.tid).and_then(|c| c.first()) {
            Some(child) => format!(
                "in vfork(): stays in D until child {child} execs or exits (ptrace cannot stop it)"
            ),
            None => "in vfork(): stays in D until its child execs or exits".to_string(),
        },
        Wait::SignalStop => "stopped by a signal (job control) before ptscope came".to_string(),
        Wait::Disk { call, kstack } => {
            let mut t = match call {
                Some(c) => format!("uninterruptible (D) in {c}"),
                None => "uninterruptible (D), not in a system call".to_string(),
            };
            if !kstack.is_empty() {
                let shown: Vec<&str> = kstack.iter().take(6).map(String::as_str).collect();
                t.push_str(&format!(", kernel stack {}", shown.join(" < ")));
            }
            t
        }
        Wait::Syscall { call } => format!("in {call}"),
        Wait::NotInSyscall => "asleep outside a system call".to_string(),
        Wait::Exited => "exited (a zombie)".to_string(),
        Wait::Unknown => "unknown (no kernel view)".to_string(),
    };
    if let Some(ms) = w.since_ms {
        s.push_str(&format!(", for {}", duration(ms)));
    }
    s
}

/// 340 ms, 4.2 s, 41 s, 12 min 5 s, 3 h 20 min.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=9_999 => format!("{}.{} s", ms / 1000, (ms % 1000) / 100),
        10_000..=599_999 => format!("{} s", ms / 1000),
        600_000..=3_599_999 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// `ptscope_cycle_take (src/demo/hung/cycle.rs:30)`, the frame's function and line.
pub fn where_text(f: &Frame) -> String {
    let l = &f.location;
    let func = l.function.clone().unwrap_or_else(|| format!("{:#x}", f.pc));
    match (&l.file, l.line) {
        (Some(file), Some(line)) => format!("{func} ({file}:{line})"),
        _ => func,
    }
}

#[cfg(test)]
#[path = "describe_tests.rs"]
mod tests;
