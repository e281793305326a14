//! The code and source panes' state: which view of the code is wanted (the selected thread at
//! this stop, in this syntax), the read and the disassembly on their way, the view on screen,
//! the source files read so far, and how far each pane is scrolled.
//!
//! The bytes come from the tracer (`Command::ReadMemory`, which hides our int3 bytes when they
//! are in), the decoding and naming from the symbol worker, the files from the same worker:
//! nothing here does I/O.

use super::threads::ThreadRow;
use crate::disasm::Syntax;
use crate::regs::Registers;
use crate::symbols::SourceFile;
use crate::tracer::event::{Command, MemoryRead};
use crate::tracer::thread::ThreadState;
use crate::ui::code_view::{CodeAsk, CodeKey, CodeView, SourceAsk, AHEAD, BACK};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    Reading,
    Ready(Arc<SourceFile>),
    /// `source not on this machine: PATH`, or why it cannot be shown.
    Missing(String),
}

/// What comes of a failed read of the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterFailedRead {
    /// The bytes before the pc were not readable: read from the pc.
    Read(Command),
    /// Nothing there is readable: the worker still names the place.
    Decode(Box<CodeAsk>),
}

#[derive(Clone, Debug, Default)]
pub struct CodeModel {
    pub syntax: Syntax,
    /// Bumped at every stop, resume and change of breakpoints: a view of an older one is
    /// redone when next wanted.
    pub gen: u64,
    /// The last view made (possibly of another thread, or of the last stop).
    pub view: Option<CodeView>,
    /// The read on its way, and the address it starts at.
    pub reading: Option<(CodeKey, u64)>,
    /// The disassembly on its way.
    pub decoding: Option<CodeKey>,
    /// Source files by the path the line table gives.
    pub sources: HashMap<String, SourceState>,
    /// Lines the code pane is scrolled from where it puts the pc (negative: up).
    pub scroll: isize,
    /// The same for the source pane, from the current line.
    pub source_scroll: isize,
}

impl CodeModel {
    /// A new stop, a resume, or other breakpoints: what is on screen is to be redone.
    pub fn next_generation(&mut self) {
        self.gen += 1;
        self.reading = None;
        self.decoding = None;
    }

    /// The view wanted now: the selected thread's, while the process holds still.
    pub fn key_for(&self, row: Option<&ThreadRow>, stopped: bool) -> Option<CodeKey> {
        let r = row.filter(|_| stopped)?;
        if !matches!(r.state, ThreadState::Stopped | ThreadState::Exiting) {
            return None;
        }
        Some(CodeKey {
            gen: self.gen,
            tid: r.tid,
            pc: r.regs?.rip(),
            syntax: self.syntax,
        })
    }

    /// The read to ask the tracer for, when the wanted view is neither there nor on its way.
    pub fn want(&mut self, row: Option<&ThreadRow>, stopped: bool) -> Option<Command> {
        let key = self.key_for(row, stopped)?;
        let done = self.view.as_ref().is_some_and(|v| v.key == key);
        let on_its_way = self.reading.is_some_and(|(k, _)| k == key) || self.decoding == Some(key);
        if done || on_its_way {
            return None;
        }
        let addr = key.pc.saturating_sub(BACK);
        self.reading = Some((key, addr));
        Some(Command::ReadMemory {
            addr,
            len: (key.pc - addr + AHEAD) as usize,
        })
    }

    /// The thread the read on its way is for.
    pub fn reading_for(&self) -> Option<crate::tracer::thread::Tid> {
        self.reading.map(|(k, _)| k.tid)
    }

    /// A memory read came back: when it is the code's, what to ask the worker.
    /// `regs` are the registers of the thread the read was for, as the model has them.
    pub fn read_arrived(
        &mut self,
        read: &MemoryRead,
        breakpoints: &[u64],
        regs: Option<Registers>,
    ) -> Option<CodeAsk> {
        let (key, _) = self.reading.filter(|(_, a)| *a == read.addr)?;
        self.reading = None;
        self.decoding = Some(key);
        Some(CodeAsk {
            key,
            read: read.clone(),
            breakpoints: breakpoints.to_vec(),
            regs: regs.filter(|r| r.rip() == key.pc),
        })
    }

    /// A read of the code failed (its first page is not readable).
    pub fn read_failed(&mut self, addr: u64, breakpoints: &[u64]) -> Option<AfterFailedRead> {
        let (key, at) = self.reading.filter(|(_, a)| *a == addr)?;
        if at < key.pc {
            self.reading = Some((key, key.pc));
            return Some(AfterFailedRead::Read(Command::ReadMemory {
                addr: key.pc,
                len: AHEAD as usize,
            }));
        }
        self.reading = None;
        self.decoding = Some(key);
        Some(AfterFailedRead::Decode(Box::new(CodeAsk {
            key,
            read: MemoryRead {
                addr: key.pc,
                bytes: Vec::new(),
                requested: AHEAD as usize,
            },
            breakpoints: breakpoints.to_vec(),
            regs: None,
        })))
    }

    /// The worker's view. Returns the source file to read when it names one not asked for.
    pub fn apply(&mut self, view: CodeView) -> Option<SourceAsk> {
        if self.decoding == Some(view.key) {
            self.decoding = None;
        }
        if view.key.gen != self.gen {
            return None;
        }
        let moved = self
            .view
            .as_ref()
            .is_none_or(|v| (v.key.tid, v.key.pc) != (view.key.tid, view.key.pc));
        if moved {
            self.scroll = 0;
            self.source_scroll = 0;
        }
        let ask = view.source.as_ref().and_then(|s| {
            (!self.sources.contains_key(&s.path)).then(|| SourceAsk {
                path: s.path.clone(),
                binary: view.binary.clone(),
            })
        });
        if let Some(a) = &ask {
            self.sources.insert(a.path.clone(), SourceState::Reading);
        }
        self.view = Some(view);
        ask
    }

    pub fn apply_source(&mut self, path: String, result: Result<Arc<SourceFile>, String>) {
        let state = match result {
            Ok(f) => SourceState::Ready(f),
            Err(why) => SourceState::Missing(why),
        };
        self.sources.insert(path, state);
    }

    /// The view of `tid`, if the last one made is of it.
    pub fn view_of(&self, tid: Option<crate::tracer::thread::Tid>) -> Option<&CodeView> {
        self.view.as_ref().filter(|v| Some(v.key.tid) == tid)
    }

    /// The view of exactly what is wanted now (this stop, this thread, this pc).
    pub fn current(&self, row: Option<&ThreadRow>, stopped: bool) -> Option<&CodeView> {
        let key = self.key_for(row, stopped)?;
        self.view
            .as_ref()
            .filter(|v| (v.key.tid, v.key.pc) == (key.tid, key.pc))
    }

    pub fn toggle_syntax(&mut self) {
        self.syntax = self.syntax.toggled();
    }

    pub fn scroll_code(&mut self, by: isize) {
        self.scroll = self.scroll.saturating_add(by).clamp(-512, 512);
    }

    pub fn scroll_source(&mut self, by: isize) {
        self.source_scroll = self
            .source_scroll
            .saturating_add(by)
            .clamp(-100_000, 100_000);
    }
}
