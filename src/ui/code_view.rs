//! What the symbol worker hands the model about the code at a stopped thread's PC: the
//! instructions around it, decoded, with branch targets and function starts named, and the
//! source line it is on. Built here from bytes the tracer read (never with our int3 in them:
//! read at rest or through its masked read) and a `CodeSymbols` to ask names of, so the
//! snapshot tests build views from fixed bytes and a table. Text is sanitised here, on the
//! worker side.

use crate::disasm::{self, Flow, Syntax};
use crate::symbols::{FunctionSpan, LineSpan, Symbolizer};
use crate::text::sanitize;
use crate::tracer::event::MemoryRead;
use crate::tracer::thread::Tid;

/// Bytes read before the PC: enough for a dozen instructions, and for the decoder to fall into
/// step when no instruction start is known there.
pub const BACK: u64 = 192;
/// Bytes read from the PC on.
pub const AHEAD: u64 = 320;

/// What the code pane asks the symbol worker to make of a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeAsk {
    /// The model's key for the view: a view of an older key is dropped.
    pub key: CodeKey,
    pub read: MemoryRead,
    /// The user's breakpoints, whose source lines the source pane marks.
    pub breakpoints: Vec<u64>,
    /// The thread's registers at this stop: a `call r14` at the pc is named by r14.
    pub regs: Option<crate::regs::Registers>,
}

/// A source file the line table names, to find and read (`symbols::source`); answered by
/// `Msg::Source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceAsk {
    /// As the line table has it.
    pub path: String,
    /// The mapped file whose line table it is: its directory is one place to look.
    pub binary: Option<String>,
}

/// Which view is wanted: this thread at this stop, in this syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeKey {
    /// Bumped at every stop and at every change of breakpoints.
    pub gen: u64,
    pub tid: Tid,
    pub pc: u64,
    pub syntax: Syntax,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeLine {
    pub addr: u64,
    pub bytes: Vec<u8>,
    /// `call 0x55d0c0a01139 <ptscope_demo_hot>`.
    pub text: String,
    /// `<ptscope_steps_lines>` where a function starts (or where the decoded code begins, as
    /// `<name+0x10>`).
    pub label: Option<String>,
}

/// The source line the PC is on, and where the file is said to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceAt {
    /// As the line table has it (raw: a path to look up, not to print).
    pub path: String,
    pub line: u32,
    /// Lines of the same file that hold a breakpoint of the user's.
    pub breakpoint_lines: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeView {
    pub key: CodeKey,
    pub lines: Vec<CodeLine>,
    /// `ptscope_steps_lines+0x14 (ptscope)`, for the title.
    pub place: String,
    pub source: Option<SourceAt>,
    /// The address ranges of the PC's source line, for `l`.
    pub line_ranges: Option<Vec<(u64, u64)>>,
    /// The mapped file the code is in (raw), where a relative source path is looked for.
    pub binary: Option<String>,
    /// Why there is less than asked (nothing readable, decoding starts at the PC).
    pub note: Option<String>,
}

impl CodeView {
    /// The line of the PC.
    pub fn pc_index(&self) -> Option<usize> {
        self.lines.iter().position(|l| l.addr == self.key.pc)
    }
}

/// The questions a view needs answered about addresses; the session's `Symbolizer` answers
/// them, tests answer from a table.
pub trait CodeSymbols {
    /// `name` or `name+0x10` for an address in a known function.
    fn name(&self, addr: u64) -> Option<String>;
    fn function(&self, pc: u64) -> Option<FunctionSpan>;
    /// Addresses in [lo, hi) known to start an instruction.
    fn starts(&self, lo: u64, hi: u64) -> Vec<u64>;
    fn line(&self, pc: u64) -> Option<LineSpan>;
    /// The file mapped at `pc` and its short name.
    fn module(&self, pc: u64) -> Option<String>;
}

impl CodeSymbols for Symbolizer {
    fn name(&self, addr: u64) -> Option<String> {
        let loc = self.symbolize(addr, false);
        let f = loc.function?;
        Some(if loc.offset == 0 {
            f
        } else {
            format!("{f}+{:#x}", loc.offset)
        })
    }
    fn function(&self, pc: u64) -> Option<FunctionSpan> {
        self.function_at(pc)
    }
    fn starts(&self, lo: u64, hi: u64) -> Vec<u64> {
        self.instruction_starts(lo, hi)
    }
    fn line(&self, pc: u64) -> Option<LineSpan> {
        self.line_at(pc)
    }
    fn module(&self, pc: u64) -> Option<String> {
        self.module_at(pc).map(|m| m.path.clone())
    }
}

