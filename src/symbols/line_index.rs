//! Source lines from DWARF, one compilation unit at a time.
//!
//! addr2line's `Context` reads the header, abbreviations and root entry of every unit of a
//! file before it answers the first question: for this binary's own debug info (thousands of
//! units) that alone cost ~30 ms per dump. Here `.debug_aranges` (address ranges -> unit, a
//! flat table) says which unit an address is in, and only that unit's line program is run,
//! once, on first use. Only the sections a line lookup reads are loaded (a compressed
//! `.debug_loclists` is never inflated). A file without `.debug_aranges` goes through
//! addr2line as before (`elf.rs`).
//!
//! When `.debug_info` is compressed (libc6-dbg's: 5.8 MB inflated from 2.3 MB, most of a
//! 10-thread dump's time), a unit's line program is first looked for without it
//! (`line_pairing.rs`), and `.debug_info` is inflated only for a unit that way does not find.

use super::elf::Reader;
use gimli::{DebugInfoOffset, SectionId};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex, OnceLock};

/// The sections a line lookup reads; every other one is loaded empty.
pub(super) fn needed(id: SectionId) -> bool {
    matches!(
        id,
        SectionId::DebugAbbrev
            | SectionId::DebugAddr
            | SectionId::DebugAranges
            | SectionId::DebugInfo
            | SectionId::DebugLine
            | SectionId::DebugLineStr
            | SectionId::DebugStr
            | SectionId::DebugStrOffsets
    )
}

pub(super) struct Sequence {
    pub(super) start: u64,
    pub(super) end: u64,
    /// (address, file index, line; 0 for none), by address.
    rows: Box<[(u64, u64, u32)]>,
}

/// One unit's line table, run once.
pub(super) struct UnitLines {
    files: Box<[String]>,
    pub(super) sequences: Box<[Sequence]>,
}

type UnitSlot = Arc<OnceLock<Option<UnitLines>>>;

/// The sections a unit's line program is found by without `.debug_info`.
pub(super) fn needed_for_pairing(id: SectionId) -> bool {
    matches!(
        id,
        SectionId::DebugAranges
            | SectionId::DebugLine
            | SectionId::DebugLineStr
            | SectionId::DebugStr
    )
}

/// Loads the sections `needed` says, on first use.
pub(super) type LoadFull = Box<dyn Fn() -> Option<gimli::Dwarf<Reader>> + Send + Sync>;

pub(super) struct LineTables {
    /// Every section `needed` names, or, with `pairing`, only those `needed_for_pairing` does
    /// (the others empty) and `full` for the units pairing does not find.
    dwarf: gimli::Dwarf<Reader>,
    pairing: Option<super::line_pairing::Pairing>,
    full: OnceLock<Option<gimli::Dwarf<Reader>>>,
    load_full: Option<LoadFull>,
    /// (start, end, unit) by start, and the largest end up to each entry: an address can only
    /// lie in entries at or before the last start <= it whose running maximum end exceeds it.
    ranges: Vec<(u64, u64, DebugInfoOffset<usize>)>,
    max_end: Vec<u64>,
    units: Mutex<HashMap<usize, UnitSlot>>,
}

