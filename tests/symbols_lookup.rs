//! Names to addresses and addresses to names in a live target, checked against the ELF file.

mod symbols_support;

use object::{Object, ObjectSection, ObjectSymbol};
use ptscope::symbols::{unwind, SymbolError, Symbolizer, MAX_DEPTH};
use std::os::unix::fs::FileExt;
use symbols_support::*;

const EXE: &str = env!("CARGO_BIN_EXE_ptscope");

/// (ELF address, size, the bytes the file holds there) of a symbol in the executable.
fn elf_symbol(path: &str, name: &str) -> (u64, u64, Vec<u8>) {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("{name} not in {path}"));
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let (off, _) = section.file_range().unwrap();
    let at = (off + sym.address() - section.address()) as usize;
    (sym.address(), sym.size(), data[at..at + 32].to_vec())
}

fn read_mem(pid: i32, addr: u64, len: usize) -> Vec<u8> {
    let f = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut buf = vec![0u8; len];
    let n = f.read_at(&mut buf, addr).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn names_resolve_to_the_bytes_the_elf_file_has_there() {
    let t = start_default();
    let sym = Symbolizer::new(t.pid).unwrap();

    let addr = sym.resolve("ptscope_chain_c").unwrap();
    let (elf_addr, size, file_bytes) = elf_symbol(EXE, "ptscope_chain_c");
    assert_eq!(read_mem(t.pid, addr, 32), file_bytes, "bytes at {addr:#x}");
    assert!(size > 0);

    // Offsets, module qualifiers, and the address form.
    assert_eq!(sym.resolve("ptscope_chain_c+0x10").unwrap(), addr + 0x10);
    assert_eq!(sym.resolve("ptscope!ptscope_chain_c").unwrap(), addr);
    assert_eq!(sym.resolve(&format!("{addr:#x}")).unwrap(), addr);

    // Back again: the address names the symbol, with the ELF address as the module offset.
    let loc = sym.symbolize(addr + 4, false);
    assert_eq!(loc.function.as_deref(), Some("ptscope_chain_c"));
    assert_eq!(loc.offset, 4);
    assert_eq!(loc.module_offset, elf_addr + 4);
    assert!(
        loc.to_string().starts_with("ptscope_chain_c+0x4 (ptscope)"),
        "{loc}"
    );

    // Rust names by full demangled path, or by their last segment.
    let waiter = sym.resolve("ptscope::demo::chain::mutex_waiter").unwrap();
    assert_eq!(sym.resolve("mutex_waiter").unwrap(), waiter);
    let raw = object::File::parse(&*std::fs::read(EXE).unwrap())
        .unwrap()
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n.contains("12mutex_waiter17h")))
        .map(|s| s.name().unwrap().to_string())
        .expect("mangled waiter in symtab");
    assert_eq!(
        sym.resolve(&raw).unwrap(),
        waiter,
        "mangled name resolves too"
    );
    assert_eq!(
        sym.symbolize(waiter, false).function.as_deref(),
        Some("ptscope::demo::chain::mutex_waiter")
    );

    // A libc function: its bytes in memory match libc on disk.
    let read_addr = sym.resolve("libc.so.6!read").unwrap();
    assert_eq!(sym.resolve("libc!read").unwrap(), read_addr);
    let libc = sym.module_at(read_addr).unwrap().path.clone();
    assert!(libc.contains("libc.so"), "{libc}");
    let (_, _, libc_bytes) = elf_symbol_dynamic(&libc, "read");
    assert_eq!(read_mem(t.pid, read_addr, 32), libc_bytes);
}

fn elf_symbol_dynamic(path: &str, name: &str) -> (u64, u64, Vec<u8>) {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let sym = file
        .dynamic_symbols()
        .find(|s| s.name() == Ok(name) && s.is_definition())
        .unwrap();
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let (off, _) = section.file_range().unwrap();
    let at = (off + sym.address() - section.address()) as usize;
    (sym.address(), sym.size(), data[at..at + 32].to_vec())
}

