//! Changing a live process: registers the thread then runs with, memory read back through
//! /proc/PID/mem, a write over one of our breakpoints, and every refusal leaving things as they
//! were.

mod common;

use common::*;
use ptscope::tracer::{
    Command, Event, EventKind, Options, Registers, Reply, StopCause, TraceError, TracerHandle,
    WriteRecord,
};

fn attach_stopped(lab: &Lab) -> TracerHandle {
    let h = TracerHandle::attach(lab.pid, Options::default()).expect("attach");
    wait_all_stopped(&h);
    h
}

fn regs(h: &TracerHandle, tid: i32) -> Registers {
    match h.call(Command::GetRegisters { tid }).expect("registers") {
        Reply::Registers(r) => *r,
        other => panic!("unexpected {other:?}"),
    }
}

fn set(h: &TracerHandle, tid: i32, name: &str, value: u64) -> Result<Reply, TraceError> {
    h.call(Command::SetRegister {
        tid,
        name: name.into(),
        value,
    })
}

fn write(h: &TracerHandle, addr: u64, bytes: &[u8]) -> Result<Reply, TraceError> {
    h.call(Command::WriteMemory {
        addr,
        bytes: bytes.to_vec(),
    })
}

/// The next write the tracer announces.
fn wrote(h: &TracerHandle) -> WriteRecord {
    match wait_for(h, |e: &Event| matches!(e.kind, EventKind::Wrote(_))).kind {
        EventKind::Wrote(w) => w,
        _ => unreachable!(),
    }
}

/// With the process running, has the lab run `answer` until the thread sits on the
/// breakpoint at `addr`.
fn stop_at(h: &TracerHandle, lab: &mut Lab, addr: u64) -> i32 {
    lab.send("answer").expect("write to the lab");
    // (An all-stop of our own asking, still in the stream, names no thread.)
    let snap = loop {
        let s = wait_all_stopped(h);
        if s.stopped_by.is_some() {
            break s;
        }
    };
    let by = stopper(&snap);
    assert_eq!(by.cause, Some(StopCause::Breakpoint { addr }));
    assert_eq!(by.regs.map(|r| r.rip()), Some(addr));
    by.tid
}

fn leave(h: TracerHandle, lab: &mut Lab) {
    h.shutdown().expect("detach");
    assert_untraced_and_running(lab.pid);
    assert_alive(lab);
}

/// ptscope_lab_answer: xor eax, eax (+0); nop (+2); mov eax, 42 (+3); ret (+8).
const RET: u64 = 8;

#[test]
fn a_register_write_is_what_the_thread_runs_with() {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab);
    let answer = lab.answer;
    h.call(Command::AddBreakpoint { addr: answer + RET })
        .unwrap();
    // At the ret, rax holds 42 (mov eax zero-extends): 7 instead is what the lab prints.
    h.call(Command::Continue).unwrap();
    let tid = stop_at(&h, &mut lab, answer + RET);
    assert_eq!(regs(&h, tid).get("rax"), Some(42));
    let reply = set(&h, tid, "rax", 7).unwrap();
    assert!(matches!(reply, Reply::Registers(r) if r.get("rax") == Some(7)));
    assert_eq!(wrote(&h).to_string(), "wrote rax = 0x7 (was 0x2a)");
    h.call(Command::Continue).unwrap();
    lab.wait_line("answer 7").expect("a lab line");

    // rip: from the entry straight to the ret, with eax chosen on the way.
    h.call(Command::Stop).unwrap();
    h.call(Command::AddBreakpoint { addr: answer }).unwrap();
    h.call(Command::Continue).unwrap();
    let tid = stop_at(&h, &mut lab, answer);
    set(&h, tid, "RIP", answer + RET).unwrap();
    set(&h, tid, "rax", 99).unwrap();
    assert_eq!(regs(&h, tid).rip(), answer + RET);
    // Continuing steps it over the breakpoint at the ret it now sits on: the ret runs.
    h.call(Command::Continue).unwrap();
    lab.wait_line("answer 99").expect("a lab line");
    leave(h, &mut lab);
}

#[test]
fn refused_register_writes_change_nothing_and_eflags_is_read_back() {
    let mut lab = start_lab(1);
    let hot = lab.command_tid("hot").expect("a lab command");
    let h = attach_stopped(&lab);
    let before = regs(&h, hot);

    // The kernel lets a tracer change only some eflags bits (not IF, IOPL or the reserved
    // bit 1): what it made of the value is read back and said.
    let reply = set(&h, hot, "eflags", 0).unwrap();
    let now = match reply {
        Reply::Registers(r) => r.eflags(),
        other => panic!("{other:?}"),
    };
    assert_ne!(now, 0);
    assert_ne!(now & 0x200, 0, "IF stays set");
    let rec = wrote(&h);
    assert_eq!(
        rec,
        WriteRecord::Register {
            tid: hot,
            name: "eflags".into(),
            old: before.eflags(),
            asked: 0,
            now,
        }
    );
    assert!(
        rec.to_string()
            .contains(&format!("the kernel made it {now:#x}")),
        "{rec}"
    );
    set(&h, hot, "eflags", before.eflags()).unwrap();
    assert_eq!(regs(&h, hot), before);

    // A data selector must be 0 or user-mode (RPL 3); a base must be in user space.
    for (name, value) in [
        ("fs", 0x1u64),
        ("gs", 0x12),
        ("fs_base", 0xffff_8000_0000_0000),
    ] {
        match set(&h, hot, name, value) {
            Err(TraceError::RegisterRefused {
                name: n, value: v, ..
            }) => {
                assert_eq!((n.as_str(), v), (name, value));
            }
            other => panic!("{name} = {value:#x}: {other:?}"),
        }
        assert_eq!(regs(&h, hot), before, "{name}: nothing changed");
    }
    let e = set(&h, hot, "fs", 1).unwrap_err().to_string();
    assert!(
        e.starts_with("the kernel refused fs = 0x1 (PTRACE_SETREGS"),
        "{e}"
    );
    assert_eq!(
        set(&h, hot, "cs", 0x23),
        Err(TraceError::ReadOnlyRegister("cs".into()))
    );
    assert_eq!(
        set(&h, hot, "eax", 1),
        Err(TraceError::UnknownRegister("eax".into()))
    );
    assert_eq!(regs(&h, hot), before);

    // Running: refused, with the reason.
    h.call(Command::Continue).unwrap();
    let e = set(&h, hot, "rax", 1).unwrap_err().to_string();
    assert!(e.contains("running"), "{e}");
    let e = write(&h, lab.usr1, &[1]).unwrap_err().to_string();
    assert!(e.contains("running"), "{e}");
    leave(h, &mut lab);
}

