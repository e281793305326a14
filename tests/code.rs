//! Seeing the code, against a real target (`ptscope __demo steps`): breakpoints by source line
//! at the line table's address, the disassembly at a breakpoint against `objdump -d` of the
//! same binary, and the stepping commands (`StepOver`, `Finish`, `StepLine`) checked by what
//! the thread's registers and the program's own counters say afterwards.

mod common;

use common::{bin, wait_all_stopped, TIMEOUT};
use ptscope::disasm::{self, Flow, Syntax};
use ptscope::symbols::{self, Symbolizer};
use ptscope::tracer::{
    Command, Event, EventKind, Options, Registers, Reply, Snapshot, StepOutcome, StopCause,
    TracerHandle, WatchKind,
};
use std::io::BufRead;
use std::process::{Child, Stdio};

/// The steps demo: its pid, thread A and B, and the address of `EFFECTS`.
struct Steps {
    child: Child,
    pid: i32,
    tids: [i32; 2],
    effects: u64,
}

impl Drop for Steps {
    fn drop(&mut self) {
        // Test targets are ours: kill them on purpose.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_steps() -> Steps {
    let mut child = std::process::Command::new(bin())
        .args(["__demo", "steps"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the steps demo");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("READY line");
    let json: serde_json::Value =
        serde_json::from_str(line.trim().strip_prefix("READY ").expect("READY")).unwrap();
    let tid = |i: usize| json["tids"][i].as_i64().expect("tid") as i32;
    let hex = json["effects"].as_str().expect("effects");
    Steps {
        pid: json["pid"].as_i64().expect("pid") as i32,
        tids: [tid(0), tid(1)],
        effects: u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex"),
        child,
    }
}

/// The line of `src/demo/steps.rs` that carries `// line: NAME`.
fn marker(name: &str) -> u32 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/steps.rs");
    let text = std::fs::read_to_string(path).expect("steps.rs");
    let tag = format!("// line: {name}");
    let i = text
        .lines()
        .position(|l| l.trim_end().ends_with(&tag))
        .unwrap_or_else(|| panic!("no marker {name}"));
    i as u32 + 1
}

fn attach(pid: i32) -> TracerHandle {
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let h = TracerHandle::attach(pid, opts).expect("attach");
    wait_all_stopped(&h);
    h
}

fn regs(h: &TracerHandle, tid: i32) -> Registers {
    match h.call(Command::GetRegisters { tid }) {
        Ok(Reply::Registers(r)) => *r,
        other => panic!("registers of {tid}: {other:?}"),
    }
}

/// The stack of a stopped thread, at most `frames` deep, its memory read through the engine.
fn backtrace(h: &TracerHandle, sym: &Symbolizer, tid: i32, frames: usize) -> symbols::Backtrace {
    let r = regs(h, tid);
    let mut read = |addr: u64, buf: &mut [u8]| {
        let m = h
            .read_memory(addr, buf.len())
            .map(|m| m.bytes)
            .unwrap_or_default();
        buf[..m.len()].copy_from_slice(&m);
        m.len()
    };
    symbols::unwind(sym, &r, &mut read, frames)
}

fn read_u64(h: &TracerHandle, addr: u64) -> u64 {
    let m = h.read_memory(addr, 8).expect("read");
    u64::from_le_bytes(m.bytes.try_into().expect("8 bytes"))
}

/// Continues until a thread stops at the breakpoint at `addr` (and `accept` takes its
/// registers); returns that thread and the snapshot. The breakpoint stays.
fn run_to(
    h: &TracerHandle,
    addr: u64,
    mut accept: impl FnMut(&Registers) -> bool,
) -> (i32, Snapshot) {
    for _ in 0..200 {
        h.call(Command::Continue).expect("continue");
        let snap = wait_all_stopped(h);
        let by = common::stopper(&snap);
        if by.cause == Some(StopCause::Breakpoint { addr }) && by.regs.is_some_and(|r| accept(&r)) {
            return (by.tid, snap);
        }
    }
    panic!("no thread stopped at {addr:#x} as wanted");
}

/// A breakpoint at `addr` until a thread stops there as `accept` wants, then removed: that
/// thread, stopped with the world.
fn stop_once_at(h: &TracerHandle, addr: u64, accept: impl FnMut(&Registers) -> bool) -> i32 {
    h.call(Command::AddBreakpoint { addr }).expect("add");
    let (tid, _) = run_to(h, addr, accept);
    h.call(Command::RemoveBreakpoint { addr }).expect("remove");
    tid
}

fn stepped(h: &TracerHandle, cmd: Command) -> StepOutcome {
    match h.call_timeout(cmd.clone(), TIMEOUT) {
        Ok(Reply::Stepped(o)) => o,
        other => panic!("{cmd:?}: {other:?}"),
    }
}

/// The instruction at `pc`, read the way the code pane reads it.
fn insn_at(h: &TracerHandle, pc: u64) -> disasm::Insn {
    let m = h.read_memory(pc, 16).expect("read code");
    disasm::decode(&m.bytes, pc, Syntax::Intel)
        .into_iter()
        .next()
        .expect("an instruction")
}

fn who(s: &Steps, tid: i32) -> usize {
    s.tids
        .iter()
        .position(|t| *t == tid)
        .expect("a steps thread")
}

fn drain(h: &TracerHandle) -> Vec<Event> {
    h.events().try_iter().collect()
}

/// binutils' addr2line on the ELF address: `FILE:LINE` without discriminators.
fn binutils_line(elf_addr: u64) -> String {
    let out = std::process::Command::new("addr2line")
        .args(["-e", bin(), &format!("{elf_addr:#x}")])
        .output()
        .expect("addr2line (binutils) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().split(' ').next().unwrap_or("").to_string()
}

fn bias(sym: &Symbolizer, addr: u64) -> u64 {
    let l = sym.symbolize(addr, false);
    addr - l.module_offset
}

#[test]
fn a_source_line_breakpoint_is_hit_at_the_line_tables_address() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let first = marker("first");
    let m = sym
        .addresses_of_line("demo/steps.rs", first)
        .expect("line found");
    assert_eq!((m.asked, m.line), (first, first));
    assert!(m.file.ends_with("src/demo/steps.rs"), "{}", m.file);
    assert_eq!(m.addrs.len(), 1, "one function holds the line: {m:?}");
    let addr = m.addrs[0];
    // binutils reads the same line table to the same line.
    let b = bias(&sym, addr);
    assert_eq!(
        binutils_line(addr - b),
        format!("{}:{first}", m.file),
        "addr2line of {addr:#x}"
    );
    // And the line's lowest address: nothing before it in the function is on that line.
    let f = sym.function_at(addr).expect("function");
    for a in f.start..addr {
        assert_ne!(
            sym.symbolize(a, false).line,
            Some(first),
            "{a:#x} is on it too"
        );
    }

    h.call(Command::AddBreakpoint { addr }).expect("add");
    let (tid, snap) = run_to(&h, addr, |_| true);
    assert!(s.tids.contains(&tid));
    let by = snap.threads.iter().find(|t| t.tid == tid).unwrap();
    assert_eq!(
        by.regs.map(|r| r.rip()),
        Some(addr),
        "rip on the line's first byte"
    );

    // A line with no code moves to the next line that has some: the function's first line.
    let nocode = marker("nocode");
    let moved = sym
        .addresses_of_line("steps.rs", nocode)
        .expect("a line after it has code");
    assert!(moved.line > nocode && moved.line < first, "{moved:?}");
    let lines = sym.addresses_of_line("steps.rs", moved.line).unwrap();
    assert_eq!(moved.addrs, lines.addrs);
    let start = sym.function_at(moved.addrs[0]).expect("function");
    assert_eq!(start.name, "ptscope_steps_lines");
    assert_eq!(start.start, moved.addrs[0], "the function's entry");
    // Names that are not there say so.
    assert!(sym.addresses_of_line("no_such_file.rs", 3).is_err());
    assert!(sym.addresses_of_line("steps.rs", 100_000).is_err());
    drop(h);
    common::assert_untraced_and_running(s.pid);
}

/// objdump -d -M intel of [start, stop) of the ptscope binary (ELF addresses): address ->
/// (bytes, text), the text with objdump's `<symbol>` and `# comment` tails cut.
fn objdump(start: u64, stop: u64) -> Vec<(u64, Vec<u8>, String)> {
    let out = std::process::Command::new("objdump")
        .args([
            "-d",
            "-M",
            "intel",
            "--insn-width=16",
            &format!("--start-address={start:#x}"),
            &format!("--stop-address={stop:#x}"),
            bin(),
        ])
        .output()
        .expect("objdump (binutils) is installed");
    assert!(out.status.success(), "objdump failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = Vec::new();
    for line in text.lines() {
        let Some((addr, rest)) = line.split_once(":\t") else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        let mut parts = rest.splitn(2, '\t');
        let bytes: Vec<u8> = parts
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect();
        let Some(insn) = parts.next() else { continue };
        let insn = insn.split(" #").next().unwrap_or(insn);
        let insn = insn.split(" <").next().unwrap_or(insn);
        rows.push((
            addr,
            bytes,
            insn.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    rows
}

/// Our text in objdump's spelling: branch targets bare hex without 0x (objdump names the
/// target after it, cut above), a negative rip displacement as objdump's 64-bit sum.
fn as_objdump(i: &disasm::Insn, bias: u64) -> String {
    if let Some(t) = i.target {
        return format!("{} {:x}", i.mnemonic, t - bias);
    }
    let text = i.text();
    match text.split_once("[rip-0x") {
        Some((head, tail)) => {
            let (hex, rest) = tail.split_once(']').expect("closing bracket");
            let d = u64::from_str_radix(hex, 16).expect("hex");
            format!("{head}[rip+{:#x}]{rest}", d.wrapping_neg())
        }
        None => text,
    }
}

#[test]
fn disassembly_at_a_breakpoint_equals_objdump_and_never_shows_our_int3() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let f = sym
        .lookup(None, "ptscope_steps_lines")
        .expect("lookup")
        .pop()
        .expect("the function");
    let b = bias(&sym, f.addr);
    let call_line = sym
        .addresses_of_line("steps.rs", marker("call"))
        .unwrap()
        .addrs[0];
    h.call(Command::AddBreakpoint { addr: call_line })
        .expect("add");
    let (tid, _) = run_to(&h, call_line, |_| true);
    let want = objdump(f.addr - b, f.addr - b + f.size);
    assert!(want.len() > 5, "objdump printed the function: {want:?}");

    let check = |want: &[(u64, Vec<u8>, String)], addr: u64, bytes: &[u8], when: &str| {
        let got = disasm::decode(bytes, addr, Syntax::Intel);
        assert_eq!(got.len(), want.len(), "{when}: instruction count");
        for (g, (addr, wbytes, wtext)) in got.iter().zip(want) {
            assert_eq!(g.addr - b, *addr, "{when}: boundaries");
            assert_eq!(&g.bytes, wbytes, "{when}: bytes at {addr:#x}");
            assert_eq!(&as_objdump(g, b), wtext, "{when}: text at {addr:#x}");
        }
        got
    };
    // Stopped at the breakpoint: at rest nothing of ours is in memory.
    let at_rest = h.read_memory(f.addr, f.size as usize).expect("read");
    let got = check(&want, f.addr, &at_rest.bytes, "at rest");
    let at_bp = got.iter().find(|i| i.addr == call_line).expect("bp line");
    assert_ne!(at_bp.mnemonic, "int3");
    let _ = tid;

    // Running with an int3 in a function nobody calls here: it is in memory, and the
    // tracer's read hides it.
    h.call(Command::RemoveBreakpoint { addr: call_line })
        .expect("remove");
    let hot = sym.lookup(None, "ptscope_demo_hot").unwrap().pop().unwrap();
    h.call(Command::AddBreakpoint { addr: hot.addr })
        .expect("add");
    h.call(Command::Continue).expect("continue");
    assert_eq!(common::read_proc_mem(s.pid, hot.addr, 1), [0xcc], "int3 in");
    let running = match h.call(Command::ReadMemory {
        addr: hot.addr,
        len: hot.size as usize,
    }) {
        Ok(Reply::Memory(m)) => m,
        other => panic!("read: {other:?}"),
    };
    let want = objdump(hot.addr - b, hot.addr - b + hot.size);
    let got = check(&want, hot.addr, &running.bytes, "running");
    assert_ne!(got[0].mnemonic, "int3", "our int3 shown");
    h.call(Command::Stop).expect("stop");
    drop(h);
    common::assert_untraced_and_running(s.pid);
}

#[test]
fn step_over_a_call_returns_with_its_side_effect_done() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let addr = sym
        .addresses_of_line("steps.rs", marker("call"))
        .unwrap()
        .addrs[0];
    // Off the line's breakpoint, so no other thread's hit can end the step early.
    let tid = stop_once_at(&h, addr, |_| true);
    let counter = s.effects + 8 * who(&s, tid) as u64;
    // `o` on the instructions before the call: one instruction each.
    let mut pc = regs(&h, tid).rip();
    let mut guard = 0;
    while insn_at(&h, pc).flow != Flow::Call {
        let next = insn_at(&h, pc).next_addr();
        let out = stepped(&h, Command::StepOver { tid });
        assert!(
            matches!(
                out,
                StepOutcome::Arrived {
                    instructions: 1,
                    ..
                }
            ),
            "{out:?}"
        );
        pc = regs(&h, tid).rip();
        assert_eq!(pc, next, "one instruction");
        guard += 1;
        assert!(guard < 20, "no call on the call line");
    }
    let call = insn_at(&h, pc);
    let before = regs(&h, tid);
    let effects = read_u64(&h, counter);
    drain(&h);
    let out = stepped(&h, Command::StepOver { tid });
    assert_eq!(
        out,
        StepOutcome::Arrived {
            pc: call.next_addr(),
            instructions: 1
        }
    );
    let after = regs(&h, tid);
    assert_eq!(after.rip(), call.next_addr(), "back right after the call");
    assert_eq!(after.rsp(), before.rsp(), "in the same frame");
    assert_eq!(
        read_u64(&h, counter),
        effects + 1,
        "the call ran once, whole"
    );
    // The log says how, and the thread shows why it stopped.
    let events = drain(&h);
    let note = format!(
        "temporary int3 at {:#x} (return address), continue",
        call.next_addr()
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Note { text, .. } if text.contains(&note))),
        "{note}"
    );
    let snap = h.snapshot().expect("snapshot");
    let t = snap.threads.iter().find(|t| t.tid == tid).unwrap();
    assert_eq!(t.cause, Some(StopCause::SteppedOver));
    assert!(
        snap.breakpoints.is_empty(),
        "the temporary int3 is no user breakpoint"
    );
    // Nothing of ours is left in memory at rest.
    assert_eq!(
        common::read_proc_mem(s.pid, call.next_addr(), 1),
        insn_at(&h, call.next_addr()).bytes[..1]
    );
    drop(h);
    common::assert_untraced_and_running(s.pid);
}

#[test]
fn finish_lands_in_the_caller_at_the_return_address_past_deeper_frames() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let depth = sym.address_of(None, "ptscope_steps_depth").expect("depth");
    // The innermost call of the recursion: n == 0.
    let tid = stop_once_at(&h, depth, |r| r.get("rdi") == Some(0));
    let bt = backtrace(&h, &sym, tid, 16);
    let names: Vec<String> = bt
        .frames
        .iter()
        .map(|f| f.location.function.clone().unwrap_or_default())
        .collect();
    assert!(
        names.len() >= 4 && names[..4].iter().all(|n| n == "ptscope_steps_depth"),
        "{names:?}"
    );
    // Finish frame #1 (depth 1): it returns into frame #2 (depth 2). Frame #0 (depth 0)
    // returns to the very same address first, one frame deeper: that must not count.
    let (ret, cfa) = (bt.frames[2].pc, bt.frames[2].sp);
    assert_eq!(
        bt.frames[1].pc, ret,
        "recursion: one return address for both"
    );
    drain(&h);
    let out = stepped(
        &h,
        Command::Finish {
            tid,
            return_addr: ret,
            cfa,
        },
    );
    assert!(
        matches!(out, StepOutcome::Arrived { pc, .. } if pc == ret),
        "{out:?}"
    );
    let after = regs(&h, tid);
    assert_eq!(
        (after.rip(), after.rsp()),
        (ret, cfa),
        "in depth 2, right after its call"
    );
    let events = drain(&h);
    let passed_deeper = events.iter().any(|e| {
        matches!(&e.kind, EventKind::Transition(t) if t.tid == tid && t.note.contains("not for this thread or frame"))
    });
    assert!(passed_deeper, "the deeper frame's return was stepped past");
    let rax = after.get("rax").unwrap();
    let note = format!("finish: frame returned, rax = {rax:#x}");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Note { text, .. } if *text == note)),
        "{note}"
    );
    // depth(1) returns depth(0) + 1 = effect(1) * 2... + 1 = 3.
    assert_eq!(rax, 3);
    drop(h);
    common::assert_untraced_and_running(s.pid);
}

