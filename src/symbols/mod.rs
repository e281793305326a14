//! Addresses to names and back, for one live process.
//!
//! Built on object (ELF, symbol tables, program headers), gimli (call-frame information) and
//! addr2line (DWARF lines). blazesym was the alternative: it symbolizes a PID in one call, but
//! hides the load bias and module handles that unwinding and name lookup need, and brings a
//! second copy of the same parsers. framehop unwinds, but yields return addresses only and
//! would need its own module bookkeeping beside ours; gimli's unwind table is enough for x86-64.

pub mod cache;
pub mod demangle;
pub mod elf;
pub mod error;
pub mod expr;
mod line_index;
mod line_pairing;
pub mod lines;
pub mod remembered;
pub mod source;
pub mod unwind;

pub use crate::procinfo::Mapping;
pub use cache::ModuleCache;
pub use elf::ElfModule;
pub use error::SymbolError;
pub use expr::resolve_in;
pub use lines::{parse_file_line, FunctionSpan, LineMatch, LineSpan};
pub use remembered::{AnswerStore, Named};
pub use source::SourceFile;
pub use unwind::{unwind, unwind_located, Backtrace, Frame, FrameKind, UnwindStop, MAX_DEPTH};

use crate::procinfo::{self, maps};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// One file (or the vdso) mapped into the process, possibly in several mappings.
#[derive(Debug)]
pub struct Module {
    /// As /proc/PID/maps names it, without " (deleted)".
    pub path: String,
    pub deleted: bool,
    pub dev: (u32, u32),
    pub inode: u64,
    /// The lowest-offset mapping: the one the load bias is computed from.
    first: Mapping,
    /// Every mapping of this module, as indices into the symbolizer's mapping list.
    pub mappings: Vec<usize>,
    elf: OnceLock<cache::Loaded>,
}

impl Module {
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn is_vdso(&self) -> bool {
        self.path == "[vdso]"
    }

    /// Accepts the full path, the file name (`libc.so.6`) or its stem (`libc`).
    pub fn matches_name(&self, name: &str) -> bool {
        let file = self.file_name();
        self.path == name
            || file == name
            || file
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
    }
}

