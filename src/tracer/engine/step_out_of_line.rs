//! Letting a thread past a breakpoint without stopping the others: its original instruction,
//! relocated, runs from a scratch page in the target, followed by a jump back to the
//! instruction after it.
//!
//! At a hit that does not stop (a false condition, an ignored hit, a logpoint, a trace hit)
//! the thread's rip is pointed at the breakpoint's slot and the thread is continued: it runs
//! the copy, jumps back, and goes on. The int3 stays in place all along, so every other thread
//! that reaches the address traps as well: none can run through it unseen. That costs the
//! hitting thread one ptrace stop and nobody else anything.
//!
//! Measured against the other way (stop every thread, step over in place, resume all: still
//! there, `PassHits::StopTheWorld`, and used where an instruction cannot be relocated) with
//! `ptscope trace` on the lab's hot function, 2 cores, same run (benches/ptscope `trace` rows):
//!   2 hot threads: out of line 35.6 k hits/s, stopping the world 9.6 k hits/s (3.7x);
//!   8 hot threads: out of line 44.6 k hits/s, stopping the world 10.9 k hits/s (4.1x)
//! (an earlier run on a busier machine: 16.0 k against 3.4 k, and 26.5 k against 11.1 k).
//!
//! The copy is made by iced-x86's BlockEncoder, which re-encodes RIP-relative operands and
//! branch targets for the new address; the page is placed within 1 GiB of the breakpoint so
//! that they still reach. Not relocated (the world is stopped for those instead): calls (the
//! return address would point into the page), system calls and interrupts (a step must not
//! block or trap), and anything the encoder cannot fit in one instruction.
//!
//! The page is mapped once (an mmap made by a stopped thread, `inject.rs`) and stays mapped:
//! a thread may have been interrupted by a signal while in a slot, and its handler returns
//! there. It is harmless at rest, after a detach and after ptscope dies: read-only, it holds
//! only copies of the program's own instructions, each followed by a jump back to where the
//! original goes on, so a thread that finds itself there (a signal handler returning, or a
//! thread continued by the kernel when ptscope was killed) carries on correctly. Slots are
//! never reused for another address. At rest no thread stands in the page: an all-stop moves
//! a thread found at a slot's start back to the breakpoint, one found at its jump to the
//! instruction after the breakpoint (`bring_back`).

use super::Engine;
use crate::procinfo::maps::{self, Mapping};
use crate::regs::Registers;
use crate::tracer::error::TraceError;
use crate::tracer::ptrace as pt;
use crate::tracer::thread::Tid;
use iced_x86::{
    BlockEncoder, BlockEncoderOptions, Code, Decoder, DecoderOptions, FlowControl, Instruction,
    InstructionBlock, Mnemonic,
};
use std::collections::BTreeMap;

const PAGE: u64 = 4096;
/// Bytes per slot: the longest relocated instruction plus the jump back, rounded up.
const SLOT: u64 = 48;
/// A page serves breakpoints this close: RIP-relative operands (±2 GiB of the original) must
/// still reach from the copy.
const REACH: u64 = 1 << 30;
const SYS_MMAP: u64 = 9;
const PROT_READ_EXEC: u64 = 0x1 | 0x4;
const MAP_PRIVATE_ANON_FIXED_NOREPLACE: u64 = 0x02 | 0x20 | 0x10_0000;

/// One breakpoint's copy in a scratch page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    /// Where the relocated instruction starts.
    pub at: u64,
    /// Where the jump back starts (the relocated instruction's end).
    pub jump: u64,
    /// The instruction after the breakpoint's, in the original code.
    pub next: u64,
    /// The original instruction's bytes (`len` of them): a copy is good while they are.
    pub source: [u8; 16],
    pub len: u8,
}

struct Page {
    base: u64,
    used: u64,
}

/// The scratch pages and the slots in them.
#[derive(Default)]
pub(super) struct OutOfLine {
    pages: Vec<Page>,
    slots: BTreeMap<u64, Slot>,
    /// Breakpoints whose instruction cannot go out of line, and why (said once).
    refused: BTreeMap<u64, String>,
    /// An mmap in the target failed: not tried again until exec.
    no_page: Option<String>,
}

impl OutOfLine {
    pub fn slot(&self, addr: u64) -> Option<Slot> {
        self.slots.get(&addr).copied()
    }

    /// The image is gone (exec): so are the pages.
    pub fn clear(&mut self) {
        *self = OutOfLine::default();
    }