#[test]
fn line_step_moves_one_line_and_steps_over_the_call() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let (first, call, after) = (marker("first"), marker("call"), marker("after"));
    let addr = sym.addresses_of_line("steps.rs", first).unwrap().addrs[0];
    let tid = stop_once_at(&h, addr, |_| true);
    let counter = s.effects + 8 * who(&s, tid) as u64;
    let line_of = |pc: u64| sym.line_at(pc).map(|l| l.line);

    let span = sym.line_at(addr).expect("line info");
    assert_eq!(span.line, first);
    let out = stepped(
        &h,
        Command::StepLine {
            tid,
            ranges: span.ranges,
        },
    );
    assert!(
        matches!(out, StepOutcome::Arrived { instructions, .. } if instructions >= 2),
        "{out:?}"
    );
    let pc = regs(&h, tid).rip();
    assert_eq!(line_of(pc), Some(call), "one line on: {pc:#x}");

    let effects = read_u64(&h, counter);
    let span = sym.line_at(pc).expect("line info");
    let out = stepped(
        &h,
        Command::StepLine {
            tid,
            ranges: span.ranges,
        },
    );
    assert!(matches!(out, StepOutcome::Arrived { .. }), "{out:?}");
    let pc = regs(&h, tid).rip();
    assert_eq!(
        line_of(pc),
        Some(after),
        "over the call to the next line: {pc:#x}"
    );
    assert_eq!(read_u64(&h, counter), effects + 1, "the call ran once");
    let snap = h.snapshot().expect("snapshot");
    let t = snap.threads.iter().find(|t| t.tid == tid).unwrap();
    assert_eq!(t.cause, Some(StopCause::SteppedLine));
    // A line step from somewhere not on the line is refused, and nothing moves.
    let refused = h.call(Command::StepLine {
        tid,
        ranges: vec![(1, 2)],
    });
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(regs(&h, tid).rip(), pc);
    assert_eq!(
        h.snapshot().expect("snapshot").state,
        ptscope::tracer::ProcessState::Stopped
    );
    drop(h);
    common::assert_untraced_and_running(s.pid);
}

