//! The analysis in `ptscope dump --json`: per-thread `"waits"`, and top-level `"summary"`,
//! `"deadlocks"` and `"groups"` (the README documents the schema). Fields that do not apply
//! to a kind are left out; names and paths are raw (JSON escapes control characters).

use super::describe::{owner_state, wait_text, OwnerState};
use super::waits::{LockKind, Owner, Role, ThreadWait, Wait};
use super::Analysis;
use crate::symbols::Frame;
use crate::tracer::Tid;
use serde_json::{json, Map, Value};

fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// One thread's `"waits"` object; null when nothing is known (no kernel view).
pub fn wait(w: &ThreadWait, a: &Analysis) -> Value {
    if w.wait == Wait::Unknown {
        return Value::Null;
    }
    let facts = &a.facts;
    let mut m = Map::new();
    m.insert("kind".into(), w.wait.kind().into());
    m.insert("text".into(), wait_text(w, facts).into());
    match &w.wait {
        Wait::Lock(l) => {
            m.insert("addr".into(), hex(l.addr));
            if l.futex != l.addr {
                m.insert("futex".into(), hex(l.futex));
            }
            let sym = facts.symbols.get(&l.addr).map(|s| {
                if s.offset == 0 {
                    s.name.clone()
                } else {
                    format!("{}+{:#x}", s.name, s.offset)
                }
            });
            m.insert("symbol".into(), sym.into());
            let owner = match l.owner {
                Owner::Thread(t) => Some(t),
                _ => None,
            };
            m.insert("owner".into(), owner.into());
            if let Some(o) = owner {
                let alive = matches!(
                    owner_state(o, facts),
                    OwnerState::Live(_) | OwnerState::OtherProcess { .. }
                );
                m.insert("owner_alive".into(), alive.into());
            }
            let recorded = match l.owner {
                Owner::Thread(_) => "recorded",
                Owner::Readers => "readers",
                Owner::NotRecorded => "not-recorded",
                Owner::Unknown => "unknown",
            };
            m.insert("owner_record".into(), recorded.into());
            if l.kind == LockKind::Mutex {
                m.insert("pi".into(), l.pi.into());
            }
            if let Some(r) = l.role {
                let role = match r {
                    Role::Read => "read",
                    Role::Write => "write",
                };
                m.insert("role".into(), role.into());
            }
            if l.refused {
                m.insert("refused".into(), true.into());
            }
            if l.owner_died {
                m.insert("owner_died".into(), true.into());
            }
            m.insert("by".into(), l.by.clone().into());
        }
        Wait::Fd(f) => {
            m.insert("call".into(), f.call.clone().into());
            if let Some(first) = f.fds.first() {
                m.insert("fd".into(), (*first).into());
            }
            if f.fds.len() != 1 {
                m.insert("fds".into(), f.fds.clone().into());
            }
            if let [one] = f.fds.as_slice() {
                let writing = f.call.starts_with("write") || f.call.starts_with("send");
                m.insert(
                    "target".into(),
                    super::describe::fd_target(*one, writing, facts).into(),
                );
            }
        }
        Wait::Child { call, pid } => {
            m.insert("call".into(), call.clone().into());
            m.insert("pid".into(), (*pid).into());
            let kids = facts.children.get(&w.tid).cloned().unwrap_or_default();
            m.insert("children".into(), kids.into());
        }
        Wait::Vfork => {
            let child = facts.children.get(&w.tid).and_then(|c| c.first().copied());
            m.insert("child".into(), child.into());
        }
        Wait::Sleep { call } | Wait::SignalWait { call } | Wait::Syscall { call } => {
            m.insert("call".into(), call.clone().into());
        }
        Wait::Disk { call, kstack } => {
            m.insert("call".into(), call.clone().into());
            m.insert("kstack".into(), kstack.clone().into());
        }
        _ => {}
    }
    m.insert("since_ms".into(), w.since_ms.into());
    Value::Object(m)
}

/// `"summary": {"threads": N, "kinds": {"mutex": 3, ...}, "deadlocks": 1, "in_deadlock": 3}`.
pub fn summary(a: &Analysis) -> Value {
    let kinds: Map<String, Value> = a
        .counts()
        .into_iter()
        .map(|(k, n)| (k.to_string(), n.into()))
        .collect();
    json!({
        "threads": a.waits.len(),
        "kinds": kinds,
        "deadlocks": a.deadlocks.len(),
        "in_deadlock": a.in_deadlock(),
    })
}

/// `"deadlocks": [{"tids": [...], "locks": ["0x..."]}]`.
pub fn deadlocks(a: &Analysis) -> Value {
    a.deadlocks
        .iter()
        .map(|d| {
            json!({
                "tids": d.tids,
                "locks": d.locks.iter().map(|l| format!("{l:#x}")).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// `"groups": [{"count": N, "tids": [...], "frames": [...]}]`, largest first.
pub fn groups<'a>(a: &Analysis, frames_of: impl Fn(Tid) -> &'a [Frame]) -> Value {
    a.groups
        .iter()
        .map(|g| {
            let frames: Vec<Value> = frames_of(g.tids[0]).iter().map(Frame::to_json).collect();
            json!({"count": g.tids.len(), "tids": g.tids, "frames": frames})
        })
        .collect()
}
