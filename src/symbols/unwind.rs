//! Walking a stopped thread's stack: call-frame information where a module has it, frame
//! pointers where it does not, and a clean stop on anything that looks like garbage.

use super::elf::{CfaRule, RegRule, UnwindRow};
use super::{Location, Symbolizer};
use crate::regs::Registers;
use gimli::{EndianSlice, LittleEndian};

pub const MAX_DEPTH: usize = 128;

/// DWARF register numbers on x86-64 (System V psABI): rax rdx rcx rbx rsi rdi rbp rsp r8..r15,
/// then 16 = return address.
const DWARF_NAMES: [&str; 17] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip",
];
const RBP: usize = 6;
const RSP: usize = 7;
const RA: usize = 16;
/// Callee-saved: a rule-less one keeps its value in the caller. Everything else is unknown
/// after a call.
const CALLEE_SAVED: [usize; 6] = [3, 6, 12, 13, 14, 15];

type Regs = [Option<u64>; 17];

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameKind {
    /// The thread's own pc.
    Top,
    /// Recovered with the caller module's CFI.
    Cfi,
    /// Recovered by following rbp: a guess that holds for code built with frame pointers.
    FramePointer,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    pub pc: u64,
    pub sp: u64,
    pub kind: FrameKind,
    pub location: Location,
}

impl Frame {
    /// The `dump --json` frame: `{"pc": "0x..", "function": .. or null, "offset": 16,
    /// "module": .. or null, "file": .. or null, "line": .. or null}`. Names are raw (JSON
    /// escapes control characters itself); sanitize only for terminals.
    pub fn to_json(&self) -> serde_json::Value {
        let l = &self.location;
        serde_json::json!({
            "pc": format!("{:#x}", self.pc),
            "function": l.function,
            "offset": if l.function.is_some() { l.offset } else { l.module_offset },
            "module": l.module,
            "file": l.file,
            "line": l.line,
        })
    }
}

/// Why the walk ended. Only `Outermost` means the whole stack was walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnwindStop {
    /// The CFI marks the return address undefined (`_start`, `clone3`), or it is zero.
    Outermost,
    DepthLimit,
    /// The next pc is not in executable memory.
    UnmappedPc,
    /// The next stack pointer is not above this one: a loop or garbage.
    StackNotGrowing,
    /// The same (pc, sp) twice.
    Cycle,
    /// A stack read failed, or a rule needed a register we do not know.
    Unreadable,
    /// No CFI and no usable frame pointer.
    NoUnwindInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Backtrace {
    pub frames: Vec<Frame>,
    pub stop: UnwindStop,
}

pub type ReadMem<'a> = dyn FnMut(u64, &mut [u8]) -> usize + 'a;

fn read_u64(read: &mut ReadMem<'_>, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    (read(addr, &mut b) == 8).then(|| u64::from_le_bytes(b))
}

fn initial_regs(r: &Registers) -> Regs {
    let mut out = [None; 17];
    for (i, name) in DWARF_NAMES.iter().enumerate() {
        out[i] = r.get(name);
    }
    out
}

/// Runs a CFI DWARF expression. `push` is the value the rule starts with on the stack (the CFA
/// for register rules); the result is the top of the stack.
fn eval(expr: &[u8], regs: &Regs, push: Option<u64>, read: &mut ReadMem<'_>) -> Option<u64> {
    let encoding = gimli::Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let mut ev = gimli::Expression(EndianSlice::new(expr, LittleEndian)).evaluation(encoding);
    ev.set_max_iterations(1000);
    if let Some(v) = push {
        ev.set_initial_value(v);
    }
    let mut res = ev.evaluate().ok()?;
    loop {
        res = match res {
            gimli::EvaluationResult::Complete => break,
            gimli::EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut b = [0u8; 8];
                let n = usize::from(size).min(8);
                if read(address, &mut b[..n]) != n {
                    return None;
                }
                ev.resume_with_memory(gimli::Value::Generic(u64::from_le_bytes(b)))
                    .ok()?
            }
            gimli::EvaluationResult::RequiresRegister { register, .. } => {
                let v = (*regs.get(register.0 as usize)?)?;
                ev.resume_with_register(gimli::Value::Generic(v)).ok()?
            }
            _ => return None,
        };
    }
    match ev.as_result().first()?.location {
        gimli::Location::Address { address } => Some(address),
        _ => None,
    }
}

/// The caller's registers from this frame's CFI row; None when a needed value is unknown.
fn step_cfi(row: &UnwindRow, regs: &Regs, read: &mut ReadMem<'_>) -> Option<Regs> {
    let cfa = match &row.cfa {
        CfaRule::RegOffset(r, off) => regs.get(*r as usize).copied()??.wrapping_add_signed(*off),
        CfaRule::Expr(e) => eval(e, regs, None, read)?,
    };
    let mut next: Regs = [None; 17];
    for r in CALLEE_SAVED {
        next[r] = regs[r];
    }
    next[RSP] = Some(cfa);
    // x86-64 CIEs leave the return address implicit at CFA-8 unless a rule says otherwise.
    let mut ra_rule_seen = false;
    let mut ra_undefined = false;
    for (reg, rule) in &row.rules {
        let reg = *reg as usize;
        if reg >= next.len() {
            continue;
        }
        let value = match rule {
            RegRule::Undefined => None,
            RegRule::Same => regs[reg],
            RegRule::Offset(o) => read_u64(read, cfa.wrapping_add_signed(*o)),
            RegRule::ValOffset(o) => Some(cfa.wrapping_add_signed(*o)),
            RegRule::Register(r) => regs.get(*r as usize).copied().flatten(),
            RegRule::Expr(e) => eval(e, regs, Some(cfa), read).and_then(|a| read_u64(read, a)),
            RegRule::ValExpr(e) => eval(e, regs, Some(cfa), read),
        };
        if reg == row.ra_register as usize {
            ra_rule_seen = true;
            ra_undefined = matches!(rule, RegRule::Undefined);
        }
        next[reg] = value;
    }
    if row.ra_register as usize != RA {
        next[RA] = next.get(row.ra_register as usize).copied().flatten();
    } else if !ra_rule_seen {
        next[RA] = read_u64(read, cfa.wrapping_sub(8));
    }
    // Undefined on purpose marks the outermost frame; undefined because a read failed is not.
    if next[RA].is_none() && !ra_undefined {
        return None;
    }
    Some(next)
}

