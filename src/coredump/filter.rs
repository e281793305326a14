//! Which mappings a core holds, and how much of each: the kernel's own rules for its core
//! files (`vma_dump_size` in fs/coredump.c), driven by /proc/PID/coredump_filter (core(5)):
//!
//! - bit 0 anonymous private, bit 1 anonymous shared, bit 2 file-backed private, bit 3
//!   file-backed shared, bit 4 the ELF header page of file mappings, bit 5 private huge pages,
//!   bit 6 shared huge pages. The default, 0x33, keeps anonymous memory, private huge pages
//!   and ELF headers: a file mapping the process never wrote to is left to the file itself.
//! - "Private pages the process wrote" is the kernel's `vma->anon_vma`; smaps shows it as
//!   Anonymous (or Swap) above 0 kB, for file-backed mappings too (copy-on-write copies).
//!
//! Two departures, both for mappings no debugger reads: [vvar] (the kernel's time data) and
//! [vsyscall] are left out, and so is memory the process itself may not read (the kernel
//! reads those with FOLL_FORCE; a guard page or PROT_NONE reservation has nothing to show).

use crate::procinfo::smaps::{SmapsEntry, VmFlags};

const ANON_PRIVATE: u32 = 1 << 0;
const ANON_SHARED: u32 = 1 << 1;
const MAPPED_PRIVATE: u32 = 1 << 2;
const MAPPED_SHARED: u32 = 1 << 3;
const ELF_HEADERS: u32 = 1 << 4;
const HUGETLB_PRIVATE: u32 = 1 << 5;
const HUGETLB_SHARED: u32 = 1 << 6;

/// How much of a mapping goes into the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    Whole,
    /// Its first page, if that page starts with an ELF header (checked by reading it):
    /// debuggers read the build id and program headers of a mapped file there.
    HeaderPage,
    Nothing(Skip),
}

/// Why a mapping's contents are left out (its PT_LOAD is still there, with p_filesz 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// [vvar], [vvar_vclock], [vsyscall].
    KernelPage,
    /// Neither the process nor a debugger reading like it can read it.
    Unreadable,
    /// madvise(MADV_DONTDUMP), or device memory (VM_IO).
    DontDump,
    /// coredump_filter leaves this kind of memory out.
    Filtered,
}

fn is_special(path: &str, names: &[&str]) -> bool {
    names.contains(&path)
}

