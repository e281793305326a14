//! The x86-64 debug registers as ptrace reaches them, and what ptscope last wrote into each
//! thread's. Pure: the engine moves the values with PTRACE_POKEUSER / PTRACE_PEEKUSER at
//! `offsetof(struct user, u_debugreg[n])` (`user_offset`).
//!
//! DR0-DR3 hold the addresses; DR7 enables each of them (the local-enable bit L0-L3) for a
//! kind of access (RW bits: 01 data write, 11 data read or write; x86 has no read-only data
//! watch) over 1, 2, 4 or 8 bytes (LEN bits: 00, 01, 11, 10), the address aligned to the
//! length. DR6 says which condition was met (B0-B3) and whether a single step trapped (BS).

use super::error::{Result, TraceError};
use serde::Serialize;

/// DR0-DR3.
pub const SLOTS: usize = 4;
pub const DR6: usize = 6;
pub const DR7: usize = 7;
/// DR6 BS: the trap was (also) a single step.
pub const DR6_STEP: u64 = 1 << 14;

/// What a watchpoint watches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchKind {
    /// Data writes.
    Write,
    /// Data reads or writes.
    ReadWrite,
}

impl WatchKind {
    /// The DR7 RW field.
    fn rw_bits(self) -> u64 {
        match self {
            WatchKind::Write => 0b01,
            WatchKind::ReadWrite => 0b11,
        }
    }

    /// `w` or `rw`, as the Breakpoints pane shows it.
    pub fn short(self) -> &'static str {
        match self {
            WatchKind::Write => "w",
            WatchKind::ReadWrite => "rw",
        }
    }
}

/// The DR7 LEN field for a length the hardware supports.
fn len_bits(len: u8) -> Option<u64> {
    Some(match len {
        1 => 0b00,
        2 => 0b01,
        4 => 0b11,
        8 => 0b10,
        _ => return None,
    })
}

/// Byte offset of DRn in `struct user`, the address PTRACE_PEEKUSER/POKEUSER take.
pub fn user_offset(n: usize) -> usize {
    std::mem::offset_of!(libc::user, u_debugreg) + n * 8
}

/// The length a watch at `addr` covers: the one asked for, which the address must be aligned
/// to (the hardware compares addresses with the low bits masked off), or else the longest of
/// 8, 4, 2, 1 the address is aligned to.
pub fn choose_len(addr: u64, asked: Option<u8>) -> Result<u8> {
    match asked {
        Some(len) => {
            if len_bits(len).is_none() {
                return Err(TraceError::WatchLength(len));
            }
            if !addr.is_multiple_of(u64::from(len)) {
                return Err(TraceError::WatchMisaligned { addr, len });
            }
            Ok(len)
        }
        None => Ok([8u8, 4, 2, 1]
            .into_iter()
            .find(|l| addr.is_multiple_of(u64::from(*l)))
            .unwrap_or(1)),
    }
}

/// DR7 for the slots in use: `(kind, len)` of each.
pub fn dr7(slots: &[Option<(WatchKind, u8)>; SLOTS]) -> u64 {
    let mut v = 0;
    for (i, s) in slots.iter().enumerate() {
        let Some((kind, len)) = s else { continue };
        let Some(len) = len_bits(*len) else { continue };
        v |= 1 << (2 * i);
        v |= (kind.rw_bits() | len << 2) << (16 + 4 * i);
    }
    v
}

/// The slots DR6 says fired, lowest first.
pub fn fired(dr6: u64) -> impl Iterator<Item = usize> {
    (0..SLOTS).filter(move |i| dr6 & (1 << i) != 0)
}

/// What ptscope knows of one thread's debug registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DebugState {
    /// ptscope never wrote them: whatever is there is not ours to change.
    #[default]
    Untouched,
    /// A thread born while watchpoints were armed: the kernel gives a clone child a copy of its
    /// parent's DR7 value but none of the breakpoints behind it (checked here: DR7 reads back
    /// the parent's, DR0 reads 0, nothing fires). Not armed, but DR7 reads non-zero until
    /// written.
    Inherited,
    /// What ptscope last wrote.
    Written { addrs: [u64; SLOTS], dr7: u64 },
}

impl DebugState {
    /// The writes, in order, that give the thread these addresses and this DR7. The kernel
    /// checks an address against the length DR7 last gave its slot, so while addresses change
    /// DR7 is 0 (every slot one byte long, disabled).
    pub fn plan_arm(&self, addrs: [Option<u64>; SLOTS], dr7: u64) -> Vec<(usize, u64)> {
        let (have, have_dr7) = match *self {
            DebugState::Written { addrs, dr7 } => (Some(addrs), Some(dr7)),
            _ => (None, None),
        };
        let mut writes = Vec::new();
        let moves: Vec<(usize, u64)> = addrs
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
            .filter(|(i, a)| have.is_none_or(|h| h[*i] != *a))
            .collect();
        if !moves.is_empty() && have_dr7 != Some(0) {
            writes.push((DR7, 0));
        }
        writes.extend(moves);
        let dr7_now = if writes.first() == Some(&(DR7, 0)) {
            Some(0)
        } else {
            have_dr7
        };
        if dr7_now != Some(dr7) {
            writes.push((DR7, dr7));
        }
        writes
    }

    /// The write that leaves nothing of ours enabled, if one is due.
    pub fn plan_disarm(&self) -> Option<(usize, u64)> {
        match *self {
            DebugState::Untouched => None,
            DebugState::Written { dr7: 0, .. } => None,
            DebugState::Inherited | DebugState::Written { .. } => Some((DR7, 0)),
        }
    }

