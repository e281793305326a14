//! /proc/meminfo: how much memory the machine can still hand out without swapping, which
//! decides whether a core file is copied into memory or streamed to disk.

/// MemAvailable in bytes (the kernel's estimate of memory available for new allocations
/// without swapping); None on a kernel too old to say (before 3.14) or when unreadable.
pub fn mem_available() -> Option<u64> {
    use procfs::Current;
    procfs::Meminfo::current().ok()?.mem_available
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_some_memory_available() {
        let avail = super::mem_available().expect("MemAvailable in /proc/meminfo");
        assert!(avail > 1 << 20, "{avail}");
    }
}
