//! One ELF file, parsed once: its symbols, load segments, call-frame information and DWARF.
//!
//! The file is memory-mapped rather than read: a process may map a hundred libraries whose
//! debug info runs to hundreds of megabytes, and only the pages we touch should cost memory.
//! Opening one reads only what every lookup needs (the symbol table, sorted, with raw names;
//! the program headers; where the CFI is); names are demangled when first shown, the name
//! index is built at the first lookup by name, an unwind row is found through the
//! `.eh_frame_hdr` search table (no walk over every FDE), and source lines are read one
//! compilation unit at a time (`line_index.rs`). The line-table walks of the code pane and the
//! stepping commands (`lines.rs`) load every DWARF section, on their first use only.

use super::demangle::demangle;
use super::remembered::{AnswerStore, Named, Remembered};
use gimli::{EndianReader, LittleEndian, UnwindSection};
use object::elf::PT_LOAD;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug)]
enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// Bytes shared between the module and every gimli reader cut from it.
#[derive(Debug, Clone)]
pub struct Bytes(Arc<Backing>);

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &*self.0 {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

// SAFETY: the bytes live in an Arc'd mmap or Vec that is never resized, so their address is
// stable for as long as any clone of the Arc exists.
unsafe impl gimli::StableDeref for Bytes {}
// SAFETY: a clone shares that same Arc, so it derefs to the same bytes at the same address.
unsafe impl gimli::CloneStableDeref for Bytes {}

pub type Reader = EndianReader<LittleEndian, Bytes>;

#[derive(Clone, Debug)]
pub struct Sym {
    /// Address as the ELF file states it (before the load bias is added).
    pub addr: u64,
    pub size: u64,
    pub raw: String,
    pub global: bool,
    /// Demangled on first use: most symbols of a file are never shown.
    name: OnceLock<String>,
}

impl Sym {
    /// The demangled name (the raw one when it is not mangled).
    pub fn name(&self) -> &str {
        self.name.get_or_init(|| demangle(&self.raw))
    }
}

#[derive(Clone, Copy, Debug)]
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CfiKind {
    EhFrame,
    DebugFrame,
}

#[derive(Clone, Copy, Debug)]
struct FdeRef {
    start: u64,
    end: u64,
    offset: usize,
    kind: CfiKind,
}

struct Cfi {
    eh_frame: Option<gimli::EhFrame<Reader>>,
    /// `.eh_frame_hdr` with its binary search table: an FDE is found without reading the
    /// others.
    eh_frame_hdr: Option<gimli::ParsedEhFrameHdr<Reader>>,
    debug_frame: Option<gimli::DebugFrame<Reader>>,
    bases: gimli::BaseAddresses,
    /// Every FDE the search table does not cover (.debug_frame's; .eh_frame's too when there
    /// is no table), built at the first address the table does not answer.
    index: OnceLock<Vec<FdeRef>>,
}

enum DwarfState {
    Missing,
    /// Found by `.debug_aranges`, one unit at a time.
    ByUnit(Box<super::line_index::LineTables>),
    /// No `.debug_aranges`: addr2line over every section (`ElfModule::whole`).
    Whole,
}

/// Every DWARF section of the file: addr2line (address -> line, with the inlined-call chain)
/// and the sections themselves for the line-program walks of `lines.rs` (file:line ->
/// addresses), which addr2line has no query for.
struct WholeDwarf {
    /// Not `Sync`.
    ctx: Mutex<Box<addr2line::Context<Reader>>>,
    dwarf: Arc<gimli::Dwarf<Reader>>,
}

/// How to recover the caller's CFA and registers at one address: gimli's row, made owned so the
/// unwinder need not know about section readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfaRule {
    RegOffset(u16, i64),
    Expr(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegRule {
    Undefined,
    Same,
    Offset(i64),
    ValOffset(i64),
    Register(u16),
    Expr(Vec<u8>),
    ValExpr(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct UnwindRow {
    pub cfa: CfaRule,
    pub ra_register: u16,
    pub rules: Vec<(u16, RegRule)>,
    /// A signal trampoline's caller was interrupted, not calling: its pc is exact.
    pub signal_frame: bool,
}

pub struct ElfModule {
    data: Bytes,
    loads: Vec<Load>,
    /// Sorted by address, the preferred name first (`preference`); read at the first
    /// question that needs them (`symbols`).
    symbols: OnceLock<Vec<Sym>>,
    /// Raw and demangled names to symbols, built at the first lookup by name.
    by_name: OnceLock<HashMap<String, Vec<u32>>>,
    pub build_id: Option<Vec<u8>>,
    /// True when .symtab was present: without it only exported names are known.
    pub has_symtab: bool,
    cfi: Cfi,
    dwarf: OnceLock<DwarfState>,
    /// Loaded at the first query that needs all of the DWARF (or when there is no
    /// `.debug_aranges`); None when the file has none.
    whole: OnceLock<Option<WholeDwarf>>,
    /// Where separate debug info (found by build id) lives, if any.
    debug_file: Option<std::path::PathBuf>,
    /// Answers kept on disk between dumps (`remembered.rs`), when the caller asked for them.
    remembered: OnceLock<Remembered>,
}

impl std::fmt::Debug for ElfModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfModule")
            .field("symbols", &self.symbols.get().map(Vec::len))
            .field("has_symtab", &self.has_symtab)
            .finish()
    }
}

fn map_file(file: &File) -> std::io::Result<Bytes> {
    // SAFETY: the mapping is read-only and private. A file truncated underneath us would
    // fault on access; that is the price every debugger that maps ELF files pays.
    match unsafe { memmap2::Mmap::map(file) } {
        Ok(m) => Ok(Bytes(Arc::new(Backing::Mapped(m)))),
        Err(_) => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut &*file, &mut v)?;
            Ok(Bytes(Arc::new(Backing::Owned(v))))
        }
    }
}

