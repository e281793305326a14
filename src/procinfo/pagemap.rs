//! /proc/PID/pagemap: which pages of a range are in memory or in swap. A page that is
//! neither, in private anonymous memory, has never been written and reads as zeros: a core
//! leaves it as a hole, as the kernel's own core files do, instead of copying zeros (and
//! instead of making the process map the zero page there by reading it).
//!
//! Two ways to ask. The PAGEMAP_SCAN ioctl (Linux 6.7) has the kernel walk the range and
//! hand back runs of pages by kind: 0.6 ms for 512 MiB of touched heap here. Reading the file
//! gives one u64 per page (bit 63 present, bit 62 swapped; Documentation/admin-guide/mm/
//! pagemap.rst) for us to walk: 1.4-2.7 ms for the same range. A core asks while the process
//! is stopped, so the ioctl is used where the kernel has it, the file elsewhere.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

const PAGE: u64 = 4096;
const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
/// Entries read per pread: 256 KiB of buffer covers 128 MiB of address space.
const BATCH: usize = 32 * 1024;

/// `_IOWR('f', 16, struct pm_scan_arg)` from <linux/fs.h> (older headers lack it).
const PAGEMAP_SCAN: libc::c_ulong = 0xc060_6610;
/// Page kinds of PAGEMAP_SCAN (`PAGE_IS_*`).
const IS_FILE: u64 = 1 << 2;
const IS_PRESENT: u64 = 1 << 3;
const IS_SWAPPED: u64 = 1 << 4;
const IS_PFNZERO: u64 = 1 << 5;
/// Runs handed back per ioctl.
const REGIONS: usize = 512;

/// `struct pm_scan_arg`.
#[repr(C)]
#[derive(Default)]
struct ScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `struct page_region`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// Which pages a scan looks for: those whose kinds, with `inverted` flipped, include all of
/// `all` and one of `any`.
struct Wanted {
    inverted: u64,
    all: u64,
    any: u64,
}

pub struct Pagemap {
    file: File,
    /// False once the kernel refused PAGEMAP_SCAN: then the file is read.
    scan: AtomicBool,
}

impl Pagemap {
    /// `view` is the process id or a live thread of it.
    pub fn open(view: i32) -> io::Result<Pagemap> {
        Ok(Pagemap {
            file: File::open(format!("/proc/{view}/pagemap"))?,
            scan: AtomicBool::new(true),
        })
    }

    /// Whether the kernel answers PAGEMAP_SCAN (so far: true until it refuses once).
    pub fn scans(&self) -> bool {
        self.scan.load(Ordering::Relaxed)
    }

    /// The file read page by page, even where the kernel has PAGEMAP_SCAN (for tests that
    /// compare both ways).
    #[cfg(test)]
    fn without_scan(view: i32) -> io::Result<Pagemap> {
        let map = Pagemap::open(view)?;
        map.scan.store(false, Ordering::Relaxed);
        Ok(map)
    }

    /// The runs of pages in `start..end` (page-aligned) that are in memory or in swap, as
    /// `(start, end)` address ranges in order.
    pub fn resident_runs(&self, start: u64, end: u64) -> io::Result<Vec<(u64, u64)>> {
        let wanted = Wanted {
            inverted: 0,
            all: 0,
            any: IS_PRESENT | IS_SWAPPED,
        };
        match self.scan(start, end, &wanted, 0)? {
            Some(runs) => Ok(runs),
            None => self.read_runs(start, end),
        }
    }

    /// Whether `start..end` holds a page the process wrote in private memory (an anonymous
    /// page, or a copy-on-write copy of a file page), in memory or in swap: what smaps counts
    /// as Anonymous + Swap. None when only smaps can say (no PAGEMAP_SCAN).
    pub fn has_private_written(&self, start: u64, end: u64) -> io::Result<Option<bool>> {
        // Not a file page and not the shared zero page (a read of untouched memory maps it).
        let wanted = Wanted {
            inverted: IS_FILE | IS_PFNZERO,
            all: IS_FILE | IS_PFNZERO,
            any: IS_PRESENT | IS_SWAPPED,
        };
        Ok(self
            .scan(start, end, &wanted, 1)?
            .map(|runs| !runs.is_empty()))
    }