/// Reads `buf.len()` bytes of the process at an address; returns how many it got.
pub type ReadFn<'a> = dyn Fn(u64, &mut [u8]) -> usize + 'a;

/// The view of `ask` in its syntax, with names from `syms`. `read` reads the process's data
/// (GOT slots, PLT stubs) to name calls that go through them.
pub fn build(ask: &CodeAsk, syms: &dyn CodeSymbols, read: &ReadFn) -> CodeView {
    let key = ask.key;
    let pc = key.pc;
    let base = ask.read.addr;
    let bytes = &ask.read.bytes;
    let end = base.saturating_add(bytes.len() as u64);
    let module = syms.module(pc);
    let short = module
        .as_deref()
        .map(|m| sanitize(m.rsplit('/').next().unwrap_or(m)));
    let function = syms.function(pc);
    let place = match (syms.name(pc), &short) {
        (Some(n), Some(m)) => format!("{} ({m})", sanitize(&n)),
        (Some(n), None) => sanitize(&n),
        (None, Some(m)) => format!("{pc:#x} ({m})"),
        (None, None) => format!("{pc:#x}"),
    };
    let mut note = None;
    let mut lines = Vec::new();
    if pc < base || pc >= end {
        note = Some(format!("the code at {pc:#x} cannot be read"));
    } else {
        let mut known = syms.starts(base, end);
        if let Some(f) = &function {
            known.push(f.start);
        }
        let start = disasm::sync_start(bytes, base, pc, &known);
        if start == pc && pc > base && !known.contains(&pc) {
            note = Some("no instruction start found before the pc".into());
        }
        let from = (start - base) as usize;
        let decoded = disasm::decode(&bytes[from..], start, key.syntax);
        for (i, insn) in decoded.iter().enumerate() {
            let label = match &function {
                _ if i == 0 => syms.name(insn.addr).map(|n| format!("<{}>", sanitize(&n))),
                Some(f) if f.start == insn.addr => Some(format!("<{}>", sanitize(&f.name))),
                _ => syms
                    .function(insn.addr)
                    .filter(|f| f.start == insn.addr)
                    .map(|f| format!("<{}>", sanitize(&f.name))),
            };
            let prev = i.checked_sub(1).map(|p| &decoded[p]);
            let regs = ask.regs.filter(|_| insn.addr == pc);
            lines.push(CodeLine {
                addr: insn.addr,
                text: text_of(insn, prev, regs.as_ref(), syms, read),
                bytes: insn.bytes.clone(),
                label,
            });
        }
    }
    let span = syms.line(pc);
    let source = span.as_ref().map(|s| SourceAt {
        path: s.file.clone(),
        line: s.line,
        breakpoint_lines: ask
            .breakpoints
            .iter()
            .filter_map(|a| syms.line(*a))
            .filter(|l| l.file == s.file)
            .map(|l| l.line)
            .collect(),
    });
    CodeView {
        key,
        lines,
        place,
        source,
        line_ranges: span.map(|s| s.ranges),
        binary: module,
        note,
    }
}