impl LineTables {
    /// None when the file has no `.debug_aranges` to find units by (or it is empty). With
    /// `load_full`, `dwarf` holds the pairing sections only and units are paired with their
    /// line programs first.
    pub(super) fn new(
        dwarf: gimli::Dwarf<Reader>,
        load_full: Option<LoadFull>,
    ) -> Option<LineTables> {
        let mut ranges = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = header.debug_info_offset();
            let mut entries = header.entries();
            loop {
                match entries.next() {
                    Ok(Some(e)) if e.length() > 0 => {
                        let r = e.range();
                        ranges.push((r.begin, r.end, unit));
                    }
                    Ok(Some(_)) => {}
                    // One bad entry (an address overflow has been seen) ends this set only.
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if ranges.is_empty() {
            return None;
        }
        ranges.sort_unstable_by_key(|r| r.0);
        let mut max_end = Vec::with_capacity(ranges.len());
        let mut m = 0;
        for r in &ranges {
            m = m.max(r.1);
            max_end.push(m);
        }
        Some(LineTables {
            pairing: load_full
                .is_some()
                .then(|| super::line_pairing::Pairing::new(&dwarf)),
            dwarf,
            full: OnceLock::new(),
            load_full,
            ranges,
            max_end,
            units: Mutex::new(HashMap::new()),
        })
    }

    /// File and line of `probe` (an ELF address), from the first unit covering it that has a
    /// row for it.
    pub(super) fn find(&self, probe: u64) -> Option<(String, Option<u32>)> {
        let mut i = self.ranges.partition_point(|r| r.0 <= probe);
        let mut tried = Vec::new();
        while i > 0 && self.max_end[i - 1] > probe {
            i -= 1;
            let (start, end, unit) = self.ranges[i];
            if !(start <= probe && probe < end) || tried.contains(&unit.0) {
                continue;
            }
            tried.push(unit.0);
            let slot = self.slot(unit.0)?;
            let lines = slot.get_or_init(|| self.parse_unit(unit));
            if let Some(found) = lines.as_ref().and_then(|l| l.find(probe)) {
                return Some(found);
            }
        }
        None
    }

    /// The first unit `find(probe)` would parse.
    pub(super) fn first_unit(&self, probe: u64) -> Option<usize> {
        let mut i = self.ranges.partition_point(|r| r.0 <= probe);
        while i > 0 && self.max_end[i - 1] > probe {
            i -= 1;
            let (start, end, unit) = self.ranges[i];
            if start <= probe && probe < end {
                return Some(unit.0);
            }
        }
        None
    }

    fn slot(&self, unit: usize) -> Option<UnitSlot> {
        let mut units = self.units.lock().ok()?;
        Some(units.entry(unit).or_default().clone())
    }

    /// The unit's own address ranges, as `.debug_aranges` lists them.
    fn unit_ranges(&self, unit: DebugInfoOffset<usize>) -> Vec<(u64, u64)> {
        self.ranges
            .iter()
            .filter(|r| r.2 == unit)
            .map(|r| (r.0, r.1))
            .collect()
    }

    fn parse_unit(&self, offset: DebugInfoOffset<usize>) -> Option<UnitLines> {
        if let Some(pairing) = &self.pairing {
            let ranges = self.unit_ranges(offset);
            if let Some(lines) = pairing.lines_of(&self.dwarf, &ranges) {
                return Some(lines);
            }
        }
        let dwarf = match &self.load_full {
            Some(load) => self.full.get_or_init(load).as_ref()?,
            None => &self.dwarf,
        };
        let header = dwarf.debug_info.header_from_offset(offset).ok()?;
        let unit = dwarf.unit(header).ok()?;
        let program = unit.line_program.clone()?;
        let unit_ref = gimli::UnitRef::new(dwarf, &unit);
        let comp_dir = match &unit.comp_dir {
            Some(dir) => Some(gimli::Reader::to_string_lossy(dir).ok()?.into_owned()),
            None => None,
        };
        let text = |v: gimli::AttributeValue<Reader>| -> Option<String> {
            let r = unit_ref.attr_string(v).ok()?;
            Some(gimli::Reader::to_string_lossy(&r).ok()?.into_owned())
        };
        run_program(program, comp_dir.as_deref(), &text)
    }
}

/// Runs a unit's line program once: its sequences, each row's file and line, the file names.
/// `text` reads a string attribute of the line header; `comp_dir` is the unit's directory.
pub(super) fn run_program(
    program: gimli::IncompleteLineProgram<Reader>,
    comp_dir: Option<&str>,
    text: &dyn Fn(gimli::AttributeValue<Reader>) -> Option<String>,
) -> Option<UnitLines> {
    let mut sequences = Vec::new();
    let mut current: Vec<(u64, u64, u32)> = Vec::new();
    let mut rows = program.rows();
    while let Ok(Some((_, row))) = rows.next_row() {
        if row.end_sequence() {
            if let Some(start) = current.first().map(|r| r.0) {
                let end = row.address();
                let rows = std::mem::take(&mut current);
                if start < end {
                    sequences.push(Sequence {
                        start,
                        end,
                        rows: rows.into_boxed_slice(),
                    });
                }
            }
            continue;
        }
        let entry = (
            row.address(),
            row.file_index(),
            row.line().map_or(0, NonZeroU64::get) as u32,
        );
        // Several rows at one address: the last one says where it is.
        match current.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => current.push(entry),
        }
    }
    sequences.sort_unstable_by_key(|s| s.start);
    let header = rows.header();
    let mut files = vec![header
        .file(0)
        .and_then(|f| render_file(comp_dir, f, header, text))
        .unwrap_or_default()];
    let mut index = 1;
    while let Some(f) = header.file(index) {
        files.push(render_file(comp_dir, f, header, text).unwrap_or_default());
        index += 1;
    }
    Some(UnitLines {
        files: files.into_boxed_slice(),
        sequences: sequences.into_boxed_slice(),
    })
}

impl UnitLines {
    fn find(&self, probe: u64) -> Option<(String, Option<u32>)> {
        let seq = self
            .sequences
            .binary_search_by(|s| {
                if probe < s.start {
                    Ordering::Greater
                } else if probe >= s.end {
                    Ordering::Less
                } else {
                    Ordering::Equal
                }
            })
            .ok()?;
        let rows = &self.sequences[seq].rows;
        let i = match rows.binary_search_by(|r| r.0.cmp(&probe)) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        let (_, file, line) = rows[i];
        let file = self.files.get(file as usize)?;
        Some((file.clone(), (line != 0).then_some(line)))
    }
}

/// The path of a line table's file as addr2line spells it: the unit's directory, the file's
/// directory, the file name, each replacing what came before when it is absolute.
fn render_file(
    comp_dir: Option<&str>,
    file: &gimli::FileEntry<Reader, usize>,
    header: &gimli::LineProgramHeader<Reader, usize>,
    text: &dyn Fn(gimli::AttributeValue<Reader>) -> Option<String>,
) -> Option<String> {
    let mut path = comp_dir.unwrap_or_default().to_string();
    // Directory 0 is the unit's own directory.
    if file.directory_index() != 0 {
        if let Some(dir) = file.directory(header) {
            push(&mut path, &text(dir)?);
        }
    }
    push(&mut path, &text(file.path_name())?);
    Some(path)
}

fn push(path: &mut String, p: &str) {
    if p.starts_with('/') {
        *path = p.to_string();
        return;
    }
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(p);
}

#[cfg(test)]
mod tests {
    use super::push;

    #[test]
    fn paths_join_like_addr2line() {
        let mut p = String::from("./nptl");
        push(&mut p, "../sysdeps/nptl");
        push(&mut p, "futex-internal.h");
        assert_eq!(p, "./nptl/../sysdeps/nptl/futex-internal.h");
        push(&mut p, "/rustc/abc/library/core/src/ops/function.rs");
        assert_eq!(p, "/rustc/abc/library/core/src/ops/function.rs");
    }
}