fn section_reader(data: &Bytes, file: &ElfFile64<'_, Endianness>, name: &str) -> Option<Reader> {
    let section = file.section_by_name(name)?;
    let range = section.compressed_file_range().ok()?;
    if range.format == object::CompressionFormat::None {
        let (off, size) = section.file_range()?;
        let (off, size) = (usize::try_from(off).ok()?, usize::try_from(size).ok()?);
        if off.checked_add(size)? > data.len() {
            return None;
        }
        Some(EndianReader::new(data.clone(), LittleEndian).range(off..off + size))
    } else {
        let bytes = section.uncompressed_data().ok()?.into_owned();
        Some(EndianReader::new(
            Bytes(Arc::new(Backing::Owned(bytes))),
            LittleEndian,
        ))
    }
}

fn collect_symbols(file: &ElfFile64<'_, Endianness>, out: &mut Vec<Sym>) {
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if !sym.is_definition() || sym.address() == 0 {
            continue;
        }
        if !matches!(
            sym.kind(),
            SymbolKind::Text | SymbolKind::Data | SymbolKind::Tls
        ) {
            continue;
        }
        if sym.kind() == SymbolKind::Tls {
            continue;
        }
        let Ok(raw) = sym.name() else { continue };
        if raw.is_empty() {
            continue;
        }
        out.push(Sym {
            addr: sym.address(),
            size: sym.size(),
            raw: raw.to_string(),
            global: sym.is_global(),
            name: OnceLock::new(),
        });
    }
}

/// Among names sharing an address, the one a reader expects comes first: global before local,
/// then the one with fewest leading underscores (`pthread_mutex_lock`, not `___pthread_mutex_lock`).
fn preference(s: &Sym) -> (u64, bool, usize, usize) {
    let underscores = s.raw.bytes().take_while(|&b| b == b'_').count();
    (s.addr, !s.global, underscores, s.raw.len())
}

