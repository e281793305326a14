//! What a lock's own memory says, decoded: glibc's `pthread_mutex_t` and `pthread_rwlock_t`
//! on x86-64, and the kernel's priority-inheritance futex word. Facts checked on this machine
//! (glibc 2.36) are in the field notes; the layouts are glibc's ABI and do not change.

/// The kernel's PI futex word: the owner's tid in the low 30 bits, plus two flags
/// (include/uapi/linux/futex.h).
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Futex commands (op & 0x7f) that matter here.
pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_LOCK_PI2: u32 = 13;

/// The command of a futex op, without FUTEX_PRIVATE_FLAG (0x80) and FUTEX_CLOCK_REALTIME (0x100).
pub fn futex_cmd(op: u64) -> u32 {
    (op as u32) & 0x7f
}

/// A PI futex word taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiWord {
    /// The holder's tid; 0 when the lock is free.
    pub owner: i32,
    pub waiters: bool,
    /// The holder died without unlocking (robust futexes).
    pub owner_died: bool,
}

pub fn pi_word(word: u32) -> PiWord {
    PiWord {
        owner: (word & FUTEX_TID_MASK) as i32,
        waiters: word & FUTEX_WAITERS != 0,
        owner_died: word & FUTEX_OWNER_DIED != 0,
    }
}

/// glibc `pthread_mutex_t` (struct __pthread_mutex_s) on x86-64: `__lock` at 0, `__count` at
/// 4, `__owner` at 8, `__nusers` at 12, `__kind` at 16; 40 bytes in all.
pub const MUTEX_SIZE: usize = 40;
pub const MUTEX_OWNER_OFFSET: u64 = 8;
pub const MUTEX_KIND_OFFSET: u64 = 16;

/// `__kind` bits (nptl/pthreadP.h): the type in the low bits, then robust, PI, PP, shared.
const KIND_ROBUST: i32 = 0x10;
const KIND_PI: i32 = 0x20;
const KIND_PP: i32 = 0x40;
/// What glibc stores in `__owner` for a robust mutex whose holder died and was not made
/// consistent, and for one that can no longer be recovered.
pub const OWNER_INCONSISTENT: i32 = 0x7fff_ffff;
pub const OWNER_NOT_RECOVERABLE: i32 = 0x7fff_fffe;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mutex {
    pub lock: u32,
    pub count: u32,
    pub owner: i32,
    pub nusers: u32,
    pub kind: i32,
}

impl Mutex {
    /// From at least the first 20 bytes of the mutex.
    pub fn decode(bytes: &[u8]) -> Option<Mutex> {
        Some(Mutex {
            lock: u32_at(bytes, 0)?,
            count: u32_at(bytes, 4)?,
            owner: u32_at(bytes, 8)? as i32,
            nusers: u32_at(bytes, 12)?,
            kind: u32_at(bytes, 16)? as i32,
        })
    }

    pub fn robust(&self) -> bool {
        self.kind & KIND_ROBUST != 0
    }

    pub fn pi(&self) -> bool {
        self.kind & KIND_PI != 0
    }

    /// The kind field holds only bits glibc defines (type 0-3, robust, PI, PP, pshared 0x80,
    /// elision 0x100/0x200), and not PI and PP at once: a sanity check before trusting the rest.
    pub fn plausible(&self) -> bool {
        self.kind >= 0 && self.kind & !0x3f3 == 0 && !(self.pi() && self.kind & KIND_PP != 0)
    }

    /// The holder as recorded: from the futex word for a PI mutex (the kernel's own record),
    /// from `__owner` for every other kind. None when the lock reads as free or the holder
    /// died and glibc marked it so.
    pub fn holder(&self) -> Option<i32> {
        let tid = if self.pi() {
            pi_word(self.lock).owner
        } else {
            self.owner
        };
        (tid > 0 && tid != OWNER_INCONSISTENT && tid != OWNER_NOT_RECOVERABLE).then_some(tid)
    }

    /// A robust holder died without unlocking (the word's OWNER_DIED, or glibc's marker).
    pub fn owner_died(&self) -> bool {
        (self.robust() || self.pi()) && self.lock & FUTEX_OWNER_DIED != 0
            || self.owner == OWNER_INCONSISTENT
            || self.owner == OWNER_NOT_RECOVERABLE
    }
}

/// glibc `pthread_rwlock_t` (struct __pthread_rwlock_arch_t) on x86-64: `__readers` at 0,
/// `__writers` at 4, `__wrphase_futex` at 8, `__writers_futex` at 12, `__cur_writer` at 24.
/// Readers wait on `__wrphase_futex`; a writer waits on `__writers_futex` while another writer
/// holds the lock, and on `__wrphase_futex` while readers do (pthread_rwlock_common.c).
pub const RWLOCK_SIZE: usize = 56;
pub const RWLOCK_WRPHASE_OFFSET: u64 = 8;
pub const RWLOCK_WRITERS_FUTEX_OFFSET: u64 = 12;
pub const RWLOCK_CUR_WRITER_OFFSET: u64 = 24;

