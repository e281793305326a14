//! Bytes to instructions with iced-x86, formatted the way objdump prints them (hex with 0x,
//! no space after commas, the scale always shown, `QWORD PTR` sizes) so that what the pane
//! shows can be checked against `objdump -d` and reads like gdb.

use super::{Flow, Insn, Syntax};
use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, FormatMnemonicOptions, Formatter, GasFormatter,
    Instruction, IntelFormatter, MemorySizeOptions, Mnemonic, OpKind,
};

/// Every instruction in `code`, which is loaded at `addr`. Bytes that are no valid instruction
/// come out one at a time as `(bad)`, so the stream resynchronises as objdump's does; an
/// instruction cut off by the end of `code` is left out.
pub fn decode(code: &[u8], addr: u64, syntax: Syntax) -> Vec<Insn> {
    let mut fmt = formatter(syntax);
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut insn = Instruction::default();
    while at < code.len() {
        let ip = addr.wrapping_add(at as u64);
        let mut decoder = Decoder::with_ip(64, &code[at..], ip, DecoderOptions::NONE);
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            // Out of bytes in the middle of an instruction: it is not ours to show.
            if decoder.last_error() == iced_x86::DecoderError::NoMoreBytes {
                break;
            }
            out.push(bad(ip, code[at]));
            at += 1;
            continue;
        }
        let len = insn.len();
        out.push(describe(&insn, &code[at..at + len], fmt.as_mut()));
        at += len;
    }
    out
}

/// The length and flow of the one instruction at the start of `code` (loaded at `addr`): what
/// a step over needs to know (is it a call, and where does it return to). None when the bytes
/// are no complete instruction.
pub fn decode_one(code: &[u8], addr: u64) -> Option<(usize, Flow)> {
    let mut decoder = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
    let insn = decoder.decode();
    (!insn.is_invalid()).then(|| (insn.len(), flow(&insn)))
}

fn formatter(syntax: Syntax) -> Box<dyn Formatter> {
    let mut f: Box<dyn Formatter> = match syntax {
        Syntax::Intel => Box::new(IntelFormatter::new()),
        Syntax::Att => Box::new(GasFormatter::new()),
    };
    let o = f.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_leading_zeros(false);
    o.set_branch_leading_zeros(false);
    o.set_displacement_leading_zeros(false);
    o.set_space_after_operand_separator(false);
    // objdump writes `[rax+rax*1]` in Intel syntax; in AT&T the scale shows by itself.
    o.set_always_show_scale(syntax == Syntax::Intel);
    o.set_show_branch_size(false);
    o.set_rip_relative_addresses(true);
    o.set_show_zero_displacements(true);
    o.set_uppercase_keywords(true);
    o.set_memory_size_options(MemorySizeOptions::Always);
    // `imul rax,rax,0x3` as encoded, not the shorter pseudo form.
    o.set_use_pseudo_ops(false);
    f
}

fn flow(insn: &Instruction) -> Flow {
    match insn.mnemonic() {
        Mnemonic::Syscall | Mnemonic::Sysenter => return Flow::Syscall,
        Mnemonic::Int if insn.immediate8() == 0x80 => return Flow::Syscall,
        _ => {}
    }
    match insn.flow_control() {
        FlowControl::Next | FlowControl::XbeginXabortXend => Flow::Next,
        FlowControl::Call | FlowControl::IndirectCall => Flow::Call,
        FlowControl::UnconditionalBranch | FlowControl::IndirectBranch => Flow::Jump,
        FlowControl::ConditionalBranch => Flow::ConditionalJump,
        FlowControl::Return => Flow::Return,
        FlowControl::Interrupt | FlowControl::Exception => Flow::Trap,
    }
}

fn describe(insn: &Instruction, bytes: &[u8], fmt: &mut dyn Formatter) -> Insn {
    let mut mnemonic = String::new();
    fmt.format_mnemonic_options(insn, &mut mnemonic, FormatMnemonicOptions::NONE);
    let mut operands = String::new();
    fmt.format_all_operands(insn, &mut operands);
    // Two spellings objdump has and iced's Intel formatter has not: a 64-bit immediate is
    // loaded by `movabs`, and the shift-by-one encodings (D0/D1) write a bare `1`.
    if insn.code() == Code::Mov_r64_imm64 && mnemonic == "mov" {
        mnemonic = "movabs".into();
    }
    if shifts_by_one(insn) {
        if let Some(head) = operands.strip_suffix("0x1") {
            operands = format!("{head}1");
        }
    }
    let target = matches!(
        insn.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    )
    .then(|| insn.near_branch_target());
    let rip_relative = insn
        .is_ip_rel_memory_operand()
        .then(|| insn.ip_rel_memory_address());
    Insn {
        addr: insn.ip(),
        bytes: bytes.to_vec(),
        mnemonic,
        operands,
        flow: flow(insn),
        target,
        rip_relative,
    }
}

