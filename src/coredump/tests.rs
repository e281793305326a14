//! The writer from fixed data, read back with the `object` crate's ELF reader.

use super::elf;
use super::model::*;
use super::notes::{PRPSINFO_SIZE, PRSTATUS_SIZE};
use crate::procinfo::core_facts::CpuTimes;
use crate::regs::Registers;
use object::elf::{FileHeader64, PT_LOAD, PT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian as LE;
use std::fmt::Write;

fn regs(seed: u64) -> Registers {
    let mut r = Registers::default();
    for (i, v) in r.0.iter_mut().enumerate() {
        *v = seed + i as u64;
    }
    r
}

fn thread(tid: i32, cursig: i32) -> ThreadNote {
    ThreadNote {
        tid,
        regs: regs(u64::from(tid as u32) << 8),
        cursig,
        sigpend: 0,
        sighold: 0,
        times: CpuTimes::default(),
        sets: RegisterSets::default(),
    }
}

fn image() -> CoreImage {
    let mut first = thread(4242, libc::SIGUSR1);
    first.sets.siginfo = Some(Box::new([7; SIGINFO_SIZE]));
    first.sets.fpregs = Some(Box::new([1; FPREGS_SIZE]));
    first.sets.xstate = Some(vec![2; 2696]);
    CoreImage {
        process: ProcessNote {
            pid: 4242,
            ppid: 1,
            pgrp: 4242,
            sid: 4000,
            uid: 0,
            gid: 0,
            state: 'S',
            nice: 0,
            flags: 0x40_0140,
            comm: b"svc".to_vec(),
            cmdline: b"/usr/bin/svc\0-v\0".to_vec(),
        },
        threads: vec![first, thread(4243, 0)],
        auxv: [6u64, 4096, 0, 0]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect(),
        files: vec![FileNote {
            start: 0x40_0000,
            end: 0x40_2000,
            page_offset: 0,
            path: b"/usr/bin/svc".to_vec(),
        }],
        segments: vec![
            Segment {
                start: 0x40_0000,
                end: 0x40_1000,
                flags: PF_R,
                dump_len: 0x1000,
            },
            Segment {
                start: 0x40_1000,
                end: 0x40_2000,
                flags: PF_R | PF_X,
                dump_len: 0,
            },
            Segment {
                start: 0x7f00_0000_0000,
                end: 0x7f00_0000_3000,
                flags: PF_R | PF_W,
                dump_len: 0x3000,
            },
        ],
    }
}

fn pattern(segment: usize) -> u8 {
    0xa0 + (segment % 16) as u8
}

fn note_name(kind: object::elf::NoteType) -> String {
    use object::elf::*;
    let known = [
        (NT_PRSTATUS, "NT_PRSTATUS"),
        (NT_PRFPREG, "NT_PRFPREG"),
        (NT_PRPSINFO, "NT_PRPSINFO"),
        (NT_AUXV, "NT_AUXV"),
        (NT_SIGINFO, "NT_SIGINFO"),
        (NT_FILE, "NT_FILE"),
        (NT_X86_XSTATE, "NT_X86_XSTATE"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(|| format!("{:#x}", kind.0), |(_, n)| n.to_string())
}

/// The file a writer would produce, with each segment's bytes a recognisable pattern.
fn file_of(image: &CoreImage) -> Vec<u8> {
    let layout = elf::layout(image);
    let mut file = layout.headers.clone();
    for (i, s) in image.segments.iter().enumerate() {
        file.extend(std::iter::repeat_n(pattern(i), s.dump_len as usize));
    }
    assert_eq!(file.len() as u64, layout.file_len());
    file
}

/// Like `readelf -h -l -n`, from the parsed file.
fn describe(file: &[u8]) -> String {
    let h = FileHeader64::<LE>::parse(file).unwrap();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "type {} machine {} version {} phnum {}",
        h.e_type(LE).0,
        h.e_machine(LE).0,
        h.e_version(LE),
        h.phnum(LE, file).unwrap()
    );
    for ph in h.program_headers(LE, file).unwrap() {
        let kind = ph.p_type(LE);
        let name = if kind == PT_NOTE { "NOTE" } else { "LOAD" };
        let f = ph.p_flags(LE).0;
        let _ = writeln!(
            out,
            "{name} vaddr {:#014x} memsz {:#07x} filesz {:#07x} offset {:#07x} align {:#x} {}{}{}",
            ph.p_vaddr(LE),
            ph.p_memsz(LE),
            ph.p_filesz(LE),
            ph.p_offset(LE),
            ph.p_align(LE),
            if f & PF_R != 0 { 'R' } else { '-' },
            if f & PF_W != 0 { 'W' } else { '-' },
            if f & PF_X != 0 { 'X' } else { '-' },
        );
        if let Some(notes) = ph.notes(LE, file).unwrap() {
            for n in notes {
                let n = n.unwrap();
                let _ = writeln!(
                    out,
                    "  {:<6} {:<14} size {}",
                    String::from_utf8_lossy(n.name()),
                    note_name(n.n_type(LE)),
                    n.desc().len()
                );
            }
        }
    }
    out
}

#[test]
fn headers_notes_and_segments_read_back() {
    let image = image();
    let file = file_of(&image);
    insta::assert_snapshot!(describe(&file));
}

#[test]
fn segment_bytes_sit_at_their_offsets_page_aligned() {
    let image = image();
    let file = file_of(&image);
    let h = FileHeader64::<LE>::parse(&file[..]).unwrap();
    let loads: Vec<_> = h
        .program_headers(LE, &file[..])
        .unwrap()
        .iter()
        .filter(|p| p.p_type(LE) == PT_LOAD)
        .collect();
    assert_eq!(loads.len(), image.segments.len());
    for (i, (ph, s)) in loads.iter().zip(&image.segments).enumerate() {
        assert_eq!(ph.p_offset(LE) % 4096, 0);
        assert_eq!((ph.p_vaddr(LE), ph.p_memsz(LE)), (s.start, s.len()));
        let data = ph.data(LE, &file[..]).unwrap();
        assert_eq!(data.len() as u64, s.dump_len);
        assert!(data.iter().all(|&b| b == pattern(i)), "segment {i}");
    }
}

#[test]
fn notes_carry_the_thread_and_process_structures() {
    let image = image();
    let file = file_of(&image);
    let h = FileHeader64::<LE>::parse(&file[..]).unwrap();
    let note_ph = h.program_headers(LE, &file[..]).unwrap()[0];
    let notes: Vec<_> = note_ph
        .notes(LE, &file[..])
        .unwrap()
        .unwrap()
        .map(|n| n.unwrap())
        .collect();
    let prstatus: Vec<&[u8]> = notes
        .iter()
        .filter(|n| n.n_type(LE) == object::elf::NT_PRSTATUS)
        .map(|n| n.desc())
        .collect();
    assert_eq!(prstatus.len(), 2);
    assert!(prstatus.iter().all(|d| d.len() == PRSTATUS_SIZE));
    let tid = |d: &[u8]| i32::from_le_bytes(d[32..36].try_into().unwrap());
    assert_eq!([tid(prstatus[0]), tid(prstatus[1])], [4242, 4243]);
    // rip is word 16 of pr_reg (offset 112).
    let rip = |d: &[u8]| u64::from_le_bytes(d[112 + 128..112 + 136].try_into().unwrap());
    assert_eq!(rip(prstatus[1]), image.threads[1].regs.rip());
    let psinfo = notes
        .iter()
        .find(|n| n.n_type(LE) == object::elf::NT_PRPSINFO)
        .unwrap();
    assert_eq!(psinfo.desc().len(), PRPSINFO_SIZE);
    assert_eq!(&psinfo.desc()[40..44], b"svc\0");
    let auxv = notes
        .iter()
        .find(|n| n.n_type(LE) == object::elf::NT_AUXV)
        .unwrap();
    assert_eq!(auxv.desc(), &image.auxv[..]);
}

#[test]
fn more_program_headers_than_e_phnum_holds() {
    let mut image = image();
    image.segments = (0..70_000u64)
        .map(|i| Segment {
            start: 0x1000_0000 + i * 0x2000,
            end: 0x1000_1000 + i * 0x2000,
            flags: PF_R,
            dump_len: 0,
        })
        .collect();
    let file = file_of(&image);
    let h = FileHeader64::<LE>::parse(&file[..]).unwrap();
    assert_eq!(h.e_phnum(LE), object::elf::PN_XNUM);
    assert_eq!(h.phnum(LE, &file[..]).unwrap(), 70_001);
    let phs = h.program_headers(LE, &file[..]).unwrap();
    assert_eq!(phs.len(), 70_001);
    assert_eq!(phs[0].p_type(LE), PT_NOTE);
    assert_eq!(phs[70_000].p_vaddr(LE), 0x1000_0000 + 69_999 * 0x2000);
    assert!(phs[0].notes(LE, &file[..]).unwrap().unwrap().count() > 0);
}

fn info(
    tid: i32,
    state: crate::tracer::ThreadState,
    regs: bool,
    sig: Option<i32>,
) -> crate::tracer::ThreadInfo {
    crate::tracer::ThreadInfo {
        tid,
        name: format!("t{tid}"),
        state,
        cause: None,
        regs: regs.then(|| self::regs(u64::from(tid as u32))),
        pending_signal: sig,
        zombie: false,
    }
}

#[test]
fn the_thread_holding_a_signal_comes_first_and_threads_without_registers_are_left_out() {
    use crate::tracer::{ProcessState, Snapshot, ThreadState::*};
    let mut zombie = info(10, Stopped, false, None);
    zombie.zombie = true;
    let snap = Snapshot {
        pid: 10,
        state: ProcessState::Stopped,
        threads: vec![
            zombie,
            info(11, Stopped, true, None),
            info(12, Stopped, true, Some(libc::SIGUSR2)),
            info(13, Stopping, false, None),
        ],
        breakpoints: Vec::new(),
        watchpoints: Vec::new(),
        stopped_by: None,
    };
    let mut facts = std::collections::BTreeMap::new();
    facts.insert(
        12,
        crate::procinfo::core_facts::ThreadFacts {
            tid: 12,
            pending: 1 << 3,
            blocked: 1 << 4,
            times: CpuTimes::default(),
        },
    );
    let (notes, left_out) = super::thread_notes(&snap, &facts, Default::default());
    let tids: Vec<i32> = notes.iter().map(|t| t.tid).collect();
    assert_eq!(tids, [12, 11]);
    assert_eq!(left_out, [10, 13]);
    assert_eq!(notes[0].cursig, libc::SIGUSR2);
    assert_eq!((notes[0].sigpend, notes[0].sighold), (1 << 3, 1 << 4));
    assert_eq!((notes[1].cursig, notes[1].sigpend), (0, 0));
    assert_eq!(
        super::live_view(10, &notes),
        12,
        "a zombie leader is read through a live thread"
    );

    // Without a signal, the leader leads.
    let snap = Snapshot {
        threads: vec![info(11, Stopped, true, None), info(10, Stopped, true, None)],
        ..snap
    };
    let (notes, _) = super::thread_notes(&snap, &facts, Default::default());
    assert_eq!(notes[0].tid, 10);
    assert_eq!(super::live_view(10, &notes), 10);
}

#[test]
fn the_copy_fits_only_with_room_to_spare() {
    const MIB: u64 = 1 << 20;
    assert!(super::fits(512 * MIB, 2048 * MIB));
    assert!(
        !super::fits(512 * MIB, 600 * MIB),
        "an eighth more and 64 MiB"
    );
    assert!(super::fits(0, 64 * MIB));
    assert!(!super::fits(u64::MAX, u64::MAX - 1));
}

#[test]
fn summary_line_says_what_was_written_and_how_long_the_process_stood_still() {
    use super::{summary_line, Method, StreamReason, Summary};
    use std::time::Duration;
    let mut s = Summary {
        path: "core.4242".into(),
        bytes: 613 << 20,
        copied: 540 << 20,
        threads: vec![(4242, regs(0)), (4243, regs(0))],
        left_out: Vec::new(),
        mappings_written: 31,
        mappings_skipped: 17,
        unreadable_pages: 0,
        before: Duration::from_millis(120),
        pause: Duration::from_micros(92_400),
        elapsed: Duration::from_millis(640),
        method: Method::InMemory,
    };
    let mut lines = vec![summary_line(&s)];
    s.method = Method::Streamed(StreamReason::Asked);
    s.left_out = vec![4244, 4245];
    s.unreadable_pages = 3;
    lines.push(summary_line(&s));
    insta::assert_snapshot!(lines.join("\n"));
}