pub fn decide(e: &SmapsEntry, filter: u32) -> Dump {
    let m = &e.mapping;
    let on = |bit: u32| filter & bit != 0;
    // The kernel dumps its special mappings whatever the filter: the vDSO is code a
    // debugger unwinds through (signal trampolines), uprobes' page is code too.
    if is_special(&m.path, &["[vdso]", "[uprobes]"]) && m.readable() {
        return Dump::Whole;
    }
    if is_special(&m.path, &["[vvar]", "[vvar_vclock]", "[vsyscall]"]) {
        return Dump::Nothing(Skip::KernelPage);
    }
    if !m.readable() {
        return Dump::Nothing(Skip::Unreadable);
    }
    if e.flags.contains(VmFlags::DONT_DUMP) {
        return Dump::Nothing(Skip::DontDump);
    }
    let shared = m.perms[3] == b's' || e.flags.contains(VmFlags::SHARED);
    let keep = |yes: bool| {
        if yes {
            Dump::Whole
        } else {
            Dump::Nothing(Skip::Filtered)
        }
    };
    if e.flags.contains(VmFlags::HUGETLB) {
        return keep(on(if shared {
            HUGETLB_SHARED
        } else {
            HUGETLB_PRIVATE
        }));
    }
    if e.flags.contains(VmFlags::IO) {
        return Dump::Nothing(Skip::DontDump);
    }
    if shared {
        // Shared memory "mapped from an anonymous file" is a file with no links left:
        // MAP_SHARED|MAP_ANONYMOUS, SysV shm and memfd show as "/dev/zero (deleted)",
        // "/SYSV... (deleted)", "/memfd:... (deleted)".
        let anonymous = !m.is_file() || m.is_deleted();
        return keep(on(if anonymous {
            ANON_SHARED
        } else {
            MAPPED_SHARED
        }));
    }
    if e.private_written_kb > 0 && on(ANON_PRIVATE) {
        return Dump::Whole;
    }
    if !m.is_file() {
        return Dump::Nothing(Skip::Filtered);
    }
    if on(MAPPED_PRIVATE) {
        return Dump::Whole;
    }
    if on(ELF_HEADERS) && m.offset == 0 {
        return Dump::HeaderPage;
    }
    Dump::Nothing(Skip::Filtered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procinfo::core_facts::DEFAULT_COREDUMP_FILTER as DEFAULT;
    use crate::procinfo::smaps::parse_smaps;

    /// One smaps entry from a header line plus its Anonymous kB and VmFlags.
    fn entry(header: &str, anon_kb: u64, flags: &str) -> SmapsEntry {
        let text = format!("{header}\nAnonymous: {anon_kb} kB\nVmFlags: {flags}\n");
        parse_smaps(&text).pop().expect("a parsable header")
    }

    #[test]
    fn the_default_filter_keeps_what_the_kernel_keeps() {
        let cases = [
            (
                "1000-2000 r--p 00000000 fd:01 7 /usr/bin/svc",
                0,
                "rd mr",
                Dump::HeaderPage,
            ),
            (
                "2000-5000 r-xp 00001000 fd:01 7 /usr/bin/svc",
                0,
                "rd ex",
                Dump::Nothing(Skip::Filtered),
            ),
            (
                "5000-6000 r--p 00004000 fd:01 7 /usr/bin/svc",
                4,
                "rd mr ac",
                Dump::Whole,
            ),
            (
                "6000-7000 rw-p 00005000 fd:01 7 /usr/bin/svc",
                4,
                "rd wr",
                Dump::Whole,
            ),
            (
                "7000-9000 rw-p 00000000 00:00 0 [heap]",
                8,
                "rd wr",
                Dump::Whole,
            ),
            (
                "9000-a000 rw-p 00000000 00:00 0",
                0,
                "rd wr ac",
                Dump::Nothing(Skip::Filtered),
            ),
            (
                "a000-b000 ---p 00000000 00:00 0",
                0,
                "mr mw",
                Dump::Nothing(Skip::Unreadable),
            ),
            (
                "b000-c000 rw-s 00000000 00:01 9 /dev/zero (deleted)",
                0,
                "rd wr sh",
                Dump::Whole,
            ),
            (
                "c000-d000 rw-s 00000000 fd:01 8 /var/db/file",
                0,
                "rd wr sh",
                Dump::Nothing(Skip::Filtered),
            ),
            (
                "d000-e000 rw-p 00000000 00:00 0",
                4,
                "rd wr dd",
                Dump::Nothing(Skip::DontDump),
            ),
            (
                "e000-f000 rw-s 00000000 00:06 3 /dev/mem",
                0,
                "rd wr sh io",
                Dump::Nothing(Skip::DontDump),
            ),
            (
                "f000-10000 r--p 00000000 00:00 0 [vvar]",
                0,
                "rd mr pf io de dd",
                Dump::Nothing(Skip::KernelPage),
            ),
            (
                "10000-12000 r-xp 00000000 00:00 0 [vdso]",
                0,
                "rd ex mr mw me de",
                Dump::Whole,
            ),
            (
                "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
                0,
                "ex",
                Dump::Nothing(Skip::KernelPage),
            ),
            (
                "12000-14000 rw-p 00000000 00:0e 5 /anon_hugepage",
                0,
                "rd wr ht",
                Dump::Whole,
            ),
            (
                "14000-16000 rw-s 00000000 00:0e 6 /hugepages/x",
                0,
                "rd wr sh ht",
                Dump::Nothing(Skip::Filtered),
            ),
            (
                "16000-17000 r--p 00003000 fd:01 9 /usr/lib/libx.so",
                0,
                "rd mr",
                Dump::Nothing(Skip::Filtered),
            ),
        ];
        for (header, kb, flags, want) in cases {
            assert_eq!(decide(&entry(header, kb, flags), DEFAULT), want, "{header}");
        }
    }

    #[test]
    fn filter_bits_change_the_answer() {
        let text = entry("2000-5000 r-xp 00001000 fd:01 7 /usr/bin/svc", 0, "rd ex");
        assert_eq!(decide(&text, DEFAULT | MAPPED_PRIVATE), Dump::Whole);
        let heap = entry("7000-9000 rw-p 00000000 00:00 0 [heap]", 8, "rd wr");
        assert_eq!(decide(&heap, 0), Dump::Nothing(Skip::Filtered));
        let shared_file = entry(
            "c000-d000 rw-s 00000000 fd:01 8 /var/db/file",
            0,
            "rd wr sh",
        );
        assert_eq!(decide(&shared_file, DEFAULT | MAPPED_SHARED), Dump::Whole);
        let first = entry("1000-2000 r--p 00000000 fd:01 7 /usr/bin/svc", 0, "rd mr");
        assert_eq!(
            decide(&first, DEFAULT & !ELF_HEADERS),
            Dump::Nothing(Skip::Filtered)
        );
        let vdso = entry("10000-12000 r-xp 00000000 00:00 0 [vdso]", 0, "rd ex");
        assert_eq!(
            decide(&vdso, 0),
            Dump::Whole,
            "special mappings ignore the filter"
        );
    }
}
