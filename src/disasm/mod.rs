//! x86-64 machine code as text, for the code pane and for the engine's stepping commands.
//!
//! A leaf: bytes and addresses in, instructions out. It knows nothing of processes, symbols or
//! breakpoints; callers hand it bytes already free of our int3 (read at rest, or through the
//! tracer's masked read) and name branch targets themselves. Built on iced-x86, whose decoder
//! is exact for every x86-64 encoding and whose formatters speak both Intel syntax (objdump
//! -M intel, gdb's `set disassembly-flavor intel`) and AT&T (objdump's and gdb's default).
//!
//! `decode.rs` turns bytes into `Insn`s; `window.rs` finds where to start decoding so that the
//! stream lands on a PC (x86 cannot be decoded backwards).

mod decode;
mod window;

pub use decode::{decode, decode_one};
pub use window::sync_start;

/// Which assembler dialect the text is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// `mov QWORD PTR [rbp-0x8],rdi`: destination first, as Intel's manuals and objdump -M
    /// intel write it.
    #[default]
    Intel,
    /// `mov %rdi,-0x8(%rbp)`: source first, as GNU as, objdump and gdb write it by default.
    Att,
}

impl Syntax {
    pub fn toggled(self) -> Syntax {
        match self {
            Syntax::Intel => Syntax::Att,
            Syntax::Att => Syntax::Intel,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Syntax::Intel => "Intel",
            Syntax::Att => "AT&T",
        }
    }
}

/// What an instruction does to the flow of control: what the stepping commands and the code
/// pane care about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Falls through to the next instruction.
    Next,
    /// `call`: pushes the address of the next instruction and jumps.
    Call,
    Jump,
    ConditionalJump,
    Return,
    /// `syscall`, `int 0x80`, `sysenter`: into the kernel and back.
    Syscall,
    /// `int3`, `ud2`, `hlt` and the like: the CPU traps.
    Trap,
}

/// One decoded instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insn {
    pub addr: u64,
    pub bytes: Vec<u8>,
    /// `mov`, `call`, `rep stos`; `(bad)` for bytes that are no instruction.
    pub mnemonic: String,
    /// `QWORD PTR [rbp-0x8],rdi`; empty when there are none.
    pub operands: String,
    pub flow: Flow,
    /// The destination of a direct jump or call.
    pub target: Option<u64>,
    /// The address a rip-relative memory operand means (`lea rdi,[rip+0x2e4f]`).
    pub rip_relative: Option<u64>,
}

impl Insn {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The address right after this instruction: where a call returns to.
    pub fn next_addr(&self) -> u64 {
        self.addr.wrapping_add(self.bytes.len() as u64)
    }

    /// Mnemonic and operands as one line of text.
    pub fn text(&self) -> String {
        if self.operands.is_empty() {
            self.mnemonic.clone()
        } else {
            format!("{} {}", self.mnemonic, self.operands)
        }
    }
}