    /// The memory under a breakpoint changed: its copy is stale. A new slot is made at the next
    /// continue; the old one stays as it was for any thread that may still return into it.
    pub fn forget(&mut self, addr: u64) {
        self.slots.remove(&addr);
        self.refused.remove(&addr);
    }

    /// Where a thread standing in a slot belongs: the breakpoint (it has not run the copy) or
    /// the instruction after it (it has).
    pub fn home(&self, rip: u64) -> Option<u64> {
        self.slots.iter().find_map(|(addr, s)| {
            if rip == s.at {
                Some(*addr)
            } else if rip == s.jump {
                Some(s.next)
            } else {
                None
            }
        })
    }

    fn page_near(&mut self, addr: u64) -> Option<&mut Page> {
        self.pages
            .iter_mut()
            .find(|p| p.base.abs_diff(addr) < REACH && p.used + SLOT <= PAGE)
    }
}

/// The relocated instruction and its jump back, for a slot at `at`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Relocated {
    pub bytes: Vec<u8>,
    /// Offset of the jump back in `bytes`.
    pub jump: u64,
    /// Length of the original instruction.
    pub len: u64,
}

/// Relocates the instruction at the start of `code` (which sits at `addr`) to `at`, with a jump
/// back to the instruction after it; or why it cannot be.
pub(super) fn relocate(code: &[u8], addr: u64, at: u64) -> std::result::Result<Relocated, String> {
    let mut dec = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
    let ins = dec.decode();
    if ins.is_invalid() {
        return Err("not a valid instruction".into());
    }
    match ins.flow_control() {
        FlowControl::Call | FlowControl::IndirectCall => {
            return Err(format!(
                "{:?}: a call's return address would point into the scratch page",
                ins.mnemonic()
            ))
        }
        FlowControl::Interrupt | FlowControl::Exception | FlowControl::XbeginXabortXend => {
            return Err(format!("{:?} traps or blocks", ins.mnemonic()))
        }
        _ => {}
    }
    if matches!(
        ins.mnemonic(),
        Mnemonic::Syscall | Mnemonic::Sysenter | Mnemonic::Hlt | Mnemonic::Int3 | Mnemonic::Int
    ) {
        return Err(format!("{:?} traps or blocks", ins.mnemonic()));
    }
    let len = ins.len() as u64;
    let back = Instruction::with_branch(Code::Jmp_rel32_64, addr + len)
        .map_err(|e| format!("jump back: {e}"))?;
    let both = [ins, back];
    let block = InstructionBlock::new(&both, at);
    let done = BlockEncoder::encode(
        64,
        block,
        BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS,
    )
    .map_err(|e| format!("cannot relocate: {e}"))?;
    let jump = u64::from(*done.new_instruction_offsets.get(1).ok_or("no jump back")?);
    let bytes = done.code_buffer;
    if bytes.len() as u64 > SLOT {
        return Err("relocated, it does not fit a slot".into());
    }
    // One instruction must still be one: a branch re-encoded as a sequence could be left half
    // done at an all-stop.
    let mut check = Decoder::with_ip(64, &bytes, at, DecoderOptions::NONE);
    if check.decode().len() as u64 != jump {
        return Err("relocated, it becomes several instructions".into());
    }
    Ok(Relocated { bytes, jump, len })
}

/// Addresses to try for a scratch page near `addr`, nearest first: the top page of each gap
/// between mappings within reach, away from where the heap and the stack grow.
pub(super) fn page_candidates(maps: &[Mapping], addr: u64) -> Vec<u64> {
    const LOWEST: u64 = 0x1_0000;
    const USER_TOP: u64 = 0x7fff_ffff_f000;
    let mut out = Vec::new();
    let mut below: Option<&Mapping> = None;
    for m in maps {
        let lo = below.map_or(LOWEST, |b| b.end);
        let grows_into = below.is_some_and(|b| b.path == "[heap]") || m.path == "[stack]";
        if m.start >= lo + 2 * PAGE && !grows_into && m.start <= USER_TOP {
            out.push(m.start - PAGE);
        }
        below = Some(m);
    }
    out.retain(|c| c.abs_diff(addr) < REACH);
    out.sort_by_key(|c| c.abs_diff(addr));
    out
}

