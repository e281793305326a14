//! /proc/PID/pagemap: which pages of a range are in memory or in swap. A page that is
//! neither, in private anonymous memory, has never been written and reads as zeros: a core
//! leaves it as a hole, as the kernel's own core files do, instead of copying zeros (and
//! instead of making the process map the zero page there by reading it).
//!
//! One u64 per page: bit 63 present, bit 62 swapped (Documentation/admin-guide/mm/pagemap.rst).
//! Reading it walks only the page tables of the range asked for.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const PAGE: u64 = 4096;
const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
/// Entries read per pread: 256 KiB of buffer covers 128 MiB of address space.
const BATCH: usize = 32 * 1024;

pub struct Pagemap {
    file: File,
}

impl Pagemap {
    /// `view` is the process id or a live thread of it.
    pub fn open(view: i32) -> io::Result<Pagemap> {
        Ok(Pagemap {
            file: File::open(format!("/proc/{view}/pagemap"))?,
        })
    }

    /// The runs of pages in `start..end` (page-aligned) that are in memory or in swap, as
    /// `(start, end)` address ranges in order.
    pub fn resident_runs(&self, start: u64, end: u64) -> io::Result<Vec<(u64, u64)>> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut buf = vec![0u8; BATCH * 8];
        let mut page = start / PAGE;
        let last = end.div_ceil(PAGE);
        while page < last {
            let n = ((last - page) as usize).min(BATCH);
            let bytes = &mut buf[..n * 8];
            self.file.read_exact_at(bytes, page * 8)?;
            for (i, e) in bytes.chunks_exact(8).enumerate() {
                let entry = u64::from_ne_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                if entry & (PRESENT | SWAPPED) == 0 {
                    continue;
                }
                let at = (page + i as u64) * PAGE;
                match runs.last_mut() {
                    Some(run) if run.1 == at => run.1 = at + PAGE,
                    _ => runs.push((at, at + PAGE)),
                }
            }
            page += n as u64;
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_written_pages_are_resident() {
        let pages = 16 * PAGE as usize;
        // SAFETY: a fresh private anonymous mapping; unmapped at the end of the test.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base as u64;
        for p in [0u64, 1, 5, 15] {
            // SAFETY: inside the mapping made above.
            unsafe { std::ptr::write_volatile((base + p * PAGE) as *mut u8, 1) };
        }
        let map = Pagemap::open(std::process::id() as i32).unwrap();
        let runs = map.resident_runs(base, base + pages as u64).unwrap();
        assert_eq!(
            runs,
            [
                (base, base + 2 * PAGE),
                (base + 5 * PAGE, base + 6 * PAGE),
                (base + 15 * PAGE, base + 16 * PAGE)
            ]
        );
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(base as *mut libc::c_void, pages) };
    }
}