/// What is known about one address. `Display` gives the short form for panes and logs, already
/// sanitized (names come from the target's files).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub addr: u64,
    /// Path of the mapped file, `[vdso]`, or None for anonymous or unmapped memory.
    pub module: Option<String>,
    /// The ELF address (runtime address minus load bias) when the module was parsed, else the
    /// offset from the module's lowest mapping: what objdump or addr2line take.
    pub module_offset: u64,
    pub function: Option<String>,
    pub offset: u64,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Why the module could not be read, when it could not.
    pub unreadable: Option<String>,
    pub mapped: bool,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::text::sanitize;
        let module = self
            .module
            .as_deref()
            .map(|m| m.rsplit('/').next().unwrap_or(m));
        match (&self.function, module) {
            (Some(func), Some(m)) if self.offset == 0 => {
                write!(f, "{} ({})", sanitize(func), sanitize(m))
            }
            (Some(func), Some(m)) => {
                write!(f, "{}+{:#x} ({})", sanitize(func), self.offset, sanitize(m))
            }
            (Some(func), None) => write!(f, "{}+{:#x}", sanitize(func), self.offset),
            (None, Some(m)) if self.unreadable.is_some() => {
                write!(f, "{}+{:#x} (unreadable)", sanitize(m), self.module_offset)
            }
            (None, Some(m)) => write!(f, "{}+{:#x}", sanitize(m), self.module_offset),
            (None, None) if self.mapped => write!(f, "{:#x} (anonymous)", self.addr),
            (None, None) => write!(f, "{:#x} (unmapped)", self.addr),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolMatch {
    pub module: String,
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

impl SymbolMatch {
    /// How the user names this one unambiguously: `libc.so.6!read`.
    pub fn qualified(&self) -> String {
        let file = self.module.rsplit('/').next().unwrap_or(&self.module);
        format!("{file}!{}", self.name)
    }
}

/// The symbol view of one process. Cheap to keep across stops: `refresh` re-reads
/// /proc/PID/maps (one small read) and re-parses nothing unless the mappings changed, and ELF
/// files are parsed lazily, once, through a `ModuleCache` that may be shared between processes.
pub struct Symbolizer {
    pid: i32,
    cache: Arc<ModuleCache>,
    maps_text: String,
    maps: Vec<Mapping>,
    /// For each mapping, the module it belongs to.
    module_of: Vec<Option<usize>>,
    modules: Vec<Module>,
}

/// Where an address is looked up: a return address belongs to the call before it.
fn probe(addr: u64, is_return_address: bool) -> u64 {
    if is_return_address {
        addr.saturating_sub(1)
    } else {
        addr
    }
}

impl Symbolizer {
    /// With the process-wide module cache (`ModuleCache::shared`).
    pub fn new(pid: i32) -> Result<Self, SymbolError> {
        Self::with_cache(pid, ModuleCache::shared())
    }

    pub fn with_cache(pid: i32, cache: Arc<ModuleCache>) -> Result<Self, SymbolError> {
        let mut s = Symbolizer {
            pid,
            cache,
            maps_text: String::new(),
            maps: Vec::new(),
            module_of: Vec::new(),
            modules: Vec::new(),
        };
        s.refresh()?;
        Ok(s)
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn cache(&self) -> &Arc<ModuleCache> {
        &self.cache
    }

    /// Re-reads the memory map; returns whether it changed. Parsed modules whose file is still
    /// mapped are kept.
    pub fn refresh(&mut self) -> Result<bool, SymbolError> {
        let text = procinfo::maps::read_text(self.pid).map_err(|e| {
            // ENOENT (ESRCH on a process exiting as we read): there is no such process.
            if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
                SymbolError::NoProcess(self.pid)
            } else {
                SymbolError::Maps {
                    pid: self.pid,
                    reason: e.to_string(),
                }
            }
        })?;
        if text == self.maps_text {
            return Ok(false);
        }
        let maps = maps::parse_maps(&text);
        let mut old: HashMap<(String, (u32, u32), u64), OnceLock<cache::Loaded>> = self
            .modules
            .drain(..)
            .map(|m| ((m.path, m.dev, m.inode), m.elf))
            .collect();
        let mut index: HashMap<(String, (u32, u32), u64), usize> = HashMap::new();
        let mut modules: Vec<Module> = Vec::new();
        let mut module_of = Vec::with_capacity(maps.len());
        for (i, m) in maps.iter().enumerate() {
            if !(m.is_file() || m.path == "[vdso]") {
                module_of.push(None);
                continue;
            }
            let key = (m.file_path().to_string(), m.dev, m.inode);
            let idx = *index.entry(key.clone()).or_insert_with(|| {
                modules.push(Module {
                    path: key.0.clone(),
                    deleted: m.is_deleted(),
                    dev: m.dev,
                    inode: m.inode,
                    first: m.clone(),
                    mappings: Vec::new(),
                    elf: old.remove(&key).unwrap_or_default(),
                });
                modules.len() - 1
            });
            let module = &mut modules[idx];
            if m.offset < module.first.offset {
                module.first = m.clone();
            }
            module.mappings.push(i);
            module_of.push(Some(idx));
        }
        self.maps_text = text;
        self.maps = maps;
        self.module_of = module_of;
        self.modules = modules;
        Ok(true)
    }

    pub fn maps(&self) -> &[Mapping] {
        &self.maps
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    pub fn mapping_at(&self, addr: u64) -> Option<&Mapping> {
        self.mapping_index(addr).map(|i| &self.maps[i])
    }

    fn mapping_index(&self, addr: u64) -> Option<usize> {
        let i = self.maps.partition_point(|m| m.start <= addr);
        let i = i.checked_sub(1)?;
        self.maps[i].contains(addr).then_some(i)
    }

    pub fn module_at(&self, addr: u64) -> Option<&Module> {
        let i = self.mapping_index(addr)?;
        self.module_of[i].map(|m| &self.modules[m])
    }

    /// The parsed ELF of a module, parsing it on first use.
    pub fn elf(&self, module: &Module) -> cache::Loaded {
        module
            .elf
            .get_or_init(|| {
                if module.is_vdso() {
                    // The vdso exists only in memory; it is a complete ELF image.
                    let len = (module.first.end - module.first.start) as usize;
                    let mut buf = vec![0u8; len];
                    let n = procinfo::mem::open_read(self.pid)
                        .and_then(|f| {
                            std::os::unix::fs::FileExt::read_at(&f, &mut buf, module.first.start)
                        })
                        .map_err(|e| format!("[vdso]: {e}"))?;
                    buf.truncate(n);
                    return ElfModule::from_bytes(buf).map(Arc::new);
                }
                let mut candidates = vec![module.first.map_files_path(self.pid)];
                candidates.push(procinfo::maps::in_root(self.pid, &module.path));
                if !module.deleted {
                    candidates.push(PathBuf::from(&module.path));
                }
                self.cache.load(&candidates)
            })
            .clone()
    }

    /// Parses every mapped file now (symbols, program headers, where its CFI is), so that
    /// later lookups only search: what a dump does before it stops the process. A file whose
    /// answers were remembered (`remembered.rs`) is opened only: its tables wait for a miss.
    pub fn preload(&self) {
        for m in &self.modules {
            if let Ok(elf) = self.elf(m) {
                if !elf.answers_remembered() {
                    let _ = elf.symbols();
                }
            }
        }
    }

    /// Writes the answers found since they were read, for every file that keeps them.
    pub fn save_answers(&self) {
        for m in &self.modules {
            if let Some(Ok(elf)) = m.elf.get() {
                elf.save_answers();
            }
        }
    }

    /// Reads the line tables of the modules these addresses are in (the slow part of a first
    /// `symbolize`, when debug info is compressed).
    pub fn preload_lines(&self, addrs: &[u64]) {
        let mut done = Vec::new();
        for &a in addrs {
            let Some(m) = self.module_at(a) else { continue };
            if done.contains(&m.path) {
                continue;
            }
            done.push(m.path.clone());
            if let Ok(elf) = self.elf(m) {
                if !elf.answers_remembered() {
                    elf.preload_lines();
                }
            }
        }
    }

    /// Load bias of a parsed module in this process.
    pub fn bias(&self, module: &Module, elf: &ElfModule) -> Option<u64> {
        if module.is_vdso() {
            // Read from memory, so ELF addresses are relative to the image's first byte.
            return elf.bias_for(module.first.start, 0);
        }
        elf.bias_for(module.first.start, module.first.offset)
    }

    /// Describes an address. A return address (every frame but the innermost) belongs to the
    /// call before it, and may even be past the end of a function that never returns, so it is
    /// looked up at `addr - 1`.
    pub fn symbolize(&self, addr: u64, is_return_address: bool) -> Location {
        let probe = probe(addr, is_return_address);
        let mut loc = Location {
            addr,
            mapped: self.mapping_at(probe).is_some(),
            ..Default::default()
        };
        let Some(module) = self.module_at(probe) else {
            return loc;
        };
        loc.module = Some(module.path.clone());
        loc.module_offset = addr.wrapping_sub(module.first.start);
        let elf = match self.elf(module) {
            Ok(e) => e,
            Err(reason) => {
                loc.unreadable = Some(reason);
                return loc;
            }
        };
        let Some(bias) = self.bias(module, &elf) else {
            return loc;
        };
        let svma = probe.wrapping_sub(bias);
        loc.module_offset = addr.wrapping_sub(bias);
        if let Some(sym) = elf.named_at(svma) {
            loc.offset = addr.wrapping_sub(bias).wrapping_sub(sym.addr);
            loc.function = Some(sym.name);
        }
        if let Some((file, line)) = elf.location(svma) {
            loc.file = Some(file);
            loc.line = line;
        }
        loc
    }

    /// Which source-line unit `symbolize(addr, is_return_address)` reads its line from (the
    /// module and the unit's offset), found without parsing the unit: lets a caller with many
    /// addresses hand each unit's to one worker. None when the module has no units to tell.
    pub fn line_unit(&self, addr: u64, is_return_address: bool) -> Option<(usize, usize)> {
        let probe = probe(addr, is_return_address);
        let i = self.mapping_index(probe)?;
        let m = self.module_of[i]?;
        let module = &self.modules[m];
        let elf = self.elf(module).ok()?;
        // Telling the unit reads the file's line tables, which remembered answers spare.
        if elf.answers_remembered() {
            return None;
        }
        let bias = self.bias(module, &elf)?;
        Some((m, elf.line_unit(probe.wrapping_sub(bias))?))
    }

    /// Every definition of `name` in every mapped module: exact raw or demangled names first;
    /// when there are none anywhere, demangled names ending in `::name`.
    pub fn lookup(
        &self,
        module: Option<&str>,
        name: &str,
    ) -> Result<Vec<SymbolMatch>, SymbolError> {
        let modules: Vec<&Module> = match module {
            Some(m) => {
                let found: Vec<&Module> =
                    self.modules.iter().filter(|x| x.matches_name(m)).collect();
                if found.is_empty() {
                    return Err(SymbolError::UnknownModule(m.to_string()));
                }
                found
            }
            None => self.modules.iter().collect(),
        };
        let mut parsed = Vec::new();
        for m in modules {
            if let Ok(elf) = self.elf(m) {
                if let Some(bias) = self.bias(m, &elf) {
                    parsed.push((m, elf, bias));
                }
            }
        }
        let collect = |suffix: bool| -> Vec<SymbolMatch> {
            let mut out = Vec::new();
            for (m, elf, bias) in &parsed {
                let syms = if suffix {
                    elf.symbols_with_suffix(name)
                } else {
                    elf.symbols_named(name)
                };
                for s in syms {
                    let addr = s.addr.wrapping_add(*bias);
                    if out.iter().any(|o: &SymbolMatch| o.addr == addr) {
                        continue;
                    }
                    out.push(SymbolMatch {
                        module: m.path.clone(),
                        name: s.name().to_string(),
                        addr,
                        size: s.size,
                    });
                }
            }
            out
        };
        let mut found = collect(false);
        if found.is_empty() {
            found = collect(true);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolizer_and_cache_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Symbolizer>();
        send_sync::<ModuleCache>();
        send_sync::<ElfModule>();
    }

    #[test]
    fn unreadable_modules_say_so() {
        let cache = ModuleCache::new();
        let err = cache
            .load(&[PathBuf::from("/nonexistent/libgone.so")])
            .unwrap_err();
        assert!(err.contains("/nonexistent/libgone.so"), "{err}");
        let loc = Location {
            addr: 0x7f00_0000_1234,
            module: Some("/usr/lib/libgone.so".into()),
            module_offset: 0x1234,
            unreadable: Some(err),
            mapped: true,
            ..Default::default()
        };
        assert_eq!(loc.to_string(), "libgone.so+0x1234 (unreadable)");
    }

    #[test]
    fn hostile_names_are_sanitized_for_display() {
        let loc = Location {
            function: Some("evil\x1b[2Jname".into()),
            offset: 8,
            module: Some("/tmp/lib\x1b]0;x\x07.so".into()),
            mapped: true,
            ..Default::default()
        };
        assert_eq!(
            loc.to_string(),
            "evil\\x1b[2Jname+0x8 (lib\\x1b]0;x\\x07.so)"
        );
    }

    #[test]
    fn module_names_match_path_file_and_stem() {
        let m = Module {
            path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into(),
            deleted: false,
            dev: (0, 0),
            inode: 1,
            first: maps::parse_maps(
                "7f00-7f01 r--p 00000000 00:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6",
            )
            .remove(0),
            mappings: vec![0],
            elf: OnceLock::new(),
        };
        for yes in [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "libc.so.6",
            "libc",
            "libc.so",
        ] {
            assert!(m.matches_name(yes), "{yes}");
        }
        for no in ["lib", "libcrypto", "c", "libc.so.6x"] {
            assert!(!m.matches_name(no), "{no}");
        }
    }
}
