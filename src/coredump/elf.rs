//! The ELF64 container of a core: file header, program headers (PT_NOTE, then one PT_LOAD per
//! mapping), the notes, then the memory of each segment that holds any, page-aligned, in
//! segment order. The header structures are the `object` crate's; the layout is ours and is
//! the kernel's: the data starts at the first page boundary after the notes (or later, at a
//! boundary chosen before the notes were known, with a hole between) and every
//! segment's p_offset is the running sum of the file sizes before it.

use super::model::CoreImage;
use super::notes;
use object::elf::{FileHeader64, ProgramFlags, ProgramHeader64, ProgramType, SectionHeader64};
use object::endian::{LittleEndian as LE, U16, U32, U64};
use object::pod::bytes_of;

const PAGE: u64 = 4096;
const EHDR_SIZE: u64 = std::mem::size_of::<FileHeader64<LE>>() as u64;
const PHDR_SIZE: u64 = std::mem::size_of::<ProgramHeader64<LE>>() as u64;
const SHDR_SIZE: u64 = std::mem::size_of::<SectionHeader64<LE>>() as u64;

/// Everything before the memory: write `headers`, then from `data_at` the segments' bytes in
/// order (`data_len` in all, each segment exactly its `dump_len`). Between the two, zeros (a
/// hole).
pub struct Layout {
    pub headers: Vec<u8>,
    pub data_at: u64,
    pub data_len: u64,
}

impl Layout {
    pub fn file_len(&self) -> u64 {
        self.data_at + self.data_len
    }
}

fn u64(v: u64) -> U64<LE> {
    U64::new(LE, v)
}

fn program_header(
    kind: ProgramType,
    flags: u32,
    offset: u64,
    vaddr: u64,
    sizes: (u64, u64),
    align: u64,
) -> ProgramHeader64<LE> {
    ProgramHeader64 {
        p_type: U32::new(LE, kind),
        p_flags: U32::new(LE, ProgramFlags(flags)),
        p_offset: u64(offset),
        p_vaddr: u64(vaddr),
        p_paddr: u64(0),
        p_filesz: u64(sizes.0),
        p_memsz: u64(sizes.1),
        p_align: u64(align),
    }
}

pub fn layout(image: &CoreImage) -> Layout {
    layout_at(image, 0)
}

/// The layout with the data starting at `min_data_at` (page-aligned) or, when the headers
/// need more room than that, at the first page boundary after them. `ptscope core` places
/// the data area before the stop, when the final headers are not yet known.
pub fn layout_at(image: &CoreImage, min_data_at: u64) -> Layout {
    use object::elf::*;
    let notes = notes::build(image);
    let phnum = 1 + image.segments.len() as u64;
    // More program headers than e_phnum can count: e_phnum says PN_XNUM and section
    // header 0 carries the real number in sh_info (elf(5)), as the kernel writes it.
    let extended = phnum >= u64::from(PN_XNUM);
    let shdr_at = EHDR_SIZE + phnum * PHDR_SIZE;
    let notes_at = shdr_at + if extended { SHDR_SIZE } else { 0 };
    let headers_end = (notes_at + notes.len() as u64).next_multiple_of(PAGE);
    let data_at = headers_end.max(min_data_at.next_multiple_of(PAGE));

    let header = FileHeader64::<LE> {
        e_ident: Ident {
            magic: ELFMAG,
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            version: EV_CURRENT,
            os_abi: ELFOSABI_NONE,
            abi_version: 0,
            padding: [0; 7],
        },
        e_type: U16::new(LE, ET_CORE),
        e_machine: U16::new(LE, EM_X86_64),
        e_version: U32::new(LE, u32::from(EV_CURRENT.0)),
        e_entry: u64(0),
        e_phoff: u64(EHDR_SIZE),
        e_shoff: u64(if extended { shdr_at } else { 0 }),
        e_flags: U32::new(LE, FileFlags(0)),
        e_ehsize: U16::new(LE, EHDR_SIZE as u16),
        e_phentsize: U16::new(LE, PHDR_SIZE as u16),
        e_phnum: U16::new(LE, if extended { PN_XNUM } else { phnum as u16 }),
        e_shentsize: U16::new(LE, if extended { SHDR_SIZE as u16 } else { 0 }),
        e_shnum: U16::new(LE, u16::from(extended)),
        e_shstrndx: U16::new(LE, SHN_UNDEF),
    };

    let mut out = Vec::with_capacity(headers_end as usize);
    out.extend_from_slice(bytes_of(&header));
    let note = program_header(PT_NOTE, 0, notes_at, 0, (notes.len() as u64, 0), 4);
    out.extend_from_slice(bytes_of(&note));
    let mut offset = data_at;
    for s in &image.segments {
        let ph = program_header(
            PT_LOAD,
            s.flags,
            offset,
            s.start,
            (s.dump_len, s.len()),
            PAGE,
        );
        out.extend_from_slice(bytes_of(&ph));
        offset += s.dump_len;
    }
    if extended {
        let sh = SectionHeader64::<LE> {
            sh_name: U32::new(LE, 0),
            sh_type: U32::new(LE, SHT_NULL),
            sh_flags: U64::new(LE, SectionFlags(0)),
            sh_addr: u64(0),
            sh_offset: u64(0),
            sh_size: u64(1),
            sh_link: U32::new(LE, u32::from(SHN_UNDEF.0)),
            sh_info: U32::new(LE, phnum as u32),
            sh_addralign: u64(0),
            sh_entsize: u64(0),
        };
        out.extend_from_slice(bytes_of(&sh));
    }
    out.extend_from_slice(&notes);
    out.resize(headers_end as usize, 0);
    Layout {
        headers: out,
        data_at,
        data_len: offset - data_at,
    }
}
