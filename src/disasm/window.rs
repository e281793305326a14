//! Where to start decoding so that the instruction stream lands on a given PC.
//!
//! x86 instructions are 1 to 15 bytes long and cannot be decoded backwards: started at a wrong
//! byte, the decoder reads the tail of one instruction as the head of another. Started far
//! enough back, it nearly always falls into step with the real stream after a few
//! instructions. So: when a boundary is known (a function's first byte, a line-table address)
//! decode from there; otherwise decode from every byte of the window, keep the starts whose
//! stream lands exactly on the PC, and start at the earliest boundary that most of those
//! streams agree on.

use iced_x86::{Decoder, DecoderOptions, Instruction};
use std::collections::HashMap;

/// The address to decode from in `code` (loaded at `base`) so that decoding reaches `pc`
/// exactly. `known` are addresses certain to start an instruction (function starts, line-table
/// rows); the lowest one in the window wins, and the vote described above may still find an
/// earlier start that lands on it. Without one, the vote alone; `pc` itself when nothing before
/// it agrees.
pub fn sync_start(code: &[u8], base: u64, pc: u64, known: &[u64]) -> u64 {
    let end = base.saturating_add(code.len() as u64);
    if pc < base || pc > end {
        return pc;
    }
    if let Some(k) = known
        .iter()
        .copied()
        .filter(|k| *k >= base && *k <= pc && lands_on(code, base, *k, pc).is_some())
        .min()
    {
        // The bytes before it (the end of the function before) are voted on, landing on it.
        return vote(code, base, k).unwrap_or(k);
    }
    vote(code, base, pc).unwrap_or(pc)
}

/// The earliest boundary before `pc` that three quarters of the streams landing on `pc`
/// agree on.
fn vote(code: &[u8], base: u64, pc: u64) -> Option<u64> {
    // boundary -> how many syncing streams pass through it.
    let mut votes: HashMap<u64, usize> = HashMap::new();
    let mut syncing: Vec<u64> = Vec::new();
    for start in base..pc {
        if let Some(bounds) = lands_on(code, base, start, pc) {
            syncing.push(start);
            for b in bounds {
                *votes.entry(b).or_default() += 1;
            }
        }
    }
    let mut bounds: Vec<u64> = votes.keys().copied().collect();
    bounds.sort_unstable();
    for b in bounds {
        // Streams that could have passed through b: those started at or before it.
        let could = syncing.iter().filter(|s| **s <= b).count();
        if could >= 3 && votes[&b] * 4 >= could * 3 {
            return Some(b);
        }
    }
    None
}

/// The instruction starts from `start` up to `pc`, when the stream lands exactly on `pc`.
fn lands_on(code: &[u8], base: u64, start: u64, pc: u64) -> Option<Vec<u64>> {
    let from = (start - base) as usize;
    let mut decoder = Decoder::with_ip(64, &code[from..], start, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut bounds = Vec::new();
    let mut at = start;
    while at < pc {
        if !decoder.can_decode() {
            return None;
        }
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return None;
        }
        bounds.push(at);
        at = insn.next_ip();
    }
    (at == pc).then_some(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Some real code: a function's prologue and body, with long instructions whose tails
    /// decode as other instructions.
    const CODE: [u8; 32] = [
        0x48, 0x83, 0xec, 0x18, // sub rsp,0x18
        0x48, 0xb8, 0x15, 0x7c, 0x4a, 0x7f, 0xb9, 0x79, 0x37,
        0x9e, // movabs rax,0x9e3779b97f4a7c15
        0x48, 0x0f, 0xaf, 0xc7, // imul rax,rdi
        0x48, 0xc1, 0xc0, 0x07, // rol rax,0x7
        0x48, 0x89, 0x44, 0x24, 0x08, // mov QWORD PTR [rsp+0x8],rax
        0x48, 0x83, 0xc4, 0x18, // add rsp,0x18
        0xc3, // ret
    ];

    #[test]
    fn a_known_boundary_is_where_decoding_starts() {
        assert_eq!(sync_start(&CODE, 0x1000, 0x1012, &[0x1000]), 0x1000);
        // Before the lowest known start the vote looks further back.
        let s = sync_start(&CODE, 0x1000, 0x1012, &[0x100e, 0x1004]);
        assert!([0x1000, 0x1004].contains(&s), "{s:#x}");
        // A known start after the pc is no use: the vote decides, and picks a real boundary.
        let s = sync_start(&CODE, 0x1000, 0x1012, &[0x1014]);
        assert!([0x1000, 0x1004, 0x100e].contains(&s), "{s:#x}");
    }

    #[test]
    fn without_a_boundary_the_streams_vote() {
        // Starting inside the movabs would read its immediate as instructions; the vote finds
        // a real boundary at or before the imul.
        let s = sync_start(&CODE, 0x1000, 0x1016, &[]);
        assert!([0x1000, 0x1004, 0x100e, 0x1012].contains(&s), "{s:#x}");
        let back = super::super::decode(
            &CODE[(s - 0x1000) as usize..],
            s,
            super::super::Syntax::Intel,
        );
        assert!(back.iter().any(|i| i.addr == 0x1016), "lands on the pc");
        // A pc outside the bytes, or at their start, starts at itself.
        assert_eq!(sync_start(&CODE, 0x1000, 0x2000, &[]), 0x2000);
        assert_eq!(sync_start(&CODE, 0x1000, 0x1000, &[]), 0x1000);
    }
}
