//! A unit's line program found without reading `.debug_info`.
//!
//! Where a unit's line program starts in `.debug_line` (DW_AT_stmt_list) is written in the
//! unit's root entry, in `.debug_info`; when that section is compressed, reading one root entry
//! means inflating the section from its start up to it (libc6-dbg: 5.8 MB, ~15 ms, for a unit
//! near the end). A line program also says which code it describes, though: its first row is
//! where one of its sequences, a run of the unit's code, begins, and `.debug_aranges` lists
//! each unit's ranges. So the header and first row of every program are read once (libc's
//! `.debug_line` is a fifth of `.debug_info`), and a unit is paired with the program whose
//! first row opens one of its ranges. The pairing is used only when it checks out: a DWARF 5
//! program (its header names the unit's directory itself, entry 0; a DWARF 4 header leaves it
//! to DW_AT_comp_dir), no other program starting at that address, every sequence inside the
//! unit's ranges. Anything else goes the `.debug_info` way (`line_index.rs`).

use super::elf::Reader;
use super::line_index::{run_program, UnitLines};
use gimli::{DebugLineOffset, Section};
use std::collections::HashMap;

pub(super) struct Pairing {
    /// Each program's first address -> where the program is; None when two start there.
    by_start: HashMap<u64, Option<DebugLineOffset<usize>>>,
}

/// x86-64 only: every unit's addresses are 8 bytes.
const ADDRESS_SIZE: u8 = 8;

impl Pairing {
    pub(super) fn new(dwarf: &gimli::Dwarf<Reader>) -> Pairing {
        let mut by_start: HashMap<u64, Option<DebugLineOffset<usize>>> = HashMap::new();
        let len = dwarf.debug_line.reader().len();
        let mut at = 0usize;
        while at < len {
            let offset = DebugLineOffset(at);
            let Ok(program) = dwarf.debug_line.program(offset, ADDRESS_SIZE, None, None) else {
                break;
            };
            let header = program.header();
            let next = at
                .saturating_add(header.unit_length())
                .saturating_add(header.format().initial_length_size() as usize);
            let v5 = header.version() >= 5;
            at = next;
            if !v5 {
                continue;
            }
            let mut rows = program.rows();
            let first = match rows.next_row() {
                Ok(Some((_, row))) if !row.end_sequence() => row.address(),
                _ => continue,
            };
            // Address 0 is where a linker leaves code it dropped (a duplicate inline copy).
            if first == 0 {
                continue;
            }
            by_start
                .entry(first)
                .and_modify(|v| *v = None)
                .or_insert(Some(offset));
        }
        Pairing { by_start }
    }

    /// The line table of the unit with these ranges (start, end), when a program pairs with it.
    pub(super) fn lines_of(
        &self,
        dwarf: &gimli::Dwarf<Reader>,
        ranges: &[(u64, u64)],
    ) -> Option<UnitLines> {
        self.find(dwarf, ranges).map(|(_, lines)| lines)
    }

    /// The program paired with the unit with these ranges, and its line table.
    pub(super) fn find(
        &self,
        dwarf: &gimli::Dwarf<Reader>,
        ranges: &[(u64, u64)],
    ) -> Option<(DebugLineOffset<usize>, UnitLines)> {
        let inside = |s: u64, e: u64| ranges.iter().any(|&(rs, re)| rs <= s && e <= re);
        let text = |v: gimli::AttributeValue<Reader>| -> Option<String> {
            let r = dwarf.attr_line_string(v).ok()?;
            Some(gimli::Reader::to_string_lossy(&r).ok()?.into_owned())
        };
        for &(start, _) in ranges {
            let Some(Some(offset)) = self.by_start.get(&start) else {
                continue;
            };
            let Ok(program) = dwarf.debug_line.program(*offset, ADDRESS_SIZE, None, None) else {
                continue;
            };
            let Some(dir) = program.header().directory(0).and_then(&text) else {
                continue;
            };
            let Some(lines) = run_program(program, Some(&dir), &text) else {
                continue;
            };
            if !lines.sequences.is_empty() && lines.sequences.iter().all(|s| inside(s.start, s.end))
            {
                return Some((*offset, lines));
            }
        }
        None
    }
}
