//! The PT_NOTE contents: the Linux x86-64 structures the kernel itself writes into a core
//! (`struct elf_prstatus`, `struct elf_prpsinfo`, NT_FILE, ...), encoded from plain values.
//!
//! Offsets are those of the kernel's structures on x86-64 (include/linux/elfcore.h,
//! include/uapi/linux/elfcore.h); a kernel-written core on this machine has the same sizes:
//! NT_PRSTATUS 336 bytes, NT_PRPSINFO 136, NT_SIGINFO 128, NT_PRFPREG 512.

use super::model::{CoreImage, FileNote, ProcessNote, ThreadNote};
use crate::regs::Registers;

use object::elf::{
    NoteType, NT_AUXV, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE,
};

pub const PRSTATUS_SIZE: usize = 336;
pub const PRPSINFO_SIZE: usize = 136;
/// ELF_PRARGSZ: the command line bytes NT_PRPSINFO keeps, with its NUL.
const PRARGSZ: usize = 80;
const PAGE_SIZE: u64 = 4096;

/// Writes little-endian values at fixed offsets of a fixed-size structure.
struct Fixed<const N: usize>([u8; N]);

impl<const N: usize> Fixed<N> {
    fn new() -> Self {
        Fixed([0; N])
    }
    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.0[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.put(at, &v.to_le_bytes());
    }
    fn i32(&mut self, at: usize, v: i32) {
        self.put(at, &v.to_le_bytes());
    }
}

