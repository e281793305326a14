//! /proc/PID/auxv: the auxiliary vector the kernel gave the program at exec, as raw bytes
//! (pairs of native u64 words, ending with AT_NULL). A core file carries it verbatim in
//! NT_AUXV: debuggers find a position-independent executable's load address there (AT_PHDR,
//! AT_ENTRY) and the vDSO (AT_SYSINFO_EHDR).

use std::io;

/// The raw vector. `view` is the process id, or any live thread id of it (a zombie leader has
/// no memory left to describe, a live thread still does).
pub fn read_auxv(view: i32) -> io::Result<Vec<u8>> {
    std::fs::read(format!("/proc/{view}/auxv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_vector_ends_with_at_null_and_names_the_page_size() {
        let raw = read_auxv(std::process::id() as i32).unwrap();
        assert_eq!(raw.len() % 16, 0);
        let words: Vec<u64> = raw
            .chunks_exact(8)
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap()))
            .collect();
        let pairs: Vec<(u64, u64)> = words.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        assert_eq!(pairs.last().map(|p| p.0), Some(libc::AT_NULL));
        let page = pairs.iter().find(|p| p.0 == libc::AT_PAGESZ).map(|p| p.1);
        // SAFETY: sysconf has no memory-safety preconditions.
        let want = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        assert_eq!(page, Some(want));
    }
}
