//! Copying the process's memory while every thread is stopped, as fast as the kernel allows.
//!
//! Why not `TracerHandle::read_memory`: it returns a freshly allocated Vec per call, so every
//! destination page is faulted in (and zeroed) during the pause, and it stops at the first
//! page it cannot read, losing the rest of the range. Measured here on 512 MiB of touched heap
//! (2 vCPUs shared with other builds, so noisy): `read_memory` in 64 MiB calls 370-650 ms, in
//! one call 460-475 ms; `Reader::fill` into a `Store` prepared before the stop 120-270 ms (the
//! same copy in C: 90-130 ms; into fresh memory 350-1400 ms). So the destination is prepared
//! while the process still runs, with transparent huge pages asked for, and the reader fills
//! caller buffers, carrying on past an unreadable page (left as zeros, counted) to the end.
//! (`mapped` goes further: the destination is the output file's own pages. The `Store` here
//! is for files that cannot be mapped so.)
//!
//! Nothing here writes to the process. The reads need no ptrace request (process_vm_readv and
//! /proc/PID/mem only need ptrace *permission*), so they run on the calling thread while the
//! tracer thread keeps every thread stopped. No int3 of ours is ever in memory during a core:
//! `ptscope core` sets no breakpoint.

use super::error::CoreError;
use crate::tracer::memory::Memory;
use memmap2::{Advice, MmapMut};

const PAGE: u64 = 4096;
/// The most one process_vm_readv is asked for: the kernel caps a call at MAX_RW_COUNT (just
/// under 2 GiB) anyway, and a bounded piece keeps a cancel check and streaming responsive.
pub const PIECE: usize = 64 << 20;

/// Reads the memory of one process, through the engine's one bulk reader.
pub struct Reader {
    pid: i32,
    /// None when /proc/PID/mem cannot be opened: then every read fails as unreadable.
    mem: Option<Memory>,
}

impl Reader {
    /// `view` is the process id or a live thread of it (a zombie leader has no memory).
    pub fn new(view: i32) -> Reader {
        Reader {
            pid: view,
            mem: Memory::open_read_only(view).ok(),
        }
    }

    /// Fills `buf` from `addr` on. A page neither process_vm_readv nor /proc/PID/mem can
    /// read is left as zeros, the rest is still read; returns how many pages were zeroed.
    pub fn fill(&self, addr: u64, buf: &mut [u8]) -> Result<u64, CoreError> {
        let Some(mem) = &self.mem else {
            return Err(CoreError::Exited(self.pid));
        };
        let mut done = 0;
        let mut unreadable = 0;
        while done < buf.len() {
            let at = addr + done as u64;
            // ProcessExited: every thread is gone; the process exited (or was killed) under us.
            done += mem
                .read_into(at, &mut buf[done..])
                .map_err(|_| CoreError::Exited(self.pid))?;
            if done == buf.len() {
                break;
            }
            // `read_into` stops at a page it cannot read: zeros there, then go on.
            let at = addr + done as u64;
            let page_end = (at / PAGE + 1) * PAGE;
            let len = ((page_end - at) as usize).min(buf.len() - done);
            buf[done..done + len].fill(0);
            unreadable += 1;
            done += len;
        }
        Ok(unreadable)
    }
}

/// Anonymous memory for the copy, grown in pieces. The first piece is made before the stop
/// (`prepare`) and faulted in then, so the copy during the pause only moves bytes.
pub struct Store {
    pieces: Vec<(MmapMut, usize)>,
}

fn anonymous(len: usize) -> Result<MmapMut, CoreError> {
    let map = MmapMut::map_anon(len.max(1)).map_err(CoreError::OutOfMemory)?;
    // Huge pages cut the page faults (and the kernel's per-page work in process_vm_readv on
    // our side) 512-fold; "madvise" is the usual THP setting, so ask. Refusal is harmless.
    let _ = map.advise(Advice::HugePage);
    Ok(map)
}

impl Store {
    /// Room for `len` bytes, faulted in now.
    pub fn prepare(len: usize) -> Result<Store, CoreError> {
        let mut map = anonymous(len)?;
        // MADV_POPULATE_WRITE (Linux 5.14) faults the whole range in with one call; on an
        // older kernel, touch each page.
        if map.advise(Advice::PopulateWrite).is_err() {
            for i in (0..map.len()).step_by(PAGE as usize) {
                map[i] = 0;
            }
        }
        Ok(Store {
            pieces: vec![(map, 0)],
        })
    }