fn step_frame_pointer(regs: &Regs, read: &mut ReadMem<'_>) -> Option<Regs> {
    let rbp = regs[RBP]?;
    let rsp = regs[RSP]?;
    if rbp < rsp || rbp % 8 != 0 {
        return None;
    }
    let mut next: Regs = [None; 17];
    for r in CALLEE_SAVED {
        next[r] = regs[r];
    }
    next[RBP] = Some(read_u64(read, rbp)?);
    next[RA] = Some(read_u64(read, rbp.checked_add(8)?)?);
    next[RSP] = Some(rbp.checked_add(16)?);
    Some(next)
}

/// Walks the stack of a stopped thread. `read` is the engine's bulk memory read (bytes read
/// returned), or a copy of the stack taken while the thread was stopped; it must not fail
/// loudly, since garbage frames make it read garbage addresses.
pub fn unwind(
    sym: &Symbolizer,
    regs: &Registers,
    read: &mut ReadMem<'_>,
    max_depth: usize,
) -> Backtrace {
    unwind_located(sym, regs, read, max_depth, &mut |pc, ret| {
        sym.symbolize(pc, ret)
    })
}

/// `unwind` with the frames described by `locate` (pc, is a return address): a caller walking
/// many stacks can answer the same pc once.
pub fn unwind_located(
    sym: &Symbolizer,
    regs: &Registers,
    read: &mut ReadMem<'_>,
    max_depth: usize,
    locate: &mut dyn FnMut(u64, bool) -> Location,
) -> Backtrace {
    let mut ctx = gimli::UnwindContext::new();
    let mut state = initial_regs(regs);
    let mut frames: Vec<Frame> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // The innermost pc is exact; callers' pcs are return addresses, unless the frame below
    // was a signal trampoline, whose caller was interrupted rather than calling.
    let mut exact_pc = true;
    let mut kind = FrameKind::Top;
    let stop = loop {
        let (Some(pc), Some(sp)) = (state[RA], state[RSP]) else {
            break UnwindStop::Unreadable;
        };
        let location = locate(pc, !exact_pc);
        frames.push(Frame {
            pc,
            sp,
            kind,
            location,
        });
        if frames.len() >= max_depth {
            break UnwindStop::DepthLimit;
        }
        let probe = if exact_pc { pc } else { pc.wrapping_sub(1) };
        let row = sym.module_at(probe).and_then(|m| {
            let elf = sym.elf(m).ok()?;
            let bias = sym.bias(m, &elf)?;
            elf.unwind_row(probe.wrapping_sub(bias), &mut ctx)
        });
        let (next, via_fp, signal) = match &row {
            Some(row) => match step_cfi(row, &state, read) {
                Some(n) => (n, false, row.signal_frame),
                None => break UnwindStop::Unreadable,
            },
            None => match step_frame_pointer(&state, read) {
                Some(n) => (n, true, false),
                None => break UnwindStop::NoUnwindInfo,
            },
        };
        let Some(next_sp) = next[RSP] else {
            break UnwindStop::Unreadable;
        };
        let Some(next_pc) = next[RA] else {
            // An undefined return address is how CFI marks the outermost frame.
            break if via_fp {
                UnwindStop::Unreadable
            } else {
                UnwindStop::Outermost
            };
        };
        if next_pc == 0 {
            break UnwindStop::Outermost;
        }
        // A signal frame's CFA is on the interrupted stack, which may be anywhere (sigaltstack).
        if next_sp <= sp && !signal {
            break UnwindStop::StackNotGrowing;
        }
        if !sym.mapping_at(next_pc).is_some_and(|m| m.executable()) {
            break UnwindStop::UnmappedPc;
        }
        if !seen.insert((next_pc, next_sp)) {
            break UnwindStop::Cycle;
        }
        exact_pc = signal;
        kind = if via_fp {
            FrameKind::FramePointer
        } else {
            FrameKind::Cfi
        };
        state = next;
    };
    Backtrace { frames, stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_json_matches_the_dump_contract() {
        let f = Frame {
            pc: 0x7f00_0000_1010,
            sp: 0x7ffd_0000_0000,
            kind: FrameKind::Cfi,
            location: Location {
                addr: 0x7f00_0000_1010,
                module: Some("/usr/lib/x86_64-linux-gnu/libc.so.6".into()),
                module_offset: 0x1010,
                function: Some("read".into()),
                offset: 16,
                mapped: true,
                ..Default::default()
            },
        };
        assert_eq!(
            f.to_json().to_string(),
            r#"{"file":null,"function":"read","line":null,"module":"/usr/lib/x86_64-linux-gnu/libc.so.6","offset":16,"pc":"0x7f0000001010"}"#
        );
    }
}
