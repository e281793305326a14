//! The stacks of a dump: copied while every thread is stopped, walked after the detach.
//!
//! Stopped, a thread needs nothing from us but its registers and the bytes of its stack the
//! walk will read: from its stack pointer up to `STACK_COPY` bytes, or to the end of the
//! mapping the stack pointer is in. All of them are read in as few process_vm_readv calls as
//! the kernel takes (`Memory::read_many`: one per 1,024 threads), into room made before the
//! stop. The walks then read those copies, so they see the stacks exactly as they were at the
//! stop (the snapshot stays consistent) while the process runs again: first every walk, by
//! call-frame information alone, then each distinct pc described once, the pcs of one
//! source-line unit on one worker and the units spread over the CPUs.

use super::cpus::Cpus;
use crate::procinfo::{Mapping, SyscallState, ThreadKernelView};
use crate::regs::Registers;
use crate::symbols::{self, Backtrace, Location, Symbolizer};
use crate::tracer::memory::Memory;
use crate::tracer::{Snapshot, Tid};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

/// The most of a stack copied per thread. Enough for a hundred ordinary frames; a deeper
/// stack is walked as far as the copy goes.
pub const STACK_COPY: u64 = 64 * 1024;
const PAGE: usize = 4096;

/// One thread's copy.
struct Copy {
    tid: Tid,
    regs: Registers,
    /// The address of its first byte (the stack pointer at the stop).
    base: u64,
    /// Where its bytes are in the shared buffer (as many as could be read).
    bytes: Range<usize>,
}

/// Every stopped thread's stack as it was at the stop.
pub struct StackCopies {
    buf: Vec<u8>,
    copies: Vec<Copy>,
}

/// How many bytes of a stack to copy from `sp`: to the end of its mapping, at most
/// `STACK_COPY`.
fn extent(sp: u64, maps: &[Mapping]) -> usize {
    let i = maps.partition_point(|m| m.start <= sp);
    let end = i
        .checked_sub(1)
        .map(|i| &maps[i])
        .filter(|m| m.contains(sp))
        .map_or(sp.saturating_add(STACK_COPY), |m| m.end);
    (end.min(sp.saturating_add(STACK_COPY)) - sp) as usize
}

/// Room for the copies, made and faulted in while the process still runs, from where the
/// kernel view says each blocked thread's stack pointer is (a running thread's is not known:
/// it gets the most). So the copy during the stop only moves bytes.
pub fn prepare(kernel: &BTreeMap<Tid, ThreadKernelView>, maps: &[Mapping]) -> Vec<u8> {
    let need: usize = kernel
        .values()
        .map(|k| match &k.syscall {
            SyscallState::InSyscall { sp, .. } => extent(*sp, maps) + PAGE,
            _ => STACK_COPY as usize,
        })
        .sum();
    // Written, not only reserved, so that the pages are faulted in now: `vec![0; n]` would
    // be calloc's fresh zero pages, each faulted in during the copy (a thousand threads' 5 MB
    // of stacks cost ~1,300 page faults inside the stop).
    let mut room = Vec::with_capacity(need + 16 * PAGE);
    room.resize(need + 16 * PAGE, 0xa5u8);
    room
}

/// Copies every stopped thread's stack (registers known, not a zombie) into `room`, which
/// grows if the stop found more than the kernel view promised.
pub fn copy(mem: &Memory, snap: &Snapshot, maps: &[Mapping], mut room: Vec<u8>) -> StackCopies {
    let mut copies = Vec::with_capacity(snap.threads.len());
    let mut at = 0;
    for t in snap.threads.iter().filter(|t| !t.zombie) {
        let Some(regs) = t.regs else { continue };
        let len = extent(regs.rsp(), maps);
        copies.push(Copy {
            tid: t.tid,
            regs,
            base: regs.rsp(),
            bytes: at..at + len,
        });
        at += len;
    }
    if room.len() < at {
        room.resize(at, 0);
    }
    let mut parts: Vec<(u64, &mut [u8])> = Vec::with_capacity(copies.len());
    let mut rest = &mut room[..at];
    for c in &copies {
        let (mine, tail) = rest.split_at_mut(c.bytes.len());
        parts.push((c.base, mine));
        rest = tail;
    }
    // A process gone under us reads as nothing: the walks then stop at their first frame.
    let got = mem
        .read_many(&mut parts)
        .unwrap_or_else(|_| vec![0; parts.len()]);
    for (c, n) in copies.iter_mut().zip(got) {
        c.bytes.end = c.bytes.start + n;
    }
    StackCopies { buf: room, copies }
}

impl StackCopies {
    /// Reads from one thread's copy: what it holds of `[addr, addr + len)`, from `addr` on.
    fn read(&self, c: &Copy, addr: u64, out: &mut [u8]) -> usize {
        let Some(off) = addr.checked_sub(c.base) else {
            return 0;
        };
        let bytes = &self.buf[c.bytes.clone()];
        let Some(have) = usize::try_from(off).ok().and_then(|o| bytes.get(o..)) else {
            return 0;
        };
        let n = have.len().min(out.len());
        out[..n].copy_from_slice(&have[..n]);
        n
    }

