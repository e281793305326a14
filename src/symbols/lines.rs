//! The DWARF line tables, read both ways for the code and source panes and the stepping
//! commands: which addresses hold the code of `FILE:LINE` (`b chain.rs:21`), the next line that
//! has code when that one has none, which address ranges make up the line a PC is on (`l`
//! steps until the PC leaves them), a function's extent, and the addresses known to start an
//! instruction (where disassembly can start without guessing).
//!
//! Address -> line goes through addr2line (with its inlined-call chain); line -> addresses
//! walks the line programs with gimli itself, keeping only `is_stmt` rows (the places a
//! debugger is meant to stop at).

use super::elf::{ElfModule, Reader};
use super::error::SymbolError;
use super::Symbolizer;
use gimli::Reader as _;
use std::collections::BTreeMap;

/// The addresses of one source line, as `b FILE:LINE` sets them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineMatch {
    /// The file as the line table names it (full path when the compiler gave one).
    pub file: String,
    /// The line asked for.
    pub asked: u32,
    /// The line the addresses belong to: `asked`, or the next line that has code.
    pub line: u32,
    /// One address per function the line's code is in (a line inlined or duplicated in
    /// several places has several), lowest first.
    pub addrs: Vec<u64>,
}

/// The line a PC is on, with every address range of that line inside its function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineSpan {
    pub file: String,
    pub line: u32,
    /// Runtime address ranges [start, end) of this line (and of compiler-made code without a
    /// line, which belongs to no line of its own) in the PC's function.
    pub ranges: Vec<(u64, u64)>,
}

/// A function's name and extent at runtime addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSpan {
    pub name: String,
    pub start: u64,
    /// One past the last byte; `start` when the symbol has no size.
    pub end: u64,
}

/// `chain.rs:21`, `src/demo/steps.rs:40`: a file and a line, when the text is one. A Rust path
/// (`a::b`) or an expression is not.
pub fn parse_file_line(text: &str) -> Option<(&str, u32)> {
    let (file, line) = text.trim().rsplit_once(':')?;
    if file.is_empty() || file.contains(':') || file.contains(char::is_whitespace) {
        return None;
    }
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((file, line.parse().ok().filter(|l| *l > 0)?))
}

/// Whether `path` ends with `suffix` at a component boundary: `chain.rs` and `demo/chain.rs`
/// match `/src/demo/chain.rs`; `ain.rs` does not.
pub fn path_matches(path: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches("./");
    match path.strip_suffix(suffix) {
        // An absolute path names one file only.
        Some(head) if suffix.starts_with('/') => head.is_empty(),
        Some(head) => head.is_empty() || head.ends_with('/'),
        None => false,
    }
}

/// One `is_stmt` row of a line table: an ELF address where code of `line` starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRow {
    pub svma: u64,
    pub file: String,
    pub line: u32,
}

impl ElfModule {
    /// Every statement row whose file ends with `suffix` (see `path_matches`).
    pub fn statement_rows(&self, suffix: &str) -> Vec<StatementRow> {
        self.with_dwarf(|_, dwarf| {
            let mut out = Vec::new();
            let mut units = dwarf.units();
            while let Ok(Some(header)) = units.next() {
                let Ok(unit) = dwarf.unit(header) else {
                    continue;
                };
                let Some(program) = unit.line_program.clone() else {
                    continue;
                };
                let files = matching_files(dwarf, &unit, program.header(), suffix);
                if files.is_empty() {
                    continue;
                }
                let mut rows = program.rows();
                while let Ok(Some((_, row))) = rows.next_row() {
                    if row.end_sequence() || !row.is_stmt() {
                        continue;
                    }
                    let (Some(file), Some(line)) = (files.get(&row.file_index()), row.line())
                    else {
                        continue;
                    };
                    out.push(StatementRow {
                        svma: row.address(),
                        file: file.clone(),
                        line: line.get() as u32,
                    });
                }
            }
            out
        })
        .unwrap_or_default()
    }

    /// The source locations of `svma` from the innermost inlined call out to the function
    /// itself: [the line the code is on, the line of the call that inlined it, ...]. Empty
    /// without line information; None for a level with no line (line 0).
    pub fn inline_chain(&self, svma: u64) -> Vec<Option<(String, u32)>> {
        self.with_dwarf(|ctx, _| {
            let mut out = Vec::new();
            let Ok(mut frames) = ctx.find_frames(svma).skip_all_loads() else {
                return out;
            };
            while let Ok(Some(frame)) = frames.next() {
                out.push(
                    frame
                        .location
                        .and_then(|l| Some((l.file?.to_string(), l.line?))),
                );
            }
            out
        })
        .unwrap_or_default()
    }

