//! Threads an all-stop cannot stop, and why, as /proc tells it.
//!
//! PTRACE_INTERRUPT stops a thread the next time it could take a signal. A thread in
//! uninterruptible sleep (D) never can until its wait ends: a vfork() parent waits for its
//! child to exec or exit (Java, Python's subprocess and posix_spawn do this all the time),
//! and a thread stuck on a dead NFS server or a FUSE daemon may wait for ever. The engine
//! looks at such stragglers after a moment (`engine/stragglers.rs`) and completes the
//! all-stop without them; the interrupt stays queued, so such a thread stops (before running
//! any user instruction) as soon as its wait ends.

use super::thread::Tid;
use crate::procinfo::{blocked, ProcReader};
use serde::{Serialize, Serializer};
use std::fmt;

/// Why a thread did not stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unstoppable {
    /// A vfork() parent in D until its child execs or exits.
    Vfork { child: Option<Tid> },
    /// In D state elsewhere, where the kernel says it sleeps.
    Uninterruptible { wchan: KernelName },
    /// No stop reported in time, for no reason /proc shows (`state` as /proc says).
    NoReport { state: char },
}

impl fmt::Display for Unstoppable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vfork { child: Some(c) } => write!(f, "in vfork, child {c}"),
            Self::Vfork { child: None } => write!(f, "in vfork"),
            Self::Uninterruptible { wchan } if wchan.as_str().is_empty() => {
                write!(f, "in D state")
            }
            Self::Uninterruptible { wchan } => write!(f, "in D state: {}", wchan.as_str()),
            Self::NoReport { state } => write!(f, "no stop reported (state {state})"),
        }
    }
}

/// A kernel function name kept inline, so that a stop cause stays a plain `Copy` value.
/// Only the characters kernel symbols are made of are kept, which also keeps it safe to
/// print.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KernelName {
    len: u8,
    bytes: [u8; 47],
}

impl KernelName {
    pub fn new(name: &str) -> Self {
        let mut out = KernelName {
            len: 0,
            bytes: [0; 47],
        };
        for b in name
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            .take(47)
        {
            out.bytes[out.len as usize] = b;
            out.len += 1;
        }
        out
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for KernelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for KernelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why `tid` has not answered its interrupt: at once for a vfork parent (only its child
/// ends that wait), and for any other thread only when `give_up`. None: it may still stop
/// on its own (or it is gone, and its exit status will say so).
pub(crate) fn look(
    reader: &mut ProcReader,
    pid: i32,
    tid: Tid,
    give_up: bool,
) -> Option<Unstoppable> {
    let k = reader.thread(pid, tid).ok()?;
    let vfork = k.state == 'D'
        && (blocked::in_vfork(&k, None)
            || blocked::in_vfork(&k, blocked::kernel_stack(pid, tid).ok().as_deref()));
    if vfork {
        let child = blocked::children(pid, tid).first().copied();
        return Some(Unstoppable::Vfork { child });
    }
    if !give_up {
        return None;
    }
    Some(match k.state {
        'D' => Unstoppable::Uninterruptible {
            wchan: KernelName::new(k.wchan.as_deref().unwrap_or("")),
        },
        state => Unstoppable::NoReport { state },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_the_inspector_shows_them() {
        assert_eq!(
            Unstoppable::Vfork { child: Some(1234) }.to_string(),
            "in vfork, child 1234"
        );
        let d = Unstoppable::Uninterruptible {
            wchan: KernelName::new("nfs_wait_bit\x1b[2J_killable"),
        };
        assert_eq!(d.to_string(), "in D state: nfs_wait_bit2J_killable");
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"reason":"uninterruptible","wchan":"nfs_wait_bit2J_killable"}"#
        );
        assert_eq!(
            KernelName::new(&"x".repeat(100)).as_str().len(),
            47,
            "long names are cut, not refused"
        );
    }
}