impl Engine {
    /// At rest: slots for every breakpoint whose hits may pass, so that they can go out of
    /// line from the next continue on. What cannot be is noted once and goes through an
    /// all-stop instead.
    pub(super) fn prepare_out_of_line(&mut self) {
        if self.pass_hits != crate::tracer::PassHits::OutOfLine {
            return;
        }
        // Memory written since (an edit under the breakpoint) makes a copy stale.
        let stale: Vec<u64> = self
            .rules
            .passing()
            .filter(|a| {
                self.ool.slot(*a).is_some_and(|s| {
                    let len = usize::from(s.len);
                    self.mem.read(*a, len) != s.source[..len]
                })
            })
            .collect();
        for addr in stale {
            self.ool.forget(addr);
        }
        let want: Vec<u64> = self
            .rules
            .passing()
            .filter(|a| self.ool.slot(*a).is_none() && !self.ool.refused.contains_key(a))
            .collect();
        for addr in want {
            if let Err(why) = self.make_slot(addr) {
                self.note(
                    None,
                    format!(
                        "breakpoint {addr:#x}: not stepped out of line ({why}); its hits that \
                         do not stop briefly stop every thread instead"
                    ),
                );
                self.ool.refused.insert(addr, why);
            }
        }
    }

    fn make_slot(&mut self, addr: u64) -> std::result::Result<(), String> {
        // At rest none of our int3 bytes is in memory: these are the program's own.
        let code = self.mem.read(addr, 16);
        if code.is_empty() {
            return Err("its code cannot be read".into());
        }
        if self.ool.page_near(addr).is_none() {
            let base = self.map_page(addr)?;
            self.ool.pages.push(Page { base, used: 0 });
        }
        let page = self.ool.page_near(addr).ok_or("no scratch page")?;
        let at = page.base + page.used;
        let r = relocate(&code, addr, at)?;
        page.used += SLOT;
        self.mem
            .write(at, &r.bytes)
            .map_err(|e| format!("cannot write the scratch page: {e}"))?;
        let mut source = [0u8; 16];
        let len = (r.len as usize).min(code.len());
        source[..len].copy_from_slice(&code[..len]);
        self.ool.slots.insert(
            addr,
            Slot {
                at,
                jump: at + r.jump,
                next: addr + r.len,
                source,
                len: len as u8,
            },
        );
        Ok(())
    }

    /// A new scratch page within reach of `addr`, mapped by a stopped thread of the target.
    fn map_page(&mut self, addr: u64) -> std::result::Result<u64, String> {
        if let Some(why) = &self.ool.no_page {
            return Err(why.clone());
        }
        let Some(tid) = self.injection_thread() else {
            return Err("no thread can lend itself to an mmap now".into());
        };
        let maps = maps::read_maps(self.pid).map_err(|e| format!("maps: {e}"))?;
        let mut last = String::from("no free address within 1 GiB");
        for hint in page_candidates(&maps, addr).into_iter().take(8) {
            let args = [
                hint,
                PAGE,
                PROT_READ_EXEC,
                MAP_PRIVATE_ANON_FIXED_NOREPLACE,
                u64::MAX,
                0,
            ];
            match self.inject_syscall(tid, addr, SYS_MMAP, args) {
                Ok(got) if got == hint => {
                    self.note(
                        Some(tid),
                        format!(
                            "scratch page for out-of-line steps mapped at {got:#x} (an mmap \
                             made by this thread, its registers restored)"
                        ),
                    );
                    return Ok(got);
                }
                Ok(other) => last = format!("mmap gave {other:#x} for {hint:#x}"),
                // Taken after all (EEXIST): try the next gap.
                Err(TraceError::Os {
                    errno: nix::errno::Errno::EEXIST,
                    ..
                }) => {}
                Err(e) => {
                    let why = format!("mmap in the target: {e}");
                    self.ool.no_page = Some(why.clone());
                    return Err(why);
                }
            }
        }
        Err(last)
    }

    /// A hit that does not stop, while the process runs: the thread goes on through the slot.
    /// False when the breakpoint has no slot (the caller stops the world instead).
    pub(super) fn divert(&mut self, tid: Tid, addr: u64, regs: &Registers) -> bool {
        let Some(slot) = self.ool.slot(addr) else {
            return false;
        };
        let mut regs = *regs;
        regs.set_rip(slot.at);
        // Resuming with signal 0 drops our SIGTRAP.
        if pt::setregs(tid, &regs)
            .and_then(|()| pt::cont(tid, 0))
            .is_err()
        {
            return false;
        }
        self.ran(tid);
        true
    }