#[test]
fn unknown_and_ambiguous_names_are_typed_one_line_errors() {
    let t = start_default();
    let sym = Symbolizer::new(t.pid).unwrap();

    let err = sym.resolve("no_such_function_anywhere").unwrap_err();
    assert_eq!(
        err,
        SymbolError::UnknownSymbol("no_such_function_anywhere".into())
    );
    assert_eq!(
        err.to_string(),
        "no symbol named `no_such_function_anywhere`"
    );

    assert_eq!(
        sym.resolve("nolib!read").unwrap_err(),
        SymbolError::UnknownModule("nolib".into())
    );
    assert_eq!(
        sym.resolve("read+zz").unwrap_err(),
        SymbolError::UnknownSymbol("read+zz".into())
    );
    assert_eq!(
        sym.resolve("0xzz").unwrap_err(),
        SymbolError::BadExpression("0xzz".into())
    );

    // glibc defines _dl_catch_exception in both libc and the dynamic loader.
    match sym.resolve("_dl_catch_exception") {
        Err(SymbolError::Ambiguous { name, candidates }) => {
            assert_eq!(name, "_dl_catch_exception");
            assert!(
                candidates
                    .iter()
                    .any(|c| c.starts_with("libc.so.6!_dl_catch_exception")),
                "{candidates:?}"
            );
            assert!(
                candidates
                    .iter()
                    .any(|c| c.starts_with("ld-linux-x86-64.so.2!")),
                "{candidates:?}"
            );
            let msg = SymbolError::Ambiguous { name, candidates }.to_string();
            assert!(!msg.contains('\n'), "{msg}");
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    let in_libc = sym.resolve("libc.so.6!_dl_catch_exception").unwrap();
    let in_ld = sym
        .resolve("ld-linux-x86-64.so.2!_dl_catch_exception")
        .unwrap();
    assert_ne!(in_libc, in_ld);
    assert!(sym.module_at(in_ld).unwrap().path.contains("ld-linux"));
}

#[test]
fn stripped_copy_falls_back_to_module_plus_offset() {
    let dir = std::env::temp_dir().join(format!("ptscope-symbols-strip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("ptscope-stripped");
    std::fs::copy(EXE, &copy).unwrap();
    let status = std::process::Command::new("strip")
        .arg(&copy)
        .status()
        .expect("strip (binutils) must be installed");
    assert!(status.success());
    let copy_str = copy.to_str().unwrap().to_string();
    assert!(
        object::File::parse(&*std::fs::read(&copy).unwrap())
            .unwrap()
            .section_by_name(".symtab")
            .is_none(),
        "strip left a symtab"
    );

    let t = start_chain(&copy);
    let sym = Symbolizer::new(t.pid).unwrap();
    let mut read = mem_reader(t.pid);
    let bt = with_stopped(t.pid, t.chain_tid, |regs| {
        unwind(&sym, regs, &mut read, MAX_DEPTH)
    });
    std::fs::remove_dir_all(&dir).ok();

    // libc still names its read; the executable's frames have no names, but a module and the
    // offset that the unstripped file's symbols place inside chain_c, chain_b, chain_a.
    let top = &bt.frames[0].location;
    assert!(
        top.function.as_deref().unwrap_or("").ends_with("read"),
        "{top:?}"
    );
    let exe_frames: Vec<_> = bt
        .frames
        .iter()
        .filter(|f| f.location.module.as_deref() == Some(copy_str.as_str()))
        .collect();
    assert!(exe_frames.len() >= 3, "{:#?}", bt.frames);
    for (frame, name) in
        exe_frames
            .iter()
            .zip(["ptscope_chain_c", "ptscope_chain_b", "ptscope_chain_a"])
    {
        let loc = &frame.location;
        assert_eq!(loc.function, None, "{loc:?}");
        assert_eq!(loc.file, None, "{loc:?}");
        let (start, size, _) = elf_symbol(EXE, name);
        // module_offset of a return address: the call inside `name` ends just before it.
        assert!(
            loc.module_offset > start && loc.module_offset <= start + size,
            "{name}: {loc:?}"
        );
        assert_eq!(
            loc.to_string(),
            format!("ptscope-stripped+{:#x}", loc.module_offset)
        );
    }
    assert!(sym.resolve("ptscope_chain_c").is_err());
}

#[test]
fn modules_are_parsed_once_across_stops_and_processes() {
    let a = start_default();
    let b = start_default();
    let cache = ptscope::symbols::ModuleCache::new();
    let mut sa = Symbolizer::with_cache(a.pid, cache.clone()).unwrap();
    // A name lookup parses every mapped module.
    sa.resolve("libc!read").unwrap();
    sa.lookup(None, "ptscope_chain_c").unwrap();
    let parsed = cache.len();
    assert!(parsed >= 3, "exe, libc, ld.so at least: {parsed}");
    assert!(!sa.refresh().unwrap(), "maps unchanged, nothing to redo");

    let sb = Symbolizer::with_cache(b.pid, cache.clone()).unwrap();
    sb.lookup(None, "ptscope_chain_c").unwrap();
    assert_eq!(cache.len(), parsed, "the second process reused every parse");
    let ma = sa
        .module_at(sa.resolve("ptscope_chain_c").unwrap())
        .unwrap();
    let mb = sb
        .module_at(sb.resolve("ptscope_chain_c").unwrap())
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &sa.elf(ma).unwrap(),
        &sb.elf(mb).unwrap()
    ));
}