    fn walk_one(
        &self,
        sym: &Symbolizer,
        c: &Copy,
        memo: &mut HashMap<(u64, bool), Location>,
    ) -> Backtrace {
        let mut read = |addr: u64, out: &mut [u8]| self.read(c, addr, out);
        symbols::unwind_located(
            sym,
            &c.regs,
            &mut read,
            symbols::MAX_DEPTH,
            &mut |pc, ret| {
                memo.entry((pc, ret))
                    .or_insert_with(|| sym.symbolize(pc, ret))
                    .clone()
            },
        )
    }

    /// The stacks of these threads only, on this thread (a few, while still stopped).
    pub fn walk(&self, sym: &Symbolizer, tids: &[Tid]) -> BTreeMap<Tid, Backtrace> {
        let mut memo = HashMap::new();
        self.copies
            .iter()
            .filter(|c| tids.contains(&c.tid))
            .map(|c| (c.tid, self.walk_one(sym, c, &mut memo)))
            .collect()
    }

    /// One stack walked by call-frame information alone, with what each frame is to be
    /// described by (pc, is a return address), in order.
    fn walk_bare(&self, sym: &Symbolizer, c: &Copy) -> (Tid, Backtrace, Vec<Key>) {
        let mut keys = Vec::new();
        let mut read = |addr: u64, out: &mut [u8]| self.read(c, addr, out);
        let bt = symbols::unwind_located(
            sym,
            &c.regs,
            &mut read,
            symbols::MAX_DEPTH,
            &mut |pc, ret| {
                keys.push((pc, ret));
                Location::default()
            },
        );
        (c.tid, bt, keys)
    }

    /// Every stack: walked first (call-frame information only, split over the CPUs when there
    /// are enough stacks to be worth a thread each), then each distinct pc described once,
    /// with every pc of one source-line unit on the same worker and the units spread over the
    /// CPUs. Parsing the units the frames are in is most of the work after the stop (one of
    /// std's, in a Rust program, takes ~3 ms), and two workers never wait for one unit.
    pub fn walk_all(&self, sym: &Symbolizer, cpus: &Cpus) -> BTreeMap<Tid, Backtrace> {
        const PER_WORKER: usize = 8;
        let workers = cpus.budget().min(self.copies.len() / PER_WORKER).max(1);
        let shares: Vec<Vec<&Copy>> = (0..workers)
            .map(|w| self.copies.iter().skip(w).step_by(workers).collect())
            .collect();
        let walks = on_workers(cpus, &shares, |share: &Vec<&Copy>| {
            share.iter().map(|c| self.walk_bare(sym, c)).collect()
        });
        let keys: BTreeSet<Key> = walks.iter().flat_map(|w| w.2.iter().copied()).collect();
        let located: HashMap<Key, Location> = locate_all(sym, keys, cpus).into_iter().collect();
        walks
            .into_iter()
            .map(|(tid, mut bt, keys)| {
                for (f, k) in bt.frames.iter_mut().zip(keys) {
                    f.location = match located.get(&k) {
                        Some(l) => l.clone(),
                        None => sym.symbolize(k.0, k.1),
                    };
                }
                (tid, bt)
            })
            .collect()
    }
}

/// Runs `job` on each share, one thread per share when there are several, and returns what
/// they made, in share order (a worker that panicked gives nothing; its frames are then
/// described by the caller).
fn on_workers<S: Sync, T: Send>(
    cpus: &Cpus,
    shares: &[S],
    job: impl Fn(&S) -> Vec<T> + Sync,
) -> Vec<T> {
    if shares.len() <= 1 {
        return cpus.run(|| shares.iter().flat_map(&job).collect());
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| s.spawn(|| cpus.run(|| job(share))))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// What a frame is described by: its pc, and whether that is a return address.
type Key = (u64, bool);

/// Describes every key once: grouped by the source-line unit each reads, the groups dealt to
/// up to as many workers as `cpus` allows, the biggest first to the least loaded.
fn locate_all(sym: &Symbolizer, keys: BTreeSet<Key>, cpus: &Cpus) -> Vec<(Key, Location)> {
    let mut groups: BTreeMap<Option<(usize, usize)>, Vec<Key>> = BTreeMap::new();
    for k in keys {
        groups.entry(sym.line_unit(k.0, k.1)).or_default().push(k);
    }
    let mut groups: Vec<Vec<Key>> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut bins: Vec<Vec<Key>> = vec![Vec::new(); cpus.budget().min(groups.len()).max(1)];
    for g in groups {
        if let Some(bin) = bins.iter_mut().min_by_key(|b| b.len()) {
            bin.extend(g);
        }
    }
    on_workers(cpus, &bins, |bin: &Vec<Key>| {
        bin.iter().map(|&k| (k, sym.symbolize(k.0, k.1))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procinfo::maps::parse_maps;

    #[test]
    fn a_stack_is_copied_to_the_end_of_its_mapping_or_64_kib() {
        let maps = parse_maps(
            "7f0000000000-7f0000010000 rw-p 00000000 00:00 0\n\
             7ffd00000000-7ffd00100000 rw-p 00000000 00:00 0 [stack]",
        );
        assert_eq!(extent(0x7f00_0000_f000, &maps), 0x1000);
        assert_eq!(extent(0x7ffd_0000_0100, &maps), STACK_COPY as usize);
        assert_eq!(
            extent(0x5000, &maps),
            STACK_COPY as usize,
            "unknown: the most"
        );
    }
}