/// The instruction with its destination named. A direct call or jump names its target (a PLT
/// stub by the function its GOT slot points to, `<read@plt>`); one through a register at the
/// pc, where the registers are known, what the register holds. One through a rip-relative
/// slot (`call QWORD PTR [rip+0x2fe2]`) names what the slot holds; so does `call rax` right
/// after `mov rax,QWORD PTR [rip+..]`, the way position-independent code (every call of a
/// rustc debug build) loads a target from the GOT. Any other rip-relative operand names the
/// address it means.
fn text_of(
    insn: &disasm::Insn,
    prev: Option<&disasm::Insn>,
    regs: Option<&crate::regs::Registers>,
    syms: &dyn CodeSymbols,
    read: &ReadFn,
) -> String {
    let text = insn.text();
    let branch = matches!(insn.flow, Flow::Call | Flow::Jump | Flow::ConditionalJump);
    if let Some(t) = insn.target {
        let name = syms.name(t).or_else(|| {
            plt_target(t, read)
                .and_then(|f| syms.name(f))
                .map(|n| format!("{n}@plt"))
        });
        return match name {
            Some(n) => format!("{} <{}>", insn.mnemonic, sanitize(&n)),
            None => text,
        };
    }
    let slot = match (insn.rip_relative, prev) {
        (Some(slot), _) if branch => Some(slot),
        // `call rax` after `mov rax,QWORD PTR [rip+X]`.
        (None, Some(p)) if branch && p.mnemonic == "mov" => p.rip_relative.filter(|_| {
            let reg = insn.operands.trim_start_matches('%');
            !reg.is_empty()
                && !insn.operands.contains(['[', '('])
                && (p.operands.starts_with(&format!("{reg},"))
                    || p.operands.ends_with(&format!(",%{reg}")))
        }),
        _ => None,
    };
    // At the pc the registers are known: `call r14` goes where r14 points.
    let by_register = regs.filter(|_| branch).and_then(|r| {
        r.get(insn.operands.trim_start_matches(['*', '%']))
            .and_then(|v| syms.name(v))
    });
    if let Some(named) = by_register {
        return format!(
            "{} <{}>  # {}",
            insn.mnemonic,
            sanitize(&named),
            insn.operands
        );
    }
    if let Some(named) = slot
        .and_then(|s| read_u64(read, s))
        .and_then(|f| syms.name(f))
    {
        return format!(
            "{} <{}>  # {}",
            insn.mnemonic,
            sanitize(&named),
            insn.operands
        );
    }
    match insn.rip_relative.and_then(|a| syms.name(a).map(|n| (a, n))) {
        Some((a, n)) => format!("{text}  # {a:#x} <{}>", sanitize(&n)),
        None => text,
    }
}

fn read_u64(read: &ReadFn, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    (read(addr, &mut b) == 8).then(|| u64::from_le_bytes(b))
}