#[test]
fn a_detach_while_a_finish_runs_takes_its_int3_out_and_says_why() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let lines = sym.address_of(None, "ptscope_steps_lines").expect("lines");
    let tid = stop_once_at(&h, lines, |_| true);
    // Finish `walk`, which loops for ever: the temporary int3 stays in while everything runs.
    let bt = backtrace(&h, &sym, tid, 8);
    let walk = bt
        .frames
        .iter()
        .position(|f| {
            f.location
                .function
                .as_deref()
                .is_some_and(|n| n.ends_with("::walk"))
        })
        .expect("walk on the stack");
    let (ret, cfa) = (bt.frames[walk + 1].pc, bt.frames[walk + 1].sp);
    let original = common::read_proc_mem(s.pid, ret, 1);
    let (tx, rx) = crossbeam_channel::bounded(1);
    let cmd = Command::Finish {
        tid,
        return_addr: ret,
        cfa,
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = tx.send(h.call_timeout(cmd, TIMEOUT));
        });
        common::eventually("the temporary int3 in memory", || {
            common::read_proc_mem(s.pid, ret, 1) == [0xcc]
        });
        assert_eq!(h.call(Command::Detach), Ok(Reply::Done));
    });
    let answer = rx.recv_timeout(TIMEOUT).expect("the finish is answered");
    assert_eq!(answer, Err(ptscope::tracer::TraceError::Detached));
    assert_eq!(
        common::read_proc_mem(s.pid, ret, 1),
        original,
        "original byte back"
    );
    common::assert_untraced_and_running(s.pid);
}

