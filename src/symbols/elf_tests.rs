//! Tests of `elf.rs`: line tables against addr2line, libc's units paired with their line
//! programs, unwind rows from the search table.

use super::*;

/// addr2line over every section: the answer `location` must give.
fn whole_context(data: &Bytes) -> Option<addr2line::Context<Reader>> {
    let file = ElfFile64::<Endianness>::parse(&**data).ok()?;
    let dwarf = gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
        Ok(section_reader(data, &file, id.name()).unwrap_or_else(|| {
            EndianReader::new(Bytes(Arc::new(Backing::Owned(Vec::new()))), LittleEndian)
        }))
    })
    .ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

fn same_lines_as_addr2line(path: &Path) -> usize {
    let m = ElfModule::open(path).unwrap();
    let data = match &m.debug_file {
        Some(df)
            if section_reader(&m.data, &ElfFile64::parse(&*m.data).unwrap(), ".debug_info")
                .is_none() =>
        {
            map_file(&File::open(df).unwrap()).unwrap()
        }
        _ => m.data.clone(),
    };
    let Some(ctx) = whole_context(&data) else {
        return 0;
    };
    // Code only: a linker leaves the ranges of discarded functions at address 0, where
    // both answers are noise.
    let text: Vec<(u64, u64)> = ElfFile64::<Endianness>::parse(&*m.data)
        .unwrap()
        .sections()
        .filter(|s| s.kind() == object::SectionKind::Text)
        .map(|s| (s.address(), s.address() + s.size()))
        .collect();
    let funcs: Vec<&Sym> = m
        .symbols()
        .iter()
        .filter(|s| s.size > 0 && text.iter().any(|(a, b)| *a <= s.addr && s.addr < *b))
        .collect();
    let step = (funcs.len() / 1500).max(1);
    let mut compared = 0;
    for s in funcs.iter().step_by(step) {
        for probe in [s.addr, s.addr + s.size / 2] {
            let want = ctx
                .find_location(probe)
                .ok()
                .flatten()
                .and_then(|l| Some((l.file?.to_string(), l.line)));
            assert_eq!(
                m.location(probe),
                want,
                "{} at {probe:#x} in {}",
                s.raw,
                path.display()
            );
            compared += usize::from(want.is_some());
        }
    }
    compared
}

#[test]
fn lines_by_unit_are_those_addr2line_finds() {
    let me = std::env::current_exe().unwrap();
    assert!(
        same_lines_as_addr2line(&me) > 100,
        "our own binary has line tables"
    );
    // libc: with libc6-dbg its lines live in a separate, compressed debug file.
    // (Its units are found by pairing line programs with address ranges: line_pairing.rs.)
    let libc = Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert!(
        same_lines_as_addr2line(libc) > 100,
        "libc's lines (.ci/run installs libc6-dbg)"
    );
}

/// A unit's address ranges, and the offset of its line program.
type UnitFacts = (Vec<(u64, u64)>, Option<usize>);

/// Every unit of libc6-dbg's compressed debug file that `.debug_aranges` lists, with its
/// ranges there, and where its root entry says its line program is.
fn libc_units() -> (gimli::Dwarf<Reader>, Vec<UnitFacts>) {
    let libc = ElfModule::open(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    let df = libc
        .debug_file
        .clone()
        .expect("libc6-dbg's debug file for libc (.ci/run installs libc6-dbg)");
    let data = map_file(&File::open(df).unwrap()).unwrap();
    let dwarf = ElfModule::load_sections(&data, |_| true).unwrap();
    let mut by_unit: std::collections::BTreeMap<usize, Vec<(u64, u64)>> = Default::default();
    let mut headers = dwarf.debug_aranges.headers();
    while let Some(h) = headers.next().unwrap() {
        let mut entries = h.entries();
        while let Ok(Some(e)) = entries.next() {
            let r = e.range();
            by_unit
                .entry(h.debug_info_offset().0)
                .or_default()
                .push((r.begin, r.end));
        }
    }
    let units = by_unit
        .into_iter()
        .map(|(offset, ranges)| {
            let header = dwarf
                .debug_info
                .header_from_offset(gimli::DebugInfoOffset(offset))
                .unwrap();
            let unit = dwarf.unit(header).unwrap();
            let stmt = unit.line_program.as_ref().map(|p| p.header().offset().0);
            (ranges, stmt)
        })
        .collect();
    (dwarf, units)
}

#[test]
fn libc_units_pair_with_their_own_line_programs_or_not_at_all() {
    let (dwarf, units) = libc_units();
    let pairing = super::super::line_pairing::Pairing::new(&dwarf);
    let (mut with_code, mut paired) = (0, 0);
    for (ranges, stmt) in &units {
        if ranges.iter().all(|r| r.0 == r.1) {
            continue;
        }
        with_code += 1;
        if let Some((offset, _)) = pairing.find(&dwarf, ranges) {
            assert_eq!(Some(offset.0), *stmt, "a unit with ranges {ranges:x?}");
            paired += 1;
        }
    }
    assert!(with_code > 1000, "libc has {with_code} units with code");
    // The rest (a DWARF 4 assembler unit, say) is read through .debug_info.
    assert!(
        paired * 10 >= with_code * 9,
        "{paired} of {with_code} units paired"
    );
}

#[test]
fn unwind_rows_come_from_the_search_table() {
    let me = std::env::current_exe().unwrap();
    let m = ElfModule::open(&me).unwrap();
    assert!(
        m.cfi.eh_frame_hdr.is_some(),
        "a linked binary has .eh_frame_hdr"
    );
    let mut ctx = gimli::UnwindContext::new();
    let f = m.symbols().iter().find(|s| s.raw == "main").expect("main");
    assert!(m.unwind_row(f.addr, &mut ctx).is_some());
    assert!(
        m.cfi.index.get().is_none(),
        "no FDE walk for an address the table covers"
    );
}