fn build_id_debug_file(build_id: &[u8]) -> Option<std::path::PathBuf> {
    if build_id.len() < 2 {
        return None;
    }
    let hex: String = build_id.iter().map(|b| format!("{b:02x}")).collect();
    let p = std::path::PathBuf::from(format!(
        "/usr/lib/debug/.build-id/{}/{}.debug",
        &hex[..2],
        &hex[2..]
    ));
    p.exists().then_some(p)
}

/// The build id of an ELF file, read from its notes without parsing the rest.
pub fn build_id_of(file: &File) -> Option<Vec<u8>> {
    let data = map_file(file).ok()?;
    let elf = ElfFile64::<Endianness>::parse(&*data).ok()?;
    elf.build_id().ok().flatten().map(<[u8]>::to_vec)
}

impl ElfModule {
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let data = map_file(&file).map_err(|e| e.to_string())?;
        Self::parse(data)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        Self::parse(Bytes(Arc::new(Backing::Owned(bytes))))
    }

    fn parse(data: Bytes) -> Result<Self, String> {
        let file = ElfFile64::<Endianness>::parse(&*data).map_err(|e| format!("not ELF64: {e}"))?;
        let endian = file.endian();
        if file.is_little_endian() != cfg!(target_endian = "little") {
            return Err("foreign byte order".into());
        }
        let loads = file
            .elf_program_headers()
            .iter()
            .filter(|ph| ph.p_type(endian) == PT_LOAD)
            .map(|ph| Load {
                vaddr: ph.p_vaddr(endian),
                offset: ph.p_offset(endian),
                filesz: ph.p_filesz(endian),
            })
            .collect();

        let build_id = file.build_id().ok().flatten().map(<[u8]>::to_vec);
        let debug_file = build_id.as_deref().and_then(build_id_debug_file);

        let has_symtab = file.section_by_name(".symtab").is_some();

        let section_addr = |name: &str| file.section_by_name(name).map(|s| s.address());
        let mut bases = gimli::BaseAddresses::default();
        if let Some(a) = section_addr(".eh_frame_hdr") {
            bases = bases.set_eh_frame_hdr(a);
        }
        if let Some(a) = section_addr(".eh_frame") {
            bases = bases.set_eh_frame(a);
        }
        if let Some(a) = section_addr(".text") {
            bases = bases.set_text(a);
        }
        if let Some(a) = section_addr(".got") {
            bases = bases.set_got(a);
        }
        let eh_frame = section_reader(&data, &file, ".eh_frame").map(|r| {
            let mut s = gimli::EhFrame::from(r);
            s.set_address_size(8);
            s
        });
        let eh_frame_hdr = section_reader(&data, &file, ".eh_frame_hdr")
            .and_then(|r| gimli::EhFrameHdr::from(r).parse(&bases, 8).ok())
            .filter(|h| h.table().is_some());
        let debug_frame = section_reader(&data, &file, ".debug_frame").map(|r| {
            let mut s = gimli::DebugFrame::from(r);
            s.set_address_size(8);
            s
        });

        Ok(ElfModule {
            loads,
            symbols: OnceLock::new(),
            by_name: OnceLock::new(),
            build_id,
            has_symtab,
            cfi: Cfi {
                eh_frame,
                eh_frame_hdr,
                debug_frame,
                bases,
                index: OnceLock::new(),
            },
            dwarf: OnceLock::new(),
            whole: OnceLock::new(),
            debug_file,
            remembered: OnceLock::new(),
            data,
        })
    }

    /// Looks this file's answers up in `store` from now on. Only a file with a build id is
    /// remembered; its key also holds its size (a stripped copy keeps the build id) and the
    /// size and time of the debug file its lines come from.
    pub fn remember_in(&self, store: &AnswerStore) {
        let Some(id) = &self.build_id else { return };
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        // A debug file that is there but cannot be read would have its answers (no lines,
        // no internal names) kept for good: a chmod changes neither its size nor its time.
        let debug = match self
            .debug_file
            .as_ref()
            .map(|df| File::open(df)?.metadata())
        {
            None => "none".to_string(),
            Some(Ok(m)) => {
                use std::os::unix::fs::MetadataExt;
                format!("{:x}.{:x}", m.size(), m.mtime())
            }
            Some(Err(_)) => return,
        };
        let key = format!("{hex}-{:x}-{debug}", self.data.len());
        let _ = self.remembered.set(store.open(&key));
    }

    /// Answers for this file were read from disk: parsing it up front can wait for a miss.
    pub fn answers_remembered(&self) -> bool {
        self.remembered.get().is_some_and(Remembered::loaded)
    }

    /// Writes what was answered since the file was read (a failed write only loses speed).
    pub fn save_answers(&self) {
        if let Some(r) = self.remembered.get() {
            let _ = r.save();
        }
    }

    /// The symbol covering `svma`, owned (remembered when answers are kept).
    pub fn named_at(&self, svma: u64) -> Option<Named> {
        let find = || {
            self.symbol_at(svma).map(|(s, _)| Named {
                name: s.name().to_string(),
                addr: s.addr,
                size: s.size,
            })
        };
        match self.remembered.get() {
            Some(r) => r.function(svma, find),
            None => find(),
        }
    }

    /// The load bias of a mapping of this file: runtime address minus ELF address. Derived from
    /// the PT_LOAD segment that covers the mapping's file offset, so it is right for PIE
    /// executables, shared libraries, and fixed-address executables (bias 0) alike.
    pub fn bias_for(&self, start: u64, file_offset: u64) -> Option<u64> {
        let seg = self.loads.iter().find(|l| {
            let page_start = l.offset & !0xfff;
            page_start <= file_offset && file_offset < l.offset.saturating_add(l.filesz)
        })?;
        Some(
            start
                .wrapping_sub(file_offset)
                .wrapping_sub(seg.vaddr.wrapping_sub(seg.offset)),
        )
    }

    /// Every symbol of the file and of its separate debug file. Read on first use rather
    /// than when the file is opened: a dump's line loader needs only libc's DWARF and must not
    /// wait for its symbol tables (~5 ms with libc6-dbg's) first.
    pub fn symbols(&self) -> &[Sym] {
        self.symbols.get_or_init(|| {
            let mut symbols = Vec::new();
            if let Ok(file) = ElfFile64::<Endianness>::parse(&*self.data) {
                collect_symbols(&file, &mut symbols);
            }
            if let Some(df) = &self.debug_file {
                // Debian's libc has no .symtab; its -dbg package puts one (internal names
                // like __lll_lock_wait) in the build-id file.
                if let Ok(f) = File::open(df) {
                    if let Ok(bytes) = map_file(&f) {
                        if let Ok(dfile) = ElfFile64::<Endianness>::parse(&*bytes) {
                            collect_symbols(&dfile, &mut symbols);
                        }
                    }
                }
            }
            // The key once per symbol, not per comparison (its underscore count was a
            // twentieth of a dump's CPU).
            symbols.sort_by_cached_key(preference);
            symbols.dedup_by(|a, b| a.addr == b.addr && a.raw == b.raw);
            symbols
        })
    }

    /// The symbol covering `svma` (an ELF address) and the offset into it.
    pub fn symbol_at(&self, svma: u64) -> Option<(&Sym, u64)> {
        let idx = self.symbols().partition_point(|s| s.addr <= svma);
        // Walk back over aliases and zero-sized markers at lower addresses: the first symbol
        // whose extent covers svma wins; sized symbols that end before svma do not.
        let mut best: Option<&Sym> = None;
        for s in self.symbols()[..idx].iter().rev().take(16) {
            let covers = if s.size == 0 {
                false
            } else {
                svma < s.addr.saturating_add(s.size)
            };
            if covers {
                match best {
                    Some(b) if b.addr != s.addr => break,
                    Some(b) if preference(b) <= preference(s) => {}
                    _ => best = Some(s),
                }
            } else if best.is_some_and(|b| b.addr != s.addr) {
                break;
            }
        }
        if best.is_none() {
            // Hand-written assembly often carries size 0: accept the nearest preceding
            // unsized symbol when nothing sized is in the way.
            let s = self.symbols()[..idx].last()?;
            if s.size != 0 {
                return None;
            }
            best = Some(s);
        }
        best.map(|s| (s, svma - s.addr))
    }

    fn by_name(&self) -> &HashMap<String, Vec<u32>> {
        self.by_name.get_or_init(|| {
            let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
            for (i, s) in self.symbols().iter().enumerate() {
                by_name
                    .entry(s.name().to_string())
                    .or_default()
                    .push(i as u32);
                if s.raw != s.name() {
                    by_name.entry(s.raw.clone()).or_default().push(i as u32);
                }
            }
            by_name
        })
    }

    pub fn symbols_named(&self, name: &str) -> Vec<&Sym> {
        let mut out: Vec<&Sym> = self
            .by_name()
            .get(name)
            .map(|v| v.iter().map(|&i| &self.symbols()[i as usize]).collect())
            .unwrap_or_default();
        out.dedup_by_key(|s| s.addr);
        out
    }

    /// Symbols whose demangled path ends in `::name`: Rust and C++ names by their last
    /// segment, so `chain_c` finds `ptscope::demo::chain::chain_c`.
    pub fn symbols_with_suffix(&self, name: &str) -> Vec<&Sym> {
        let suffix = format!("::{name}");
        let mut out: Vec<&Sym> = self
            .symbols()
            .iter()
            .filter(|s| s.name().ends_with(&suffix))
            .collect();
        out.dedup_by_key(|s| s.addr);
        out
    }

    /// The bytes that hold this file's DWARF: the file itself, else its separate debug file
    /// (found by build id).
    fn dwarf_bytes(&self) -> Option<Bytes> {
        let has_info = |data: &Bytes| {
            ElfFile64::<Endianness>::parse(&**data)
                .is_ok_and(|f| f.section_by_name(".debug_info").is_some())
        };
        if has_info(&self.data) {
            return Some(self.data.clone());
        }
        let separate = self
            .debug_file
            .as_ref()
            .and_then(|df| File::open(df).ok())
            .and_then(|f| map_file(&f).ok())?;
        has_info(&separate).then_some(separate)
    }

    /// The DWARF of `data`, with only the sections `wanted` says (the others empty).
    fn load_sections(
        data: &Bytes,
        wanted: impl Fn(gimli::SectionId) -> bool,
    ) -> Option<gimli::Dwarf<Reader>> {
        let file = ElfFile64::<Endianness>::parse(&**data).ok()?;
        gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
            let found = wanted(id)
                .then(|| section_reader(data, &file, id.name()))
                .flatten();
            Ok(found.unwrap_or_else(|| {
                EndianReader::new(Bytes(Arc::new(Backing::Owned(Vec::new()))), LittleEndian)
            }))
        })
        .ok()
    }

    /// The line tables for `location`: by unit where `.debug_aranges` allows, else through
    /// addr2line over every section.
    fn load_dwarf(&self) -> DwarfState {
        let Some(data) = self.dwarf_bytes() else {
            return DwarfState::Missing;
        };
        let (by_unit, info_compressed) = match ElfFile64::<Endianness>::parse(&*data) {
            Ok(f) => (
                f.section_by_name(".debug_aranges").is_some(),
                f.section_by_name(".debug_info")
                    .and_then(|s| s.compressed_file_range().ok())
                    .is_some_and(|r| r.format != object::CompressionFormat::None),
            ),
            Err(_) => (false, false),
        };
        if by_unit {
            use super::line_index::{needed, needed_for_pairing, LineTables, LoadFull};
            let tables = if info_compressed {
                // `.debug_info` is inflated only for a unit pairing does not find
                // (`line_pairing.rs`).
                let again = data.clone();
                let full: LoadFull = Box::new(move || Self::load_sections(&again, needed));
                Self::load_sections(&data, needed_for_pairing)
                    .and_then(|d| LineTables::new(d, Some(full)))
            } else {
                Self::load_sections(&data, needed).and_then(|d| LineTables::new(d, None))
            };
            if let Some(t) = tables {
                return DwarfState::ByUnit(Box::new(t));
            }
            // An empty .debug_aranges: every section after all.
        }
        match self.whole() {
            Some(_) => DwarfState::Whole,
            None => DwarfState::Missing,
        }
    }

    fn whole(&self) -> Option<&WholeDwarf> {
        self.whole
            .get_or_init(|| {
                let dwarf = Arc::new(Self::load_sections(&self.dwarf_bytes()?, |_| true)?);
                let ctx = addr2line::Context::from_arc_dwarf(dwarf.clone()).ok()?;
                Some(WholeDwarf {
                    ctx: Mutex::new(Box::new(ctx)),
                    dwarf,
                })
            })
            .as_ref()
    }

    /// Reads the line tables now (they are otherwise read at the first `location`): lets a
    /// caller load them on another thread while it does something else.
    pub fn preload_lines(&self) {
        self.dwarf.get_or_init(|| self.load_dwarf());
    }

    /// Source file and line of `svma`, when DWARF line tables are present (remembered when
    /// answers are kept).
    pub fn location(&self, svma: u64) -> Option<(String, Option<u32>)> {
        match self.remembered.get() {
            Some(r) => r.line(svma, || self.find_location(svma)),
            None => self.find_location(svma),
        }
    }

    fn find_location(&self, svma: u64) -> Option<(String, Option<u32>)> {
        match self.dwarf.get_or_init(|| self.load_dwarf()) {
            DwarfState::Missing => None,
            DwarfState::ByUnit(t) => t.find(svma),
            DwarfState::Whole => self.with_dwarf(|ctx, _| {
                let loc = ctx.find_location(svma).ok()??;
                Some((loc.file?.to_string(), loc.line))
            })?,
        }
    }

    /// The offset of the unit whose line table `location(svma)` reads first (None without
    /// units: no `.debug_aranges`, no DWARF, or no unit covering it).
    pub fn line_unit(&self, svma: u64) -> Option<usize> {
        match self.dwarf.get_or_init(|| self.load_dwarf()) {
            DwarfState::ByUnit(t) => t.first_unit(svma),
            _ => None,
        }
    }

    /// Runs `f` on all of this module's DWARF (loaded on first use); None when it has none.
    pub(super) fn with_dwarf<T>(
        &self,
        f: impl FnOnce(&addr2line::Context<Reader>, &gimli::Dwarf<Reader>) -> T,
    ) -> Option<T> {
        let whole = self.whole()?;
        let ctx = whole.ctx.lock().ok()?;
        Some(f(&ctx, &whole.dwarf))
    }

    fn cfi_index(&self) -> &[FdeRef] {
        self.cfi.index.get_or_init(|| {
            let mut out = Vec::new();
            let bases = &self.cfi.bases;
            if let (Some(s), None) = (&self.cfi.eh_frame, &self.cfi.eh_frame_hdr) {
                index_entries(s, bases, CfiKind::EhFrame, &mut out);
            }
            if let Some(s) = &self.cfi.debug_frame {
                index_entries(s, bases, CfiKind::DebugFrame, &mut out);
            }
            // .eh_frame first when both cover an address: it is what the runtime itself uses.
            out.sort_by_key(|f| (f.start, f.kind == CfiKind::DebugFrame));
            out
        })
    }

    pub fn has_cfi(&self) -> bool {
        self.cfi.eh_frame_hdr.is_some() || !self.cfi_index().is_empty()
    }

    /// The unwind rule in force at `svma`, or None when no FDE covers it.
    pub fn unwind_row(
        &self,
        svma: u64,
        ctx: &mut gimli::UnwindContext<usize>,
    ) -> Option<UnwindRow> {
        if let (Some(hdr), Some(eh)) = (&self.cfi.eh_frame_hdr, &self.cfi.eh_frame) {
            let fde = hdr.table().and_then(|t| {
                t.fde_for_address(eh, &self.cfi.bases, svma, gimli::EhFrame::cie_from_offset)
                    .ok()
            });
            if let Some(row) = fde.and_then(|f| row_of(eh, &self.cfi.bases, &f, svma, ctx)) {
                return Some(row);
            }
        }
        let index = self.cfi_index();
        let i = index.partition_point(|f| f.start <= svma);
        let candidates = index[..i].iter().rev().take(4).filter(|f| svma < f.end);
        for f in candidates {
            let row = match f.kind {
                CfiKind::EhFrame => {
                    row_from(self.cfi.eh_frame.as_ref()?, &self.cfi.bases, f, svma, ctx)
                }
                CfiKind::DebugFrame => row_from(
                    self.cfi.debug_frame.as_ref()?,
                    &self.cfi.bases,
                    f,
                    svma,
                    ctx,
                ),
            };
            if row.is_some() {
                return row;
            }
        }
        None
    }
}