/// Where a PLT stub at `stub` jumps: `[endbr64;] [bnd] jmp QWORD PTR [rip+X]`, through the
/// GOT slot at X.
fn plt_target(stub: u64, read: &ReadFn) -> Option<u64> {
    let mut code = [0u8; 16];
    let n = read(stub, &mut code);
    let insns = disasm::decode(&code[..n], stub, Syntax::Intel);
    let jmp = insns.iter().take(2).find(|i| i.flow == Flow::Jump)?;
    read_u64(read, jmp.rip_relative?)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A function at 0x1000 (`hot`, 0x20 bytes) that calls `helper` at 0x2000, with line 7
    /// of /src/hot.c on its first 8 bytes and line 8 after.
    pub struct Table;

    pub const HOT_CODE: [u8; 19] = [
        0x55, // 1000 push rbp
        0x48, 0x89, 0xe5, // 1001 mov rbp,rsp
        0x48, 0x89, 0x7d, 0xf8, // 1004 mov QWORD PTR [rbp-0x8],rdi
        0xe8, 0xf3, 0x0f, 0x00, 0x00, // 1008 call 0x2000
        0x48, 0x8b, 0x45, 0xf8, // 100d mov rax,QWORD PTR [rbp-0x8]
        0x5d, // 1011 pop rbp
        0xc3, // 1012 ret
    ];

    impl CodeSymbols for Table {
        fn name(&self, addr: u64) -> Option<String> {
            match addr {
                0x1000..=0x101f if addr == 0x1000 => Some("hot".into()),
                0x1000..=0x101f => Some(format!("hot+{:#x}", addr - 0x1000)),
                0x2000 => Some("helper".into()),
                _ => None,
            }
        }
        fn function(&self, pc: u64) -> Option<FunctionSpan> {
            (0x1000..0x1020).contains(&pc).then(|| FunctionSpan {
                name: "hot".into(),
                start: 0x1000,
                end: 0x1020,
            })
        }
        fn starts(&self, lo: u64, hi: u64) -> Vec<u64> {
            [0x1000, 0x1008]
                .into_iter()
                .filter(|a| *a >= lo && *a < hi)
                .collect()
        }
        fn line(&self, pc: u64) -> Option<LineSpan> {
            let (line, ranges) = match pc {
                0x1000..=0x1007 => (7, vec![(0x1000, 0x1008)]),
                0x1008..=0x1012 => (8, vec![(0x1008, 0x1013)]),
                _ => return None,
            };
            Some(LineSpan {
                file: "/src/hot.c".into(),
                line,
                ranges,
            })
        }
        fn module(&self, pc: u64) -> Option<String> {
            (0x1000..0x3000)
                .contains(&pc)
                .then(|| "/opt/app/bin/hot".into())
        }
    }

    pub fn no_memory(_: u64, _: &mut [u8]) -> usize {
        0
    }

    pub fn ask(pc: u64, syntax: Syntax, breakpoints: Vec<u64>) -> CodeAsk {
        CodeAsk {
            key: CodeKey {
                gen: 1,
                tid: 4243,
                pc,
                syntax,
            },
            read: MemoryRead {
                addr: 0x1000,
                bytes: HOT_CODE.to_vec(),
                requested: HOT_CODE.len(),
            },
            breakpoints,
            regs: None,
        }
    }

    #[test]
    fn names_targets_labels_and_the_source_line() {
        let v = build(
            &ask(0x1008, Syntax::Intel, vec![0x1004]),
            &Table,
            &no_memory,
        );
        let texts: Vec<&str> = v.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "push rbp",
                "mov rbp,rsp",
                "mov QWORD PTR [rbp-0x8],rdi",
                "call <helper>",
                "mov rax,QWORD PTR [rbp-0x8]",
                "pop rbp",
                "ret"
            ]
        );
        assert_eq!(v.lines[0].label.as_deref(), Some("<hot>"));
        assert_eq!(v.pc_index(), Some(3));
        assert_eq!(v.place, "hot+0x8 (hot)");
        let src = v.source.expect("line info");
        assert_eq!((src.path.as_str(), src.line), ("/src/hot.c", 8));
        assert_eq!(src.breakpoint_lines, [7]);
        assert_eq!(v.line_ranges, Some(vec![(0x1008, 0x1013)]));
        assert_eq!(v.binary.as_deref(), Some("/opt/app/bin/hot"));
    }

    #[test]
    fn calls_through_the_got_and_the_plt_are_named_by_what_they_reach() {
        // 0x1000: mov rax,QWORD PTR [rip+0xff9] (slot 0x2000); call rax;
        //         call QWORD PTR [rip+0xff0] (slot 0x2000); call 0x3000 (a PLT stub)
        let code = [
            0x48, 0x8b, 0x05, 0xf9, 0x0f, 0x00, 0x00, 0xff, 0xd0, 0xff, 0x15, 0xf1, 0x0f, 0x00,
            0x00, 0xe8, 0xec, 0x1f, 0x00, 0x00,
        ];
        // The GOT slot at 0x2000 holds hot+0x0; the stub at 0x3000 is
        // endbr64; jmp QWORD PTR [rip+0x...] through the same slot.
        let memory = |addr: u64, buf: &mut [u8]| -> usize {
            let mut img = vec![0u8; 0x4000];
            img[0x2000..0x2008].copy_from_slice(&0x1000u64.to_le_bytes());
            let stub = [0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25, 0xf6, 0xef, 0xff, 0xff];
            img[0x3000..0x3000 + stub.len()].copy_from_slice(&stub);
            let a = addr as usize;
            let n = buf.len().min(img.len().saturating_sub(a));
            buf[..n].copy_from_slice(&img[a..a + n]);
            n
        };
        let mut a = ask(0x1000, Syntax::Intel, vec![]);
        a.read.bytes = code.to_vec();
        let v = build(&a, &Table, &memory);
        let texts: Vec<&str> = v.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                // The slot itself is named by what the table has there.
                "mov rax,QWORD PTR [rip+0xff9]  # 0x2000 <helper>",
                "call <hot>  # rax",
                "call <hot>  # QWORD PTR [rip+0xff1]",
                "call <hot@plt>",
            ]
        );
    }

    #[test]
    fn a_call_through_a_register_at_the_pc_is_named_by_the_register() {
        // call r14, at the pc, with r14 = hot; the same call elsewhere stays unnamed.
        let mut a = ask(0x1000, Syntax::Intel, vec![]);
        a.read.bytes = vec![0x41, 0xff, 0xd6, 0x41, 0xff, 0xd6];
        let mut regs = crate::regs::Registers::default();
        regs.set("r14", 0x1000);
        regs.set_rip(0x1000);
        a.regs = Some(regs);
        let v = build(&a, &Table, &no_memory);
        let texts: Vec<&str> = v.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["call <hot>  # r14", "call r14"]);
    }

    #[test]
    fn an_unreadable_pc_says_so() {
        let mut a = ask(0x1008, Syntax::Att, vec![]);
        a.read.bytes.clear();
        let v = build(&a, &Table, &no_memory);
        assert!(v.lines.is_empty());
        assert_eq!(v.note.as_deref(), Some("the code at 0x1008 cannot be read"));
    }
}
