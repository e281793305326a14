//! Source lines from DWARF, one compilation unit at a time.
//!
//! addr2line's `Context` reads the header, abbreviations and root entry of every unit of a
//! file before it answers the first question: for this binary's own debug info (thousands of
//! units) that alone cost ~30 ms per dump. Here `.debug_aranges` (address ranges -> unit, a
//! flat table) says which unit an address is in, and only that unit's line program is run,
//! once, on first use. Only the sections a line lookup reads are loaded (a compressed
//! `.debug_loclists` is never inflated). A file without `.debug_aranges` goes through
//! addr2line as before (`elf.rs`).

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

struct Sequence {
    start: u64,
    end: u64,
    /// (address, file index, line; 0 for none), by address.
    rows: Box<[(u64, u64, u32)]>,
}

/// One unit's line table, run once.
struct UnitLines {
    files: Box<[String]>,
    sequences: Box<[Sequence]>,
}

type UnitSlot = Arc<OnceLock<Option<UnitLines>>>;

pub(super) struct LineTables {
    dwarf: gimli::Dwarf<Reader>,
    /// (start, end, unit) by start, and the largest end up to each entry: an address can only
    /// lie in entries at or before the last start <= it whose running maximum end exceeds it.
    ranges: Vec<(u64, u64, DebugInfoOffset<usize>)>,
    max_end: Vec<u64>,
    units: Mutex<HashMap<usize, UnitSlot>>,
}

impl LineTables {
    /// None when the file has no `.debug_aranges` to find units by (or it is empty).
    pub(super) fn new(dwarf: gimli::Dwarf<Reader>) -> Option<LineTables> {
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
            dwarf,
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

    fn slot(&self, unit: usize) -> Option<UnitSlot> {
        let mut units = self.units.lock().ok()?;
        Some(units.entry(unit).or_default().clone())
    }

    fn parse_unit(&self, offset: DebugInfoOffset<usize>) -> Option<UnitLines> {
        let header = self.dwarf.debug_info.header_from_offset(offset).ok()?;
        let unit = self.dwarf.unit(header).ok()?;
        let program = unit.line_program.clone()?;
        let unit_ref = gimli::UnitRef::new(&self.dwarf, &unit);
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
            .and_then(|f| render_file(unit_ref, f, header))
            .unwrap_or_default()];
        let mut index = 1;
        while let Some(f) = header.file(index) {
            files.push(render_file(unit_ref, f, header).unwrap_or_default());
            index += 1;
        }
        Some(UnitLines {
            files: files.into_boxed_slice(),
            sequences: sequences.into_boxed_slice(),
        })
    }
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
    unit: gimli::UnitRef<'_, Reader>,
    file: &gimli::FileEntry<Reader, usize>,
    header: &gimli::LineProgramHeader<Reader, usize>,
) -> Option<String> {
    let text = |v: gimli::AttributeValue<Reader>| -> Option<String> {
        let r = unit.attr_string(v).ok()?;
        Some(gimli::Reader::to_string_lossy(&r).ok()?.into_owned())
    };
    let mut path = match &unit.comp_dir {
        Some(dir) => gimli::Reader::to_string_lossy(dir).ok()?.into_owned(),
        None => String::new(),
    };
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