    /// The line-table rows covering [lo, hi) (ELF addresses): (start, length, file, line),
    /// in address order; line 0 (code of no line) is None.
    pub fn line_rows(&self, lo: u64, hi: u64) -> Vec<(u64, u64, Option<String>, Option<u32>)> {
        self.with_dwarf(|ctx, _| {
            let Ok(iter) = ctx.find_location_range(lo, hi) else {
                return Vec::new();
            };
            iter.map(|(addr, len, loc)| (addr, len, loc.file.map(str::to_string), loc.line))
                .collect()
        })
        .unwrap_or_default()
    }
}

/// The files of one line program that end with `suffix`, by file index, rendered as addr2line
/// renders them (compilation directory, include directory, name).
fn matching_files(
    dwarf: &gimli::Dwarf<Reader>,
    unit: &gimli::Unit<Reader>,
    header: &gimli::LineProgramHeader<Reader>,
    suffix: &str,
) -> BTreeMap<u64, String> {
    let name = |v: gimli::AttributeValue<Reader>| -> Option<String> {
        let r = dwarf.attr_string(unit, v).ok()?;
        Some(r.to_string_lossy().ok()?.into_owned())
    };
    let mut out = BTreeMap::new();
    // DWARF 5 numbers files from 0, earlier versions from 1; `file` knows which.
    for index in 0..=header.file_names().len() as u64 {
        let Some(file) = header.file(index) else {
            continue;
        };
        let Some(file_name) = name(file.path_name()) else {
            continue;
        };
        // Cheap test on the last component before building the whole path.
        let last = suffix.rsplit('/').next().unwrap_or(suffix);
        if !file_name.ends_with(last) {
            continue;
        }
        let mut path = unit
            .comp_dir
            .as_ref()
            .and_then(|d| d.to_string_lossy().ok().map(|s| s.into_owned()))
            .unwrap_or_default();
        if let Some(dir) = file.directory(header).and_then(name) {
            push_path(&mut path, &dir);
        }
        push_path(&mut path, &file_name);
        if path_matches(&path, suffix) {
            out.insert(index, path);
        }
    }
    out
}

fn push_path(path: &mut String, part: &str) {
    if part.starts_with('/') || path.is_empty() {
        *path = part.to_string();
    } else {
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part);
    }
}

impl Symbolizer {
    /// The addresses of `file:line` in every mapped module with line tables. A line with no
    /// code moves to the next line of the same file that has some. A suffix that names
    /// several different files is ambiguous.
    pub fn addresses_of_line(&self, file: &str, line: u32) -> Result<LineMatch, SymbolError> {
        // (path, module index) -> rows, ELF addresses.
        let mut rows: Vec<(usize, u64, StatementRow)> = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            let Ok(elf) = self.elf(m) else { continue };
            let Some(bias) = self.bias(m, &elf) else {
                continue;
            };
            rows.extend(elf.statement_rows(file).into_iter().map(|r| (i, bias, r)));
        }
        let mut paths: Vec<&str> = rows.iter().map(|(_, _, r)| r.file.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        let path = match paths.as_slice() {
            [] => return Err(SymbolError::NoSuchSourceFile(file.to_string())),
            [one] => one.to_string(),
            many => {
                const SHOWN: usize = 6;
                let mut candidates: Vec<String> =
                    many.iter().take(SHOWN).map(|p| p.to_string()).collect();
                if many.len() > SHOWN {
                    candidates.push(format!("and {} more", many.len() - SHOWN));
                }
                return Err(SymbolError::AmbiguousFile {
                    file: file.to_string(),
                    candidates,
                });
            }
        };
        let Some(found) = rows
            .iter()
            .map(|(_, _, r)| r.line)
            .filter(|l| *l >= line)
            .min()
        else {
            return Err(SymbolError::NoCodeAtLine { file: path, line });
        };
        // The lowest address of the line in each function it is in.
        let mut by_function: BTreeMap<(usize, u64), u64> = BTreeMap::new();
        for (module, bias, r) in rows.iter().filter(|(_, _, r)| r.line == found) {
            let Ok(elf) = self.elf(&self.modules[*module]) else {
                continue;
            };
            let function = elf.symbol_at(r.svma).map_or(r.svma, |(s, _)| s.addr);
            let addr = r.svma.wrapping_add(*bias);
            by_function
                .entry((*module, function))
                .and_modify(|a| *a = (*a).min(addr))
                .or_insert(addr);
        }
        let mut addrs: Vec<u64> = by_function.into_values().collect();
        addrs.sort_unstable();
        Ok(LineMatch {
            file: path,
            asked: line,
            line: found,
            addrs,
        })
    }