/// glibc `pthread_cond_t`: waiters sleep on `__g_signals[0]` or `[1]`, at 40 and 44.
pub const COND_SIZE: usize = 48;
pub const COND_SIGNAL_OFFSETS: [u64; 2] = [40, 44];

/// The rwlock a waiter sleeps in, from the futex it waits on: a reader always waits on
/// `__wrphase_futex`; a writer's futex is told apart by what it expects to find there:
/// `__writers_futex` reads 1|FUTEX_USED (3) while a writer holds the lock, `__wrphase_futex` reads
/// 0|FUTEX_USED (2) during a read phase. Returns the lock's address.
pub fn rwlock_base(futex: u64, writer: bool, expected: u32) -> u64 {
    if writer && expected & 1 == 1 {
        futex.wrapping_sub(RWLOCK_WRITERS_FUTEX_OFFSET)
    } else {
        futex.wrapping_sub(RWLOCK_WRPHASE_OFFSET)
    }
}

pub fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutex_bytes(lock: u32, owner: i32, kind: i32) -> Vec<u8> {
        let mut b = vec![0u8; MUTEX_SIZE];
        b[0..4].copy_from_slice(&lock.to_le_bytes());
        b[8..12].copy_from_slice(&owner.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        b[16..20].copy_from_slice(&kind.to_le_bytes());
        b
    }

    #[test]
    fn pi_words_split_into_owner_and_flags() {
        assert_eq!(
            pi_word(0x8000_1092),
            PiWord {
                owner: 0x1092,
                waiters: true,
                owner_died: false
            }
        );
        assert!(pi_word(0xc000_0005).owner_died);
        assert_eq!(pi_word(0).owner, 0);
        assert_eq!(futex_cmd(0x189), FUTEX_WAIT_BITSET);
        assert_eq!(futex_cmd(0x86), FUTEX_LOCK_PI);
    }

    #[test]
    fn a_normal_mutex_names_its_owner_from_owner_field() {
        let m = Mutex::decode(&mutex_bytes(2, 4250, 0)).unwrap();
        assert!(m.plausible() && !m.pi() && !m.robust());
        assert_eq!(m.holder(), Some(4250));
        assert!(!m.owner_died());
        let free = Mutex::decode(&mutex_bytes(0, 0, 0)).unwrap();
        assert_eq!(free.holder(), None);
        assert_eq!(Mutex::decode(&[0u8; 12]), None);
    }

    #[test]
    fn a_pi_mutex_names_its_owner_from_the_futex_word() {
        // PTHREAD_MUTEX_PI_NORMAL_NP = 0x20; __owner deliberately different: the word wins.
        let m = Mutex::decode(&mutex_bytes(FUTEX_WAITERS | 4251, 1, 0x20)).unwrap();
        assert!(m.pi() && m.plausible());
        assert_eq!(m.holder(), Some(4251));
        let robust_pi = Mutex::decode(&mutex_bytes(FUTEX_OWNER_DIED | 7, 7, 0x30)).unwrap();
        assert!(robust_pi.owner_died());
    }

    #[test]
    fn robust_markers_are_not_tids() {
        let m = Mutex::decode(&mutex_bytes(1, OWNER_INCONSISTENT, 0x10)).unwrap();
        assert!(m.robust() && m.owner_died());
        assert_eq!(m.holder(), None);
        let bad = Mutex::decode(&mutex_bytes(1, 5, 0x4000)).unwrap();
        assert!(!bad.plausible());
        let negative = Mutex::decode(&mutex_bytes(1, 5, -1)).unwrap();
        assert!(!negative.plausible());
    }

    #[test]
    fn rwlock_waiters_find_their_lock() {
        let lock = 0x5000u64;
        // A reader on __wrphase_futex during a write phase (expects 1|FUTEX_USED).
        assert_eq!(rwlock_base(lock + 8, false, 3), lock);
        // A writer behind another writer, on __writers_futex.
        assert_eq!(rwlock_base(lock + 12, true, 3), lock);
        // A writer waiting for readers to leave, on __wrphase_futex.
        assert_eq!(rwlock_base(lock + 8, true, 2), lock);
        assert_eq!(u32_at(&[1, 0, 0, 0, 9], 0), Some(1));
        assert_eq!(u32_at(&[1, 0, 0], 0), None);
    }
}