fn watch_counter(h: &TracerHandle, addr: u64) {
    let added = h.call(Command::AddWatchpoint {
        addr,
        kind: WatchKind::Write,
        len: Some(8),
    });
    assert!(matches!(added, Ok(Reply::Watchpoint(_))), "{added:?}");
}

/// The watchpoint hit `events` report for `tid` at `addr`, with the old and new values.
fn watch_hit(events: &[Event], tid: i32, addr: u64) -> (u64, u64) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::WatchpointHit(hit) if hit.tid == tid && hit.addr == addr => {
                Some((hit.old, hit.new))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no watchpoint hit of {tid} at {addr:#x}"))
}

fn noted(events: &[Event], what: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Note { text, .. } if text.contains(what)))
}

#[test]
fn a_watchpoint_hit_ends_a_step_over_a_finish_and_a_line_step_with_its_reason() {
    let s = start_steps();
    let h = attach(s.pid);
    let sym = Symbolizer::new(s.pid).expect("symbols");
    let call_line = sym
        .addresses_of_line("steps.rs", marker("call"))
        .unwrap()
        .addrs[0];
    let tid = stop_once_at(&h, call_line, |_| true);
    // Only this thread writes its own counter: the hit can only be the stepping thread's.
    let counter = s.effects + 8 * who(&s, tid) as u64;
    watch_counter(&h, counter);
    // Single steps (`o` on plain instructions) up to the call, armed, with nothing written.
    let mut pc = regs(&h, tid).rip();
    while insn_at(&h, pc).flow != Flow::Call {
        let out = stepped(&h, Command::StepOver { tid });
        assert!(matches!(out, StepOutcome::Arrived { .. }), "{out:?}");
        pc = regs(&h, tid).rip();
    }
    let call = insn_at(&h, pc);
    let before = regs(&h, tid);
    let effects = read_u64(&h, counter);
    drain(&h);

    // `o` over the call: the callee's write stops the world before the return address.
    let out = stepped(&h, Command::StepOver { tid });
    let hit = StopCause::Watchpoint { addr: counter };
    assert_eq!(
        out,
        StepOutcome::Interrupted {
            by: Some(tid),
            cause: Some(hit)
        }
    );
    let events = drain(&h);
    assert_eq!(watch_hit(&events, tid, counter), (effects, effects + 1));
    assert!(
        noted(
            &events,
            &format!("step over ended before it got there: thread {tid} watchpoint {counter:#x}")
        ),
        "the log says why the step over ended"
    );
    // Inside the call (in the callee, or in the atomic add a debug build does not inline),
    // right after the write.
    let inside = regs(&h, tid);
    assert!(
        inside.rsp() < before.rsp(),
        "stopped inside the call: {:#x}",
        inside.rip()
    );
    assert_ne!(
        sym.function_at(inside.rip()).map(|f| f.name),
        Some("ptscope_steps_lines".to_string())
    );
    assert_eq!(read_u64(&h, counter), effects + 1);
    assert_eq!(
        common::read_proc_mem(s.pid, call.next_addr(), 1),
        insn_at(&h, call.next_addr()).bytes[..1],
        "the temporary int3 is out"
    );
    let snap = h.snapshot().expect("snapshot");
    assert_eq!(snap.watchpoints[0].hits, 1);
    let t = snap.threads.iter().find(|t| t.tid == tid).unwrap();
    assert_eq!(t.cause, Some(hit));

    // `f` from there: back in the caller, the watchpoint armed again and silent.
    let out = stepped(
        &h,
        Command::Finish {
            tid,
            return_addr: call.next_addr(),
            cfa: before.rsp(),
        },
    );
    assert!(
        matches!(out, StepOutcome::Arrived { pc, .. } if pc == call.next_addr()),
        "{out:?}"
    );
    assert_eq!(regs(&h, tid).rsp(), before.rsp());

    // `f` from the callee's first instruction, the write still ahead: the hit ends it.
    let effect = sym
        .address_of(None, "ptscope_steps_effect")
        .expect("effect");
    h.call(Command::RemoveWatchpoint { addr: counter })
        .expect("unwatch");
    h.call(Command::AddBreakpoint { addr: effect })
        .expect("add");
    // Past the stop the finish published, still in the event queue.
    drain(&h);
    let (tid, _) = run_to(&h, effect, |_| true);
    h.call(Command::RemoveBreakpoint { addr: effect })
        .expect("remove");
    let counter = s.effects + 8 * who(&s, tid) as u64;
    watch_counter(&h, counter);
    let entry = regs(&h, tid);
    let return_addr = read_u64(&h, entry.rsp());
    let effects = read_u64(&h, counter);
    drain(&h);
    let out = stepped(
        &h,
        Command::Finish {
            tid,
            return_addr,
            cfa: entry.rsp() + 8,
        },
    );
    let hit = StopCause::Watchpoint { addr: counter };
    assert_eq!(
        out,
        StepOutcome::Interrupted {
            by: Some(tid),
            cause: Some(hit)
        }
    );
    let events = drain(&h);
    assert_eq!(watch_hit(&events, tid, counter), (effects, effects + 1));
    assert!(noted(
        &events,
        &format!("finish ended before it got there: thread {tid} watchpoint {counter:#x}")
    ));
    assert_eq!(
        common::read_proc_mem(s.pid, return_addr, 1),
        insn_at(&h, return_addr).bytes[..1],
        "the finish's int3 is out"
    );

    // `l` on the call line: the call is run to its return, and the write inside ends it.
    h.call(Command::RemoveWatchpoint { addr: counter })
        .expect("unwatch");
    h.call(Command::AddBreakpoint { addr: call_line })
        .expect("add");
    drain(&h);
    let (tid, _) = run_to(&h, call_line, |_| true);
    h.call(Command::RemoveBreakpoint { addr: call_line })
        .expect("remove");
    let counter = s.effects + 8 * who(&s, tid) as u64;
    watch_counter(&h, counter);
    let span = sym.line_at(call_line).expect("line info");
    let out = stepped(
        &h,
        Command::StepLine {
            tid,
            ranges: span.ranges,
        },
    );
    assert_eq!(
        out,
        StepOutcome::Interrupted {
            by: Some(tid),
            cause: Some(StopCause::Watchpoint { addr: counter })
        }
    );
    let caller = sym.function_at(call_line).expect("the caller").name;
    assert_ne!(
        sym.function_at(regs(&h, tid).rip()).map(|f| f.name),
        Some(caller),
        "stopped inside the call"
    );
    // At rest after all that, and once gone: no debug register of ours armed on any thread.
    drop(h);
    common::assert_untraced_and_running(s.pid);
    common::debugregs::assert_all_disarmed(s.pid);
}