fn index_entries<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    kind: CfiKind,
    out: &mut Vec<FdeRef>,
) {
    let mut entries = section.entries(bases);
    // A malformed entry ends the walk: everything before it is still good.
    while let Ok(Some(entry)) = entries.next() {
        if let gimli::CieOrFde::Fde(partial) = entry {
            if let Ok(fde) = partial.parse(|s, b, o| s.cie_from_offset(b, o)) {
                if fde.len() > 0 {
                    out.push(FdeRef {
                        start: fde.initial_address(),
                        end: fde.end_address(),
                        offset: fde.offset(),
                        kind,
                    });
                }
            }
        }
    }
}

fn row_from<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    f: &FdeRef,
    svma: u64,
    ctx: &mut gimli::UnwindContext<usize>,
) -> Option<UnwindRow>
where
    S::Offset: From<usize>,
{
    let fde = section
        .fde_from_offset(bases, S::Offset::from(f.offset), |s, b, o| {
            s.cie_from_offset(b, o)
        })
        .ok()?;
    row_of(section, bases, &fde, svma, ctx)
}

/// The row of `fde` in force at `svma`, made owned.
fn row_of<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    fde: &gimli::FrameDescriptionEntry<Reader>,
    svma: u64,
    ctx: &mut gimli::UnwindContext<usize>,
) -> Option<UnwindRow> {
    let ra_register = fde.cie().return_address_register().0;
    let signal_frame = fde.is_signal_trampoline();
    let row = fde
        .unwind_info_for_address(section, bases, ctx, svma)
        .ok()?;
    let expr = |e: &gimli::UnwindExpression<usize>| -> Option<Vec<u8>> {
        let e = e.get(section).ok()?;
        Some(gimli::Reader::to_slice(&e.0).ok()?.into_owned())
    };
    let cfa = match row.cfa() {
        gimli::CfaRule::RegisterAndOffset { register, offset } => {
            CfaRule::RegOffset(register.0, *offset)
        }
        gimli::CfaRule::Expression(e) => CfaRule::Expr(expr(e)?),
    };
    let mut rules = Vec::new();
    for (reg, rule) in row.registers() {
        let r = match rule {
            gimli::RegisterRule::Undefined => RegRule::Undefined,
            gimli::RegisterRule::SameValue => RegRule::Same,
            gimli::RegisterRule::Offset(o) => RegRule::Offset(*o),
            gimli::RegisterRule::ValOffset(o) => RegRule::ValOffset(*o),
            gimli::RegisterRule::Register(r) => RegRule::Register(r.0),
            gimli::RegisterRule::Expression(e) => RegRule::Expr(expr(e)?),
            gimli::RegisterRule::ValExpression(e) => RegRule::ValExpr(expr(e)?),
            gimli::RegisterRule::Architectural | gimli::RegisterRule::Constant(_) => {
                RegRule::Undefined
            }
        };
        rules.push((reg.0, r));
    }
    Some(UnwindRow {
        cfa,
        ra_register,
        rules,
        signal_frame,
    })
}

#[cfg(test)]
#[path = "elf_tests.rs"]
mod tests;