    /// At rest: a thread stopped in a slot is moved to where it belongs in the original code.
    /// Returns the registers as they now are.
    pub(super) fn bring_back(&mut self, tid: Tid, regs: Registers) -> Registers {
        let Some(home) = self.ool.home(regs.rip()) else {
            return regs;
        };
        let mut moved = regs;
        moved.set_rip(home);
        match pt::setregs(tid, &moved) {
            Ok(()) => {
                // At a slot's start its hit was judged already; it steps over at the continue.
                if self.ool.slot(home).is_some_and(|s| s.at == regs.rip()) {
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.handled_hit = Some(home);
                    }
                }
                moved
            }
            Err(e) => {
                self.note(
                    Some(tid),
                    format!("cannot move out of the scratch page: {e}"),
                );
                regs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rip_relative_load_still_reads_the_same_address_from_the_slot() {
        // mov rax, [rip+0x1c78c1] at 0x129740: the lab's hot function, release build.
        let code = [0x48, 0x8b, 0x05, 0xc1, 0x78, 0x1c, 0x00, 0x90];
        let (addr, at) = (0x5555_5567_d740u64, 0x5555_5555_0000u64);
        let r = relocate(&code, addr, at).unwrap();
        assert_eq!(r.len, 7);
        let mut dec = Decoder::with_ip(64, &r.bytes, at, DecoderOptions::NONE);
        let moved = dec.decode();
        assert!(moved.is_ip_rel_memory_operand());
        assert_eq!(moved.ip_rel_memory_address(), addr + 7 + 0x1c78c1);
        let back = dec.decode();
        assert_eq!(back.near_branch_target(), addr + 7);
        assert_eq!(moved.len() as u64, r.jump);
    }

    #[test]
    fn branches_keep_their_targets_and_calls_are_refused() {
        // je +0x10 (short) at addr: relocated far away it must become a near jcc.
        let (addr, at) = (0x40_1000u64, 0x3000_0000u64);
        let r = relocate(&[0x74, 0x10], addr, at).unwrap();
        let mut dec = Decoder::with_ip(64, &r.bytes, at, DecoderOptions::NONE);
        let j = dec.decode();
        assert_eq!(j.mnemonic(), Mnemonic::Je);
        assert_eq!(j.near_branch_target(), addr + 2 + 0x10);
        assert_eq!(dec.decode().near_branch_target(), addr + 2);
        // call rel32, syscall, int3: not out of line.
        assert!(relocate(&[0xe8, 0, 0, 0, 0], addr, at)
            .unwrap_err()
            .contains("call"));
        assert!(relocate(&[0x0f, 0x05], addr, at).is_err());
        assert!(relocate(&[0xcc], addr, at).is_err());
        // endbr64, push rbp, sub rsp: copied as they are.
        for code in [
            &[0xf3, 0x0f, 0x1e, 0xfa][..],
            &[0x55],
            &[0x48, 0x83, 0xec, 0x48],
        ] {
            let r = relocate(code, addr, at).unwrap();
            assert_eq!(&r.bytes[..code.len()], code);
            assert_eq!(r.jump, code.len() as u64);
        }
    }

    fn mapping(start: u64, end: u64, path: &str) -> Mapping {
        Mapping {
            start,
            end,
            perms: *b"r-xp",
            offset: 0,
            dev: (0, 0),
            inode: 0,
            path: path.into(),
        }
    }

    #[test]
    fn pages_go_in_gaps_near_the_code_and_never_where_heap_or_stack_grow() {
        let maps = [
            mapping(0x5555_5555_4000, 0x5555_5560_0000, "/bin/x"),
            mapping(0x5555_5570_0000, 0x5555_5580_0000, "[heap]"),
            mapping(0x5555_6000_0000, 0x5555_6000_1000, ""),
            mapping(0x7fff_f000_0000, 0x7fff_f002_0000, "[stack]"),
        ];
        let c = page_candidates(&maps, 0x5555_5555_8000);
        // Below the binary, and below the heap; not above the heap, not below the stack
        // (out of reach anyway).
        assert_eq!(c, [0x5555_5555_3000, 0x5555_556f_f000]);
        let mut ool = OutOfLine::default();
        ool.slots.insert(
            0x10,
            Slot {
                at: 0x1000,
                jump: 0x1007,
                next: 0x17,
                source: [0; 16],
                len: 7,
            },
        );
        assert_eq!(
            (ool.home(0x1000), ool.home(0x1007), ool.home(0x1003)),
            (Some(0x10), Some(0x17), None)
        );
    }
}