#[test]
fn memory_writes_read_back_and_refusals_write_nothing() {
    let mut lab = start_lab(1);
    let h = attach_stopped(&lab);
    let at = lab.usr1;
    let original = read_proc_mem(lab.pid, at, 8);

    write(&h, at, &0x1122_3344_5566_7788u64.to_le_bytes()).unwrap();
    assert_eq!(
        read_proc_mem(lab.pid, at, 8),
        0x1122_3344_5566_7788u64.to_le_bytes()
    );
    let rec = wrote(&h);
    assert_eq!(
        rec,
        WriteRecord::Memory {
            addr: at,
            old: original.clone(),
            new: 0x1122_3344_5566_7788u64.to_le_bytes().to_vec(),
        }
    );
    assert_eq!(
        rec.to_string(),
        format!("wrote 8 bytes at {at:#x}: 88 77 66 55 44 33 22 11 (was 00 00 00 00 00 00 00 00)")
    );
    write(&h, at, b"hi\n").unwrap();
    assert_eq!(read_proc_mem(lab.pid, at, 8), b"hi\n\x55\x44\x33\x22\x11");

    // Unmapped, or running into a hole after a mapping: refused whole.
    let e = write(&h, 0x10, &[1, 2]).unwrap_err();
    assert!(
        matches!(e, TraceError::Unwritable { addr: 0x10, .. }),
        "{e}"
    );
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", lab.pid)).unwrap();
    let ranges: Vec<(u64, u64, bool)> = maps
        .lines()
        .map(|l| {
            let mut p = l.split_whitespace();
            let (a, b) = p.next().unwrap().split_once('-').unwrap();
            let writable = p.next().unwrap().starts_with("rw");
            (
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
                writable,
            )
        })
        .collect();
    let edge = ranges
        .windows(2)
        .find(|w| w[0].1 < w[1].0 && w[0].2)
        .map(|w| w[0].1)
        .expect("a writable mapping followed by a hole");
    let tail = read_proc_mem(lab.pid, edge - 8, 8);
    let e = write(&h, edge - 8, &[0xab; 16]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write memory at {:#x}: only 8 of the 16 bytes are mapped",
            edge - 8
        )
    );
    assert_eq!(read_proc_mem(lab.pid, edge - 8, 8), tail, "nothing written");

    write(&h, at, &original).unwrap();
    assert_eq!(read_proc_mem(lab.pid, at, 8), original);
    leave(h, &mut lab);
}

#[test]
fn a_write_over_a_breakpoint_changes_the_saved_byte_and_the_int3_still_works() {
    let mut lab = start_lab(1);
    let text = read_proc_mem(lab.pid, lab.answer, 9);
    assert_eq!(text, [0x31, 0xc0, 0x90, 0xb8, 0x2a, 0, 0, 0, 0xc3]);
    let h = attach_stopped(&lab);
    let nop = lab.answer + 2;
    h.call(Command::AddBreakpoint { addr: nop }).unwrap();
    h.call(Command::Continue).unwrap();
    stop_at(&h, &mut lab, nop);
    // At rest the program's own bytes are in memory; the write goes there and becomes the
    // breakpoint's saved byte: the nop is now a ret, with eax still 0.
    write(&h, nop, &[0xc3]).unwrap();
    assert_eq!(read_proc_mem(lab.pid, nop, 1), [0xc3]);
    h.call(Command::Continue).unwrap();
    lab.wait_line("answer 0").expect("a lab line");
    // Running: our int3 is back over the new byte, and reads through the tracer hide it.
    assert_eq!(read_proc_mem(lab.pid, nop, 1), [0xcc]);
    match h.call(Command::ReadMemory { addr: nop, len: 1 }).unwrap() {
        Reply::Memory(m) => assert_eq!(m.bytes, [0xc3]),
        other => panic!("{other:?}"),
    }
    // And it works: the next call stops on it again.
    stop_at(&h, &mut lab, nop);
    assert_eq!(h.snapshot().unwrap().breakpoints[0].hits, 2);
    write(&h, nop, &[0x90]).unwrap();
    h.call(Command::Continue).unwrap();
    lab.wait_line("answer 42").expect("a lab line");
    h.call(Command::Stop).unwrap();
    h.call(Command::RemoveBreakpoint { addr: nop }).unwrap();
    leave(h, &mut lab);
    assert_eq!(read_proc_mem(lab.pid, lab.answer, 9), text);
    lab.send("answer").expect("write to the lab");
    lab.wait_line("answer 42").expect("a lab line");
}