/// `pr_reg` is `struct user_regs_struct`, whose order (r15 first) is not the order
/// `Registers` keeps (rax first, as a user reads them): go through the libc struct, which
/// has the kernel's order, field by field.
pub fn user_regs_bytes(regs: &Registers) -> [u8; 27 * 8] {
    let r = regs.to_raw();
    let words = [
        r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx,
        r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds,
        r.es, r.fs, r.gs,
    ];
    let mut out = [0u8; 27 * 8];
    for (slot, w) in out.chunks_exact_mut(8).zip(words) {
        slot.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn timeval(d: std::time::Duration) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    out[8..].copy_from_slice(&i64::from(d.subsec_micros()).to_le_bytes());
    out
}

/// `struct elf_prstatus` of one thread.
pub fn prstatus(t: &ThreadNote, p: &ProcessNote) -> [u8; PRSTATUS_SIZE] {
    let mut s = Fixed::<PRSTATUS_SIZE>::new();
    // pr_info is {si_signo, si_code, si_errno}; siginfo_t has {si_signo, si_errno, si_code}.
    s.i32(0, t.cursig);
    if let Some(si) = &t.sets.siginfo {
        s.put(4, &si[8..12]);
        s.put(8, &si[4..8]);
    }
    s.put(12, &(t.cursig as i16).to_le_bytes());
    s.u64(16, t.sigpend);
    s.u64(24, t.sighold);
    s.i32(32, t.tid);
    s.i32(36, p.ppid);
    s.i32(40, p.pgrp);
    s.i32(44, p.sid);
    s.put(48, &timeval(t.times.user));
    s.put(64, &timeval(t.times.system));
    s.put(80, &timeval(t.times.children_user));
    s.put(96, &timeval(t.times.children_system));
    s.put(112, &user_regs_bytes(&t.regs));
    s.i32(328, i32::from(t.sets.fpregs.is_some()));
    s.0
}

/// The kernel's numbering of `pr_state` and its letter: the index into "RSDTZW". A thread
/// stopped by job control or a tracer counts as T.
fn state_code(state: char) -> (u8, u8) {
    let letter = if state == 't' { 'T' } else { state };
    match "RSDTZW".find(letter) {
        Some(i) => (i as u8, letter as u8),
        None => (6, b'.'),
    }
}

/// `struct elf_prpsinfo` of the process.
pub fn prpsinfo(p: &ProcessNote) -> [u8; PRPSINFO_SIZE] {
    let mut s = Fixed::<PRPSINFO_SIZE>::new();
    let (code, letter) = state_code(p.state);
    s.put(
        0,
        &[
            code,
            letter,
            u8::from(letter == b'Z'),
            p.nice.clamp(-20, 19) as i8 as u8,
        ],
    );
    s.u64(8, p.flags);
    s.put(16, &p.uid.to_le_bytes());
    s.put(20, &p.gid.to_le_bytes());
    s.i32(24, p.pid);
    s.i32(28, p.ppid);
    s.i32(32, p.pgrp);
    s.i32(36, p.sid);
    // pr_fname: comm, NUL-padded (the kernel's comm is at most 15 bytes).
    let comm = &p.comm[..p.comm.len().min(15)];
    s.put(40, comm);
    // pr_psargs: the first bytes of the argument area with NULs turned into spaces, as the
    // kernel does (so it reads like a shell line, with a trailing space).
    let args: Vec<u8> = p.cmdline[..p.cmdline.len().min(PRARGSZ - 1)]
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    s.put(56, &args);
    s.0
}

/// NT_FILE: count, page size, {start, end, offset in pages} per file, then the names.
pub fn file_note(files: &[FileNote]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + files.len() * 24 + files.len() * 48);
    out.extend_from_slice(&(files.len() as u64).to_le_bytes());
    out.extend_from_slice(&PAGE_SIZE.to_le_bytes());
    for f in files {
        for v in [f.start, f.end, f.page_offset] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    for f in files {
        out.extend_from_slice(&f.path);
        out.push(0);
    }
    out
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// One note: Elf64_Nhdr {namesz, descsz, type}, the name with its NUL, the descriptor, each
/// padded to 4 bytes.
pub fn push_note(out: &mut Vec<u8>, name: &str, kind: NoteType, desc: &[u8]) {
    out.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.0.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(desc);
    pad4(out);
}

fn thread_sets(out: &mut Vec<u8>, t: &ThreadNote) {
    if let Some(fp) = &t.sets.fpregs {
        push_note(out, "CORE", NT_PRFPREG, &fp[..]);
    }
    if let Some(xs) = &t.sets.xstate {
        push_note(out, "LINUX", NT_X86_XSTATE, xs);
    }
}

/// Every note, in the kernel's order: the first thread's NT_PRSTATUS, then the process-wide
/// notes, then that thread's register sets; then each other thread's NT_PRSTATUS and sets. A
/// thread's NT_SIGINFO follows its NT_PRSTATUS: debuggers give a note to the thread of the
/// NT_PRSTATUS before it.
pub fn build(image: &CoreImage) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, t) in image.threads.iter().enumerate() {
        push_note(&mut out, "CORE", NT_PRSTATUS, &prstatus(t, &image.process));
        if i == 0 {
            push_note(&mut out, "CORE", NT_PRPSINFO, &prpsinfo(&image.process));
        }
        if let Some(si) = &t.sets.siginfo {
            push_note(&mut out, "CORE", NT_SIGINFO, &si[..]);
        }
        if i == 0 {
            push_note(&mut out, "CORE", NT_AUXV, &image.auxv);
            push_note(&mut out, "CORE", NT_FILE, &file_note(&image.files));
        }
        thread_sets(&mut out, t);
    }
    if image.threads.is_empty() {
        push_note(&mut out, "CORE", NT_PRPSINFO, &prpsinfo(&image.process));
        push_note(&mut out, "CORE", NT_AUXV, &image.auxv);
        push_note(&mut out, "CORE", NT_FILE, &file_note(&image.files));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coredump::model::RegisterSets;
    use crate::procinfo::core_facts::CpuTimes;
    use std::time::Duration;

    fn process() -> ProcessNote {
        ProcessNote {
            pid: 100,
            ppid: 1,
            pgrp: 100,
            sid: 90,
            uid: 1000,
            gid: 1001,
            state: 'S',
            nice: -5,
            flags: 0x40_0040,
            comm: b"a-very-long-name-indeed".to_vec(),
            cmdline: b"/bin/svc\0--port\08080\0".to_vec(),
        }
    }

    fn thread() -> ThreadNote {
        let mut regs = Registers::default();
        for (i, v) in regs.0.iter_mut().enumerate() {
            *v = 0x1000 + i as u64;
        }
        ThreadNote {
            tid: 101,
            regs,
            cursig: libc::SIGUSR1,
            sigpend: 1 << 9,
            sighold: 1 << 1,
            times: CpuTimes {
                user: Duration::from_micros(1_500_000),
                system: Duration::from_micros(20_000),
                children_user: Duration::ZERO,
                children_system: Duration::from_secs(3),
            },
            sets: RegisterSets::default(),
        }
    }

    fn word(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }
    fn int(b: &[u8], at: usize) -> i32 {
        i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn prstatus_puts_every_field_where_the_kernel_does() {
        let p = process();
        let mut t = thread();
        let b = prstatus(&t, &p);
        assert_eq!(int(&b, 0), libc::SIGUSR1);
        assert_eq!(i16::from_le_bytes([b[12], b[13]]), libc::SIGUSR1 as i16);
        assert_eq!((word(&b, 16), word(&b, 24)), (1 << 9, 1 << 1));
        assert_eq!(
            [int(&b, 32), int(&b, 36), int(&b, 40), int(&b, 44)],
            [101, 1, 100, 90]
        );
        assert_eq!((word(&b, 48), word(&b, 56)), (1, 500_000));
        assert_eq!((word(&b, 64), word(&b, 72)), (0, 20_000));
        assert_eq!(word(&b, 96), 3);
        // pr_reg in user_regs_struct order: r15 first, rip at 16, rsp at 19, gs last.
        let reg = |i: usize| word(&b, 112 + 8 * i);
        assert_eq!(reg(0), t.regs.get("r15").unwrap());
        assert_eq!(reg(10), t.regs.get("rax").unwrap());
        assert_eq!(reg(15), t.regs.get("orig_rax").unwrap());
        assert_eq!(reg(16), t.regs.rip());
        assert_eq!(reg(18), t.regs.eflags());
        assert_eq!(reg(19), t.regs.rsp());
        assert_eq!(reg(21), t.regs.get("fs_base").unwrap());
        assert_eq!(reg(26), t.regs.get("gs").unwrap());
        assert_eq!(int(&b, 328), 0, "no FP registers: pr_fpvalid 0");

        let mut si = [0u8; 128];
        si[..4].copy_from_slice(&libc::SIGUSR1.to_le_bytes());
        si[4..8].copy_from_slice(&7i32.to_le_bytes()); // si_errno
        si[8..12].copy_from_slice(&(-6i32).to_le_bytes()); // si_code SI_TKILL
        t.sets.siginfo = Some(Box::new(si));
        t.sets.fpregs = Some(Box::new([0; 512]));
        let b = prstatus(&t, &p);
        assert_eq!(
            (int(&b, 4), int(&b, 8)),
            (-6, 7),
            "pr_info is signo, code, errno"
        );
        assert_eq!(int(&b, 328), 1);
    }

    #[test]
    fn prpsinfo_truncates_like_the_kernel() {
        let mut p = process();
        let b = prpsinfo(&p);
        assert_eq!(&b[..4], &[1, b'S', 0, (-5i8) as u8]);
        assert_eq!(word(&b, 8), 0x40_0040);
        assert_eq!([int(&b, 16), int(&b, 20)], [1000, 1001]);
        assert_eq!(
            [int(&b, 24), int(&b, 28), int(&b, 32), int(&b, 36)],
            [100, 1, 100, 90]
        );
        assert_eq!(&b[40..56], b"a-very-long-nam\0");
        assert_eq!(&b[56..56 + 21], b"/bin/svc --port 8080 ");
        assert!(b[56 + 21..].iter().all(|&c| c == 0));

        p.cmdline = vec![b'x'; 200];
        p.state = 't';
        let b = prpsinfo(&p);
        assert_eq!(&b[..2], &[3, b'T']);
        assert_eq!(&b[56..56 + 79], &[b'x'; 79][..]);
        assert_eq!(b[56 + 79], 0, "psargs keeps its NUL");
        p.state = 'Z';
        assert_eq!(&prpsinfo(&p)[..3], &[4, b'Z', 1]);
    }

    #[test]
    fn file_note_lists_ranges_then_names() {
        let files = [
            FileNote {
                start: 0x1000,
                end: 0x3000,
                page_offset: 0,
                path: b"/bin/a".to_vec(),
            },
            FileNote {
                start: 0x3000,
                end: 0x4000,
                page_offset: 2,
                path: b"/lib/b (deleted)".to_vec(),
            },
        ];
        let b = file_note(&files);
        assert_eq!([word(&b, 0), word(&b, 8)], [2, 4096]);
        assert_eq!(
            [word(&b, 16), word(&b, 24), word(&b, 32)],
            [0x1000, 0x3000, 0]
        );
        assert_eq!(
            [word(&b, 40), word(&b, 48), word(&b, 56)],
            [0x3000, 0x4000, 2]
        );
        assert_eq!(&b[64..], b"/bin/a\0/lib/b (deleted)\0");
    }

    #[test]
    fn notes_are_padded_to_four_bytes() {
        let mut out = Vec::new();
        push_note(&mut out, "LINUX", NT_X86_XSTATE, &[1, 2, 3, 4, 5]);
        assert_eq!(int(&out, 0), 6);
        assert_eq!(int(&out, 4), 5);
        assert_eq!(int(&out, 8), NT_X86_XSTATE.0 as i32);
        assert_eq!(&out[12..20], b"LINUX\0\0\0");
        assert_eq!(&out[20..], &[1, 2, 3, 4, 5, 0, 0, 0]);
    }
}