/// The D0/D1 group (rol, ror, rcl, rcr, shl, shr, sar by an implicit 1).
fn shifts_by_one(insn: &Instruction) -> bool {
    matches!(
        insn.mnemonic(),
        Mnemonic::Rol
            | Mnemonic::Ror
            | Mnemonic::Rcl
            | Mnemonic::Rcr
            | Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar
    ) && insn.op_count() == 2
        && insn.op1_kind() == OpKind::Immediate8
        && format!("{:?}", insn.code()).ends_with("_1")
}

fn bad(addr: u64, byte: u8) -> Insn {
    Insn {
        addr,
        bytes: vec![byte],
        mnemonic: "(bad)".into(),
        operands: String::new(),
        flow: Flow::Next,
        target: None,
        rip_relative: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(code: &[u8], syntax: Syntax) -> Vec<String> {
        decode(code, 0x1000, syntax)
            .iter()
            .map(|i| i.text())
            .collect()
    }

    #[test]
    fn intel_and_att_read_like_objdump() {
        // push rbp; mov rbp,rsp; mov QWORD PTR [rbp-0x8],rdi; call 0x1020; lea rax,[rip+0x10];
        // nop DWORD PTR [rax+rax*1+0x0]; ret
        let code = [
            0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0x7d, 0xf8, 0xe8, 0x0b, 0x00, 0x00, 0x00, 0x48,
            0x8d, 0x05, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3,
        ];
        assert_eq!(
            texts(&code, Syntax::Intel),
            [
                "push rbp",
                "mov rbp,rsp",
                "mov QWORD PTR [rbp-0x8],rdi",
                "call 0x1018",
                "lea rax,[rip+0x10]",
                "nop DWORD PTR [rax+rax*1+0x0]",
                "ret"
            ]
        );
        assert_eq!(
            texts(&code, Syntax::Att),
            [
                "push %rbp",
                "mov %rsp,%rbp",
                "mov %rdi,-0x8(%rbp)",
                "call 0x1018",
                "lea 0x10(%rip),%rax",
                "nopl 0x0(%rax,%rax)",
                "ret"
            ]
        );
    }

    #[test]
    fn flows_targets_and_rip_relative_addresses() {
        let code = [
            0xe8, 0x0b, 0x00, 0x00, 0x00, // call 0x1010
            0x0f, 0x05, // syscall
            0x74, 0x02, // je 0x100b
            0xcc, // int3
            0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00, // lea rax,[rip+0x10]
            0xc3, // ret
        ];
        let d = decode(&code, 0x1000, Syntax::Intel);
        let flows: Vec<Flow> = d.iter().map(|i| i.flow).collect();
        assert_eq!(
            flows,
            [
                Flow::Call,
                Flow::Syscall,
                Flow::ConditionalJump,
                Flow::Trap,
                Flow::Next,
                Flow::Return
            ]
        );
        assert_eq!(d[0].target, Some(0x1010));
        assert_eq!(d[0].next_addr(), 0x1005);
        assert_eq!(d[2].target, Some(0x100b));
        assert_eq!(d[4].rip_relative, Some(0x100a + 7 + 0x10));
        assert_eq!(decode_one(&code, 0x1000), Some((5, Flow::Call)));
        assert_eq!(decode_one(&code[..3], 0x1000), None, "cut short");
    }

    #[test]
    fn bad_bytes_resynchronise_and_a_cut_instruction_is_left_out() {
        // 0x06 is no instruction in 64-bit mode; then nop; then the first byte of a call.
        let d = decode(&[0x06, 0x90, 0xe8, 0x00], 0x2000, Syntax::Intel);
        let t: Vec<String> = d.iter().map(|i| i.text()).collect();
        assert_eq!(t, ["(bad)", "nop"]);
        assert_eq!(d[1].addr, 0x2001);
    }
}