    /// PAGEMAP_SCAN over `start..end`: the runs of wanted pages, adjacent runs merged (at
    /// most `max_pages` pages when not 0). None when the kernel has no such ioctl.
    fn scan(
        &self,
        start: u64,
        end: u64,
        wanted: &Wanted,
        max_pages: u64,
    ) -> io::Result<Option<Vec<(u64, u64)>>> {
        if !self.scan.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut regions = [PageRegion::default(); REGIONS];
        let mut at = start;
        while at < end {
            let mut arg = ScanArg {
                size: std::mem::size_of::<ScanArg>() as u64,
                start: at,
                end,
                vec: regions.as_mut_ptr() as u64,
                vec_len: REGIONS as u64,
                max_pages,
                category_inverted: wanted.inverted,
                category_mask: wanted.all,
                category_anyof_mask: wanted.any,
                return_mask: IS_PRESENT | IS_SWAPPED,
                ..ScanArg::default()
            };
            // SAFETY: `arg` is a pm_scan_arg of the size it states, `vec` points at REGIONS
            // page_regions that live across the call; the kernel writes only there and into
            // `arg.walk_end`.
            let n = unsafe { libc::ioctl(self.file.as_raw_fd(), PAGEMAP_SCAN, &mut arg) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    // No such ioctl (before 6.7), or one that does not know these fields.
                    Some(libc::ENOTTY | libc::EINVAL | libc::EOPNOTSUPP) => {
                        self.scan.store(false, Ordering::Relaxed);
                        Ok(None)
                    }
                    _ => Err(e),
                };
            }
            for r in &regions[..n as usize] {
                extend(&mut runs, r.start, r.end);
            }
            let full = n as usize == REGIONS;
            let enough = max_pages > 0 && !runs.is_empty();
            if enough || !full || arg.walk_end <= at {
                break;
            }
            at = arg.walk_end;
        }
        Ok(Some(runs))
    }

    /// The file read page by page: the runs of present or swapped pages.
    fn read_runs(&self, start: u64, end: u64) -> io::Result<Vec<(u64, u64)>> {
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
                extend(&mut runs, at, at + PAGE);
            }
            page += n as u64;
        }
        Ok(runs)
    }
}

/// Adds `start..end` to `runs` (in address order), joining it to the last run it touches.
fn extend(runs: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    match runs.last_mut() {
        Some(run) if run.1 == start => run.1 = end,
        _ => runs.push((start, end)),
    }
}

/// A fresh private anonymous read-write mapping of `len` bytes, for tests (the caller unmaps).
#[cfg(test)]
pub(crate) fn fresh_anonymous(len: usize) -> u64 {
    // SAFETY: a new mapping the kernel places; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED);
    base as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_written_pages_are_resident() {
        let pages = 16 * PAGE as usize;
        let base = fresh_anonymous(pages);
        for p in [0u64, 1, 5, 15] {
            // SAFETY: inside the mapping made above.
            unsafe { std::ptr::write_volatile((base + p * PAGE) as *mut u8, 1) };
        }
        let me = std::process::id() as i32;
        let want = [
            (base, base + 2 * PAGE),
            (base + 5 * PAGE, base + 6 * PAGE),
            (base + 15 * PAGE, base + 16 * PAGE),
        ];
        let map = Pagemap::open(me).unwrap();
        assert_eq!(map.resident_runs(base, base + pages as u64).unwrap(), want);
        assert!(
            map.scan.load(Ordering::Relaxed),
            "PAGEMAP_SCAN (Linux 6.7) refused: cores then pause the process longer"
        );
        let by_file = Pagemap::without_scan(me).unwrap();
        assert_eq!(
            by_file.resident_runs(base, base + pages as u64).unwrap(),
            want
        );
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(base as *mut libc::c_void, pages) };
    }

    #[test]
    fn written_private_pages_are_told_from_untouched_and_only_read_ones() {
        let me = std::process::id() as i32;
        let map = Pagemap::open(me).unwrap();
        let pages = 8 * PAGE as usize;
        let anon = fresh_anonymous(pages);
        let a = anon;
        let end = a + pages as u64;
        assert_eq!(map.has_private_written(a, end).unwrap(), Some(false));
        // A read maps the shared zero page: present, but nothing was written.
        // SAFETY: inside the mapping made above.
        let _ = unsafe { std::ptr::read_volatile((a + 2 * PAGE) as *const u8) };
        assert_eq!(
            map.resident_runs(a, end).unwrap(),
            [(a + 2 * PAGE, a + 3 * PAGE)]
        );
        assert_eq!(map.has_private_written(a, end).unwrap(), Some(false));
        // SAFETY: inside the mapping made above.
        unsafe { std::ptr::write_volatile((a + 6 * PAGE) as *mut u8, 1) };
        assert_eq!(map.has_private_written(a, end).unwrap(), Some(true));
        assert_eq!(
            map.has_private_written(a, a + 6 * PAGE).unwrap(),
            Some(false)
        );

        // A private mapping of a file: its pages read are file pages; one written is a copy.
        let path = std::env::temp_dir().join(format!("ptscope-pagemap-{me}"));
        std::fs::write(&path, vec![7u8; pages]).unwrap();
        let file = File::open(&path).unwrap();
        // SAFETY: a private mapping of the file made above; unmapped at the end of the test.
        let fmap = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(fmap, libc::MAP_FAILED);
        let f = fmap as u64;
        let fend = f + pages as u64;
        // SAFETY: inside the mapping made above.
        let first = unsafe { std::ptr::read_volatile(f as *const u8) };
        assert_eq!(first, 7);
        assert_eq!(map.has_private_written(f, fend).unwrap(), Some(false));
        // SAFETY: inside the mapping made above (private: the file is not changed).
        unsafe { std::ptr::write_volatile((f + 3 * PAGE) as *mut u8, 9) };
        assert_eq!(map.has_private_written(f, fend).unwrap(), Some(true));
        // SAFETY: the mappings made above, no longer used.
        unsafe {
            libc::munmap(anon as *mut libc::c_void, pages);
            libc::munmap(fmap, pages);
        }
        let _ = std::fs::remove_file(&path);
    }
}