    /// The function `pc` is in, by the symbol tables.
    pub fn function_at(&self, pc: u64) -> Option<FunctionSpan> {
        let m = self.module_at(pc)?;
        let elf = self.elf(m).ok()?;
        let bias = self.bias(m, &elf)?;
        let (sym, _) = elf.symbol_at(pc.wrapping_sub(bias))?;
        let start = sym.addr.wrapping_add(bias);
        Some(FunctionSpan {
            name: sym.name().to_string(),
            start,
            end: start.wrapping_add(sym.size),
        })
    }

    /// The source line `pc` is on (the innermost: for code inlined from elsewhere, the line
    /// of the inlined code) and all of that line's code in its function: rows at the same
    /// depth of inlining on the same line, with whatever was inlined into that line (a
    /// `wrapping_add` from core, a C header's static inline) and code of no line. None without
    /// line information there.
    pub fn line_at(&self, pc: u64) -> Option<LineSpan> {
        let m = self.module_at(pc)?;
        let elf = self.elf(m).ok()?;
        let bias = self.bias(m, &elf)?;
        let svma = pc.wrapping_sub(bias);
        let (sym, _) = elf.symbol_at(svma)?;
        let (lo, hi) = (sym.addr, sym.addr.saturating_add(sym.size.max(1)));
        let chain = elf.inline_chain(svma);
        let (file, line) = chain.first().cloned().flatten()?;
        // Depth counted from the function itself outwards-in, so that code inlined deeper
        // into this line still finds this line at the same depth.
        let depth = chain.len() - 1;
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (a, len, _, l) in elf.line_rows(lo, hi) {
            let ours = l.is_none() || {
                let c = elf.inline_chain(a);
                c.len() > depth
                    && c[c.len() - 1 - depth]
                        .as_ref()
                        .is_some_and(|(f, n)| *n == line && *f == file)
            };
            if !ours {
                continue;
            }
            let (start, end) = (a.wrapping_add(bias), a.wrapping_add(bias + len));
            match ranges.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
        Some(LineSpan { file, line, ranges })
    }

    /// Addresses in [lo, hi) certain to start an instruction: symbol starts and line-table
    /// rows. Where the code pane may begin decoding.
    pub fn instruction_starts(&self, lo: u64, hi: u64) -> Vec<u64> {
        let Some(m) = self
            .module_at(lo)
            .or_else(|| self.module_at(hi.saturating_sub(1)))
        else {
            return Vec::new();
        };
        let Ok(elf) = self.elf(m) else {
            return Vec::new();
        };
        let Some(bias) = self.bias(m, &elf) else {
            return Vec::new();
        };
        let (slo, shi) = (lo.wrapping_sub(bias), hi.wrapping_sub(bias));
        let syms = elf.symbols();
        let first = syms.partition_point(|s| s.addr < slo);
        let mut out: Vec<u64> = syms[first..]
            .iter()
            .take_while(|s| s.addr < shi)
            .filter(|s| s.size > 0)
            .map(|s| s.addr.wrapping_add(bias))
            .collect();
        out.extend(
            elf.line_rows(slo, shi)
                .into_iter()
                .map(|(a, ..)| a.wrapping_add(bias))
                .filter(|a| *a >= lo && *a < hi),
        );
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_line_texts() {
        assert_eq!(parse_file_line("chain.rs:21"), Some(("chain.rs", 21)));
        assert_eq!(parse_file_line(" src/lib.rs:40 "), Some(("src/lib.rs", 40)));
        assert_eq!(parse_file_line("/a b/c.c:1"), None, "spaces");
        for no in [
            "ptscope::demo::chain::mutex_waiter",
            "main",
            "0x401136",
            "c.c:",
            ":12",
            "c.c:0",
            "c.c:1x",
            "a::b:3",
            "libc!read+4",
        ] {
            assert_eq!(parse_file_line(no), None, "{no}");
        }
    }

    #[test]
    fn suffixes_match_whole_components() {
        let p = "/work/src/demo/chain.rs";
        for yes in [
            "chain.rs",
            "demo/chain.rs",
            "src/demo/chain.rs",
            p,
            "./chain.rs",
        ] {
            assert!(path_matches(p, yes), "{yes}");
        }
        for no in [
            "ain.rs",
            "emo/chain.rs",
            "/demo/chain.rs",
            "chain.r",
            "x/chain.rs",
        ] {
            assert!(!path_matches(p, no), "{no}");
        }
        assert!(path_matches("chain.rs", "chain.rs"));
    }
}