    pub fn empty() -> Store {
        Store { pieces: Vec::new() }
    }

    /// Up to `want` bytes of unused room (fewer at the end of a piece), for `commit`.
    pub fn room(&mut self, want: usize) -> Result<&mut [u8], CoreError> {
        let full = self
            .pieces
            .last()
            .is_none_or(|(map, used)| *used == map.len());
        if full {
            // Grown during the pause: the process mapped more since the estimate.
            self.pieces.push((anonymous(want.max(PIECE))?, 0));
        }
        let Some((map, used)) = self.pieces.last_mut() else {
            return Err(CoreError::OutOfMemory(std::io::Error::other("no room")));
        };
        let end = (*used + want).min(map.len());
        Ok(&mut map[*used..end])
    }

    /// Marks `len` bytes of the last `room` as holding data.
    pub fn commit(&mut self, len: usize) {
        if let Some((_, used)) = self.pieces.last_mut() {
            *used += len;
        }
    }

    /// The copied bytes, in the order they were copied.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.pieces.iter().map(|(map, used)| &map[..*used])
    }

    pub fn len(&self) -> u64 {
        self.pieces.iter().map(|(_, used)| *used as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_an_unreadable_page_and_keeps_going() {
        // Three pages of our own memory, the middle one unmapped: neither process_vm_readv
        // nor /proc/PID/mem (which reads PROT_NONE pages with FOLL_FORCE) can read a hole.
        let mut map = MmapMut::map_anon(3 * PAGE as usize).unwrap();
        map[..PAGE as usize].fill(0xa1);
        map[2 * PAGE as usize..].fill(0xa3);
        let base = map.as_ptr() as u64;
        // SAFETY: the range is the middle page of a mapping we own and keep alive; nothing
        // reads it through `map` while it is unmapped, and it is mapped again below before
        // `map` is dropped.
        let rc = unsafe { libc::munmap((base + PAGE) as *mut libc::c_void, PAGE as usize) };
        assert_eq!(rc, 0);
        let reader = Reader::new(std::process::id() as i32);
        let mut buf = vec![0xffu8; 3 * PAGE as usize];
        assert_eq!(reader.fill(base, &mut buf).unwrap(), 1);
        assert!(buf[..PAGE as usize].iter().all(|&b| b == 0xa1));
        assert!(buf[PAGE as usize..2 * PAGE as usize]
            .iter()
            .all(|&b| b == 0));
        assert!(buf[2 * PAGE as usize..].iter().all(|&b| b == 0xa3));

        // A PROT_NONE page is read through /proc/PID/mem (its bytes are the zeros of a fresh
        // anonymous page), not counted as unreadable.
        // SAFETY: maps a fresh anonymous page back into the hole made above (MAP_FIXED on a
        // range we own), with no access, so `map` unmaps a whole mapping when dropped.
        let back = unsafe {
            libc::mmap(
                (base + PAGE) as *mut libc::c_void,
                PAGE as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        assert_eq!(back as u64, base + PAGE);
        let mut buf = vec![0xffu8; 3 * PAGE as usize];
        assert_eq!(reader.fill(base, &mut buf).unwrap(), 0);
        assert!(buf[PAGE as usize..2 * PAGE as usize]
            .iter()
            .all(|&b| b == 0));
        assert!(buf[2 * PAGE as usize..].iter().all(|&b| b == 0xa3));
    }

    #[test]
    fn a_gone_process_is_an_error_not_zeros() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let reader = Reader::new(pid);
        let mut buf = [0u8; 16];
        assert!(matches!(
            reader.fill(0x10000, &mut buf),
            Err(CoreError::Exited(p)) if p == pid
        ));
    }

    #[test]
    fn store_grows_past_its_prepared_room() {
        let mut store = Store::prepare(8192).unwrap();
        let room = store.room(6000).unwrap();
        assert_eq!(room.len(), 6000);
        room.fill(1);
        store.commit(6000);
        let room = store.room(6000).unwrap();
        assert_eq!(room.len(), 8192 - 6000, "the rest of the first piece");
        room.fill(2);
        store.commit(8192 - 6000);
        let room = store.room(100).unwrap();
        assert_eq!(room.len(), 100);
        room.fill(3);
        store.commit(100);
        assert_eq!(store.len(), 8292);
        let all: Vec<u8> = store.chunks().flatten().copied().collect();
        assert_eq!(&all[5999..6001], &[1, 2]);
        assert_eq!(all[8291], 3);
    }
}
