//! Reading and writing the target's memory.
//!
//! The seed moved memory a word at a time with PTRACE_PEEKDATA: one system call per 8 bytes
//! (measured here at ~440 us per 4 KiB). process_vm_readv moves any length in one call (~0.9 us
//! per 4 KiB) and needs no stopped thread. It refuses pages the target cannot read itself (e.g.
//! text mapped without PROT_READ), so the rest of a short read is retried through /proc/PID/mem,
//! which reads with the tracer's FOLL_FORCE rights. Writes go through /proc/PID/mem because it
//! can write to read-only text, which is where breakpoints live.

use super::error::{Result, TraceError};
use crate::procinfo::{self, ProcError};
use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;

const PAGE: u64 = 4096;

pub struct Memory {
    pid: i32,
    file: File,
}

impl Memory {
    pub fn open(pid: i32) -> Result<Self> {
        Self::open_view(pid, None)
    }

    /// Through one thread's view of the shared memory: needed when the leader is a zombie.
    pub fn open_thread(pid: i32, tid: i32) -> Result<Self> {
        Self::open_view(pid, Some(tid))
    }

    fn open_view(pid: i32, tid: Option<i32>) -> Result<Self> {
        let file = procinfo::mem::open(pid, tid).map_err(|e| match e {
            ProcError::Gone { .. } => TraceError::NoSuchProcess(pid),
            ProcError::ThreadGone { tid, .. } => TraceError::ThreadExited(tid),
            other => TraceError::PermissionDenied {
                pid,
                reason: other.to_string(),
            },
        })?;
        // process_vm_readv needs a thread that still has the memory mapped.
        Ok(Memory {
            pid: tid.unwrap_or(pid),
            file,
        })
    }

    /// Only for reading (`ptscope core`, stack copies): /proc/PID/mem opened read-only
    /// through `view`, the process or one live thread of it.
    pub fn open_read_only(view: i32) -> Result<Self> {
        let file = procinfo::mem::open_read(view).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TraceError::NoSuchProcess(view),
            _ => TraceError::PermissionDenied {
                pid: view,
                reason: e.to_string(),
            },
        })?;
        Ok(Memory { pid: view, file })
    }

    /// Reads up to `len` bytes; the result is shorter when the range runs into an unreadable
    /// page.
    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        let done = self.read_into(addr, &mut buf).unwrap_or(0);
        buf.truncate(done);
        buf
    }

    /// The one bulk reader: fills `buf` from `addr` with one process_vm_readv, then what it
    /// refused page by page through /proc/PID/mem. Returns how many bytes from the start were
    /// read: fewer than asked where the range runs into a page neither can read. An error only
    /// when the process is gone (process_vm_readv: ESRCH).
    pub fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = match vm_read(self.pid, &mut [(addr, &mut *buf)]) {
            Ok(n) => n,
            Err(nix::errno::Errno::ESRCH) => return Err(TraceError::ProcessExited),
            Err(_) => 0,
        };
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            let page_end = ((at / PAGE) + 1) * PAGE;
            let chunk = ((page_end - at) as usize).min(buf.len() - done);
            match self.file.read_at(&mut buf[done..done + chunk], at) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        Ok(done)
    }

    /// Many ranges at once, each into its own buffer: as few process_vm_readv calls as the
    /// kernel allows (one per `IOV_MAX` ranges when every range is readable), the rest of a
    /// range the kernel stopped in through `read_into`. Returns the bytes read per range.
    pub fn read_many(&self, parts: &mut [(u64, &mut [u8])]) -> Result<Vec<usize>> {
        let mut got = vec![0usize; parts.len()];
        let mut i = 0;
        while i < parts.len() {
            let end = (i + IOV_MAX).min(parts.len());
            let n = match vm_read(self.pid, &mut parts[i..end]) {
                Ok(n) => n,
                Err(nix::errno::Errno::ESRCH) => return Err(TraceError::ProcessExited),
                Err(_) => 0,
            };
            // "No further reads will be attempted beyond" the first range that could not be
            // read whole (process_vm_readv(2)): the ranges before it are complete.
            let mut left = n;
            while i < end && left >= parts[i].1.len() {
                left -= parts[i].1.len();
                got[i] = parts[i].1.len();
                i += 1;
            }
            if i < end {
                let (addr, buf) = &mut parts[i];
                got[i] = left + self.read_into(*addr + left as u64, &mut buf[left..])?;
                i += 1;
            }
        }
        Ok(got)
    }

    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<()> {
        match self.file.write_at(bytes, addr) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(n) => Err(TraceError::Unwritable {
                addr,
                reason: format!("only {n} of {} bytes written", bytes.len()),
            }),
            Err(e) => Err(TraceError::Unwritable {
                addr,
                reason: e.to_string(),
            }),
        }
    }
}

/// The longest iovec array one process_vm_readv takes (UIO_MAXIOV).
const IOV_MAX: usize = 1024;

/// One process_vm_readv of every range in `parts`, each into its own buffer: bytes read in
/// all, counted across the ranges in order.
fn vm_read(
    pid: i32,
    parts: &mut [(u64, &mut [u8])],
) -> std::result::Result<usize, nix::errno::Errno> {
    let remote: Vec<nix::sys::uio::RemoteIoVec> = parts
        .iter()
        .map(|(addr, buf)| nix::sys::uio::RemoteIoVec {
            base: *addr as usize,
            len: buf.len(),
        })
        .collect();
    if remote.iter().all(|r| r.len == 0) {
        return Ok(0);
    }
    let mut local: Vec<IoSliceMut<'_>> =
        parts.iter_mut().map(|(_, b)| IoSliceMut::new(b)).collect();
    nix::sys::uio::process_vm_readv(nix::unistd::Pid::from_raw(pid), &mut local, &remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_many_reads_every_range_and_finishes_the_one_the_kernel_stopped_in() {
        // Two pages of our own memory, then a hole: the second range runs into it.
        let len = 3 * PAGE as usize;
        let base = crate::procinfo::pagemap::fresh_anonymous(len);
        // SAFETY: the first two pages of the mapping above, written before the hole is made.
        let bytes = unsafe { std::slice::from_raw_parts_mut(base as *mut u8, 2 * PAGE as usize) };
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        // SAFETY: the last page of the same mapping; nothing reads it through a reference.
        assert_eq!(
            unsafe { libc::munmap((base + 2 * PAGE) as *mut libc::c_void, PAGE as usize) },
            0
        );
        let mem = Memory::open_read_only(std::process::id() as i32).unwrap();
        let (mut a, mut b, mut c) = (vec![0u8; 100], vec![0u8; 2 * PAGE as usize], vec![0u8; 8]);
        let mut parts = [
            (base + 10, &mut a[..]),
            (base + PAGE, &mut b[..]),
            (base + 20, &mut c[..]),
        ];
        let got = mem.read_many(&mut parts).unwrap();
        assert_eq!(got, vec![100, PAGE as usize, 8]);
        assert_eq!(a[0], 10);
        assert_eq!(b[5], ((PAGE as usize + 5) % 251) as u8);
        assert_eq!(c[0], 20);
        let mut d = vec![0u8; 16];
        assert_eq!(mem.read_into(base + 2 * PAGE - 8, &mut d).unwrap(), 8);
        // SAFETY: the two pages still mapped, ours.
        unsafe { libc::munmap(base as *mut libc::c_void, 2 * PAGE as usize) };
    }
}