    /// At detach: DR7 0 and our addresses gone.
    pub fn plan_clear(&self) -> Vec<(usize, u64)> {
        let mut writes: Vec<(usize, u64)> = self.plan_disarm().into_iter().collect();
        if let DebugState::Written { addrs, .. } = *self {
            writes.extend(
                addrs
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| **a != 0)
                    .map(|(i, _)| (i, 0)),
            );
        }
        writes
    }

    /// Records one successful write. A thread whose registers ptscope had not written yet gets
    /// DR7 = 0 first (`plan_arm`), so only its addresses are unknown: they count as 0, and the
    /// next arm rewrites every slot it uses.
    pub fn wrote(&mut self, reg: usize, value: u64) {
        let (mut addrs, mut dr7) = match *self {
            DebugState::Written { addrs, dr7 } => (addrs, dr7),
            _ => ([0; SLOTS], 0),
        };
        match reg {
            r if r < SLOTS => addrs[r] = value,
            DR7 => dr7 = value,
            _ => return,
        }
        *self = DebugState::Written { addrs, dr7 };
    }

    /// Whether a watchpoint of ours may fire in this thread.
    pub fn armed(&self) -> bool {
        matches!(*self, DebugState::Written { dr7, .. } if dr7 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr7_encodes_enable_kind_and_length_per_slot() {
        // Slot 0: write, 8 bytes: L0, RW0 = 01, LEN0 = 10.
        assert_eq!(
            dr7(&[Some((WatchKind::Write, 8)), None, None, None]),
            0x9_0001
        );
        // Slot 2: read or write, 4 bytes: L2 (bit 4), RW2 = 11, LEN2 = 11 at bits 24-27.
        assert_eq!(
            dr7(&[None, None, Some((WatchKind::ReadWrite, 4)), None]),
            0xf00_0010
        );
        let all = dr7(&[
            Some((WatchKind::Write, 1)),
            Some((WatchKind::Write, 2)),
            Some((WatchKind::ReadWrite, 4)),
            Some((WatchKind::ReadWrite, 8)),
        ]);
        assert_eq!(all & 0xff, 0b0101_0101, "local enables only");
        assert_eq!(all >> 16, 0xbf51);
        assert_eq!(dr7(&[None; SLOTS]), 0);
    }

    #[test]
    fn length_follows_alignment_or_must_match_it() {
        assert_eq!(choose_len(0x1000, None), Ok(8));
        assert_eq!(choose_len(0x1004, None), Ok(4));
        assert_eq!(choose_len(0x1002, None), Ok(2));
        assert_eq!(choose_len(0x1003, None), Ok(1));
        assert_eq!(choose_len(0x1004, Some(2)), Ok(2));
        assert_eq!(
            choose_len(0x1004, Some(8)),
            Err(TraceError::WatchMisaligned {
                addr: 0x1004,
                len: 8
            })
        );
        assert_eq!(choose_len(0x1000, Some(3)), Err(TraceError::WatchLength(3)));
        let e = choose_len(0x1002, Some(4)).unwrap_err().to_string();
        assert!(e.contains("multiple of 4"), "{e}");
    }

    #[test]
    fn dr6_names_the_slots_that_fired() {
        // As PTRACE_PEEKUSER gives it: reserved bits read as ones.
        assert_eq!(fired(0xffff_0ff1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(fired(0xffff_4ff0 | 0b1010).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(fired(0xffff_4ff0).count(), 0);
        assert_ne!(0xffff_4ff0 & DR6_STEP, 0);
        assert_eq!(0xffff_0ff1 & DR6_STEP, 0);
    }

    #[test]
    fn user_offsets_are_those_of_struct_user() {
        // offsetof(struct user, u_debugreg) on x86-64 glibc.
        assert_eq!(user_offset(0), 848);
        assert_eq!(user_offset(7), 848 + 56);
    }

    #[test]
    fn arming_writes_addresses_with_dr7_off_then_dr7() {
        let a = [Some(0x1000), None, Some(0x2004), None];
        let want = 0x1234;
        let fresh = DebugState::Untouched.plan_arm(a, want);
        assert_eq!(fresh, vec![(DR7, 0), (0, 0x1000), (2, 0x2004), (DR7, want)]);
        let mut s = DebugState::Untouched;
        for (r, v) in &fresh {
            s.wrote(*r, *v);
        }
        assert!(s.armed());
        assert!(s.plan_arm(a, want).is_empty(), "already so");
        // Disarmed at rest, armed again on continue: DR7 alone.
        let (r, v) = s.plan_disarm().unwrap();
        s.wrote(r, v);
        assert!(!s.armed());
        assert_eq!(s.plan_disarm(), None, "already off");
        assert_eq!(s.plan_arm(a, want), vec![(DR7, want)]);
        // A slot moved: DR7 off first (it is off already here), then the address.
        let moved = [Some(0x1000), None, Some(0x3000), None];
        assert_eq!(s.plan_arm(moved, want), vec![(2, 0x3000), (DR7, want)]);
        s.wrote(DR7, want);
        assert_eq!(
            s.plan_arm(moved, want),
            vec![(DR7, 0), (2, 0x3000), (DR7, want)]
        );
        // Detach: DR7 off and every address of ours back to 0.
        assert_eq!(s.plan_clear(), vec![(DR7, 0), (0, 0), (2, 0)]);
    }

    #[test]
    fn threads_never_armed_are_left_alone_and_newborns_are_cleared() {
        assert_eq!(DebugState::Untouched.plan_disarm(), None);
        assert!(DebugState::Untouched.plan_clear().is_empty());
        assert_eq!(DebugState::Inherited.plan_disarm(), Some((DR7, 0)));
        assert!(!DebugState::Inherited.armed());
        let mut s = DebugState::Inherited;
        s.wrote(DR7, 0);
        assert_eq!(s.plan_disarm(), None);
    }
}
