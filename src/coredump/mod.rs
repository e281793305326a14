//! `ptscope core PID`: a core file of a live process that gdb, lldb and eu-stack open like one
//! the kernel wrote, with the process stopped only while its memory is copied.
//!
//! The order of work; the process is stopped from 3 to 5 only:
//! 1. While it runs: its ids, signal masks, CPU times and auxv, and the plan of the copy as
//!    the mappings are now (the same `capture::plan` the stop makes).
//! 2. Create the temporary output file (an unwritable directory fails here, before the
//!    process is touched) and, when the copy fits, prepare the file's pages for that plan
//!    (`mapped`: blocks allocated, a full disk said here, pages mapped and faulted in), or
//!    anonymous memory when the file cannot be mapped so.
//! 3. Read smaps once more, then attach and wait for every thread to stop; decide each
//!    mapping (`filter`) from maps and that smaps read where the mappings are the same (else
//!    from smaps again: 4 ms of pause per 512 MiB it saves, `capture::entries_at_stop`); in
//!    partly written anonymous memory (thread stacks), find the pages ever written
//!    (pagemap): the others are left as holes in the file, as the kernel does.
//! 4. Copy the memory straight into the file's pages (on several threads), or into the
//!    prepared memory, or, when it does not fit in memory, write the whole file now.
//! 5. Detach.
//! 6. Write the headers (and the copy, when it went to memory) and rename the file into place.
//!
//! - `capture`: the reads before and during the stop; `mapped`, `copy`: the memory copy;
//! - `filter`: which mappings the core holds; `model`, `notes`, `elf`: the file's contents;
//! - `output`: the temporary file and its rename.

pub mod capture;
pub mod copy;
pub mod elf;
pub mod error;
pub mod filter;
pub mod mapped;
pub mod model;
pub mod notes;
pub mod output;

pub use error::CoreError;

use crate::procinfo::core_facts::ThreadFacts;
use crate::procinfo::{meminfo, tasks};
use crate::regs::Registers;
use crate::tracer::{Command, Reply, Snapshot, ThreadInfo, ThreadState, Tid, TraceError};
use copy::{Reader, Store, PIECE};
use mapped::MappedData;
use model::{CoreImage, Extent, ProcessNote, RegisterSets, ThreadNote, FPREGS_SIZE, SIGINFO_SIZE};
use output::TempOutput;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Streaming writes the file in pieces this big while the process stays stopped.
const STREAM_PIECE: usize = 8 << 20;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Write the file while the process stays stopped, with no copy in memory (uses no
    /// memory for the copy; pauses the process for as long as the disk takes).
    pub stream: bool,
    /// Set (by a signal handler) to give up: the process is detached, no file is left.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Told, before the pause, when the copy is streamed because it would not fit in memory.
    pub notice: Option<fn(&str)>,
}

/// How the memory reached the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Copied while stopped straight into the file's pages, mapped and prepared before the
    /// stop (`mapped`); only the headers are written after the detach.
    Mapped,
    /// Copied into memory while stopped; written after the detach (when the file cannot be
    /// mapped that way).
    InMemory,
    /// Written while stopped.
    Streamed(StreamReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamReason {
    Asked,
    /// The copy (bytes) would not fit in MemAvailable (bytes) with a margin.
    NoRoom {
        need: u64,
        available: u64,
    },
}

#[derive(Clone, Debug)]
pub struct Summary {
    pub path: PathBuf,
    /// The file's size; holes (never-written memory) take no disk space.
    pub bytes: u64,
    /// The memory copied from the process.
    pub copied: u64,
    /// The threads written, in note order (the first is the one gdb selects), with the
    /// registers ptscope read.
    pub threads: Vec<(Tid, Registers)>,
    /// Threads not written: a zombie leader, or a thread that did not stop in time.
    pub left_out: Vec<Tid>,
    pub mappings_written: usize,
    pub mappings_skipped: usize,
    /// Pages inside dumped mappings that could not be read (written as zeros).
    pub unreadable_pages: u64,
    /// From the start to just before the attach: the reads while running, the temporary
    /// file, the memory prepared for the copy.
    pub before: Duration,
    /// From just before the attach to just after the detach.
    pub pause: Duration,
    /// The whole command.
    pub elapsed: Duration,
    pub method: Method,
}

/// gcore's default name: `core.PID` in the current directory.
pub fn default_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("core.{pid}"))
}

/// An existing directory as the output means `DIR/core.PID`.
pub fn resolve_path(pid: i32, output: Option<&Path>) -> PathBuf {
    match output {
        Some(p) if p.is_dir() => p.join(default_path(pid)),
        Some(p) => p.to_path_buf(),
        None => default_path(pid),
    }
}

fn check_cancel(opts: &Options) -> Result<(), CoreError> {
    match &opts.cancel {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(CoreError::Interrupted),
        _ => Ok(()),
    }
}

/// What the copy needs beside itself before it counts as fitting: an eighth more, and 64 MiB
/// for everyone else.
fn fits(need: u64, available: u64) -> bool {
    need.saturating_add(need / 8).saturating_add(64 << 20) <= available
}

/// Takes the core of `pid` into `path`. On any error the process is detached and running as
/// before and no file is left behind (neither `path` nor the temporary one).
pub fn take(pid: i32, path: &Path, opts: &Options) -> Result<Summary, CoreError> {
    let started = Instant::now();
    if tasks::tgid_of(pid).is_none() {
        return Err(TraceError::NoSuchProcess(pid).into());
    }
    let out = TempOutput::create(path)?;
    let mut before = capture::before_stop(pid)?;
    let reserve = header_reserve(&before);
    let (method, mut dest) = prepare_copy(&mut before, reserve, &out, opts)?;
    check_cancel(opts)?;

    let recent = capture::just_before_stop(before.view);
    let pause_start = Instant::now();
    let (handle, snapshot) = capture::stop(pid)?;
    // Three ptrace requests per thread on the tracer thread; a failure leaves the sets out
    // (gdb then shows the general registers only), it does not fail the core.
    let sets = match handle.call(Command::ReadRegisterSets) {
        Ok(Reply::RegisterSets(v)) => v.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let (threads, left_out) = thread_notes(&snapshot, &before.threads, sets);
    let Some(view) = threads.first().map(|_| live_view(pid, &threads)) else {
        // Threads at their exit (a SIGKILL, exit_group) or gone: the process is dying.
        let dying = snapshot
            .threads
            .iter()
            .any(|t| matches!(t.state, ThreadState::Exiting | ThreadState::Exited));
        return Err(match dying || process_gone(pid) {
            true => CoreError::Exited(pid),
            false => CoreError::NothingStopped(pid),
        });
    };
    let reader = Reader::new(view);
    let filter = before.process.coredump_filter;
    let mut plan = capture::plan(pid, view, filter, &reader, recent.as_deref())?;
    let copied = plan.copied();
    let image = CoreImage {
        process: process_note(&before.process),
        threads,
        auxv: before.auxv,
        files: std::mem::take(&mut plan.files),
        segments: std::mem::take(&mut plan.segments),
    };
    let layout = match &dest {
        Destination::Mapped(_) => elf::layout_at(&image, reserve),
        _ => elf::layout(&image),
    };
    let data_at = layout.data_at;
    let (pause, unreadable_pages) = match &mut dest {
        Destination::Mapped(data) => {
            let unreadable = data.copy(&reader, &plan.extents, data_at, &out, opts)?;
            capture::still_held(pid, &handle, &snapshot)?;
            handle.shutdown()?;
            let pause = pause_start.elapsed();
            out.write_at(0, &layout.headers)?;
            (pause, unreadable)
        }
        Destination::Memory(store) => {
            let unreadable = copy_all(&reader, &plan.extents, store, opts)?;
            capture::still_held(pid, &handle, &snapshot)?;
            handle.shutdown()?;
            let pause = pause_start.elapsed();
            out.write_at(0, &layout.headers)?;
            write_copied(store, &plan.extents, data_at, &out, opts)?;
            (pause, unreadable)
        }
        Destination::Stream => {
            out.write_at(0, &layout.headers)?;
            let unreadable = stream_all(&reader, &plan.extents, data_at, &out, opts)?;
            capture::still_held(pid, &handle, &snapshot)?;
            handle.shutdown()?;
            (pause_start.elapsed(), unreadable)
        }
    };
    // Unmapped before the file is cut to its final length and closed.
    drop(dest);
    out.set_len(layout.file_len())?;
    let path = out.commit()?;
    let written = image.segments.iter().filter(|s| s.dump_len > 0).count();
    Ok(Summary {
        path,
        bytes: layout.file_len(),
        copied,
        threads: image.threads.iter().map(|t| (t.tid, t.regs)).collect(),
        left_out,
        mappings_written: written,
        mappings_skipped: image.segments.len() - written,
        unreadable_pages,
        before: pause_start.duration_since(started),
        pause,
        elapsed: started.elapsed(),
        method,
    })
}

/// Where the copy goes while the process is stopped.
enum Destination {
    Mapped(MappedData),
    Memory(Store),
    Stream,
}

/// Room for the headers before the data area, chosen before the stop: the headers of the
/// threads and files seen now, each thread with every register set at its largest, half as
/// much again and 64 KiB for threads and mappings that appear meanwhile. (More than that
/// still makes a right core, only slower: see `mapped`.) A hole in the file, not disk space.
fn header_reserve(before: &capture::Before) -> u64 {
    let Some(plan) = &before.plan else {
        return 0;
    };
    let sets = RegisterSets {
        fpregs: Some(Box::new([0; FPREGS_SIZE])),
        xstate: Some(vec![0; crate::tracer::regsets::xsave_size()]),
        siginfo: Some(Box::new([0; SIGINFO_SIZE])),
    };
    let threads = before
        .threads
        .keys()
        .map(|&tid| ThreadNote {
            tid,
            regs: Registers::default(),
            cursig: 0,
            sigpend: 0,
            sighold: 0,
            times: Default::default(),
            sets: sets.clone(),
        })
        .collect();
    let image = CoreImage {
        process: process_note(&before.process),
        threads,
        auxv: before.auxv.clone(),
        files: plan.files.clone(),
        segments: plan.segments.clone(),
    };
    let est = elf::layout(&image).data_at;
    (est + est / 2 + (64 << 10)).next_multiple_of(4096)
}

/// Straight into the file when the copy fits MemAvailable with a margin (the file's pages
/// prepared before the stop), in memory when the file cannot be mapped so (that memory
/// prepared, faulted in, before the stop), else streamed; streamed when asked.
fn prepare_copy(
    before: &mut capture::Before,
    reserve: u64,
    out: &TempOutput,
    opts: &Options,
) -> Result<(Method, Destination), CoreError> {
    let estimate = before.estimate;
    let no_room = |available| {
        Method::Streamed(StreamReason::NoRoom {
            need: estimate,
            available,
        })
    };
    let method = match (opts.stream, meminfo::mem_available()) {
        (true, _) => return Ok((Method::Streamed(StreamReason::Asked), Destination::Stream)),
        (false, Some(available)) if !fits(estimate, available) => no_room(available),
        (false, _) => {
            let planned = before.plan.as_ref().map(|p| &p.extents[..]);
            if let Some(data) = match planned {
                Some(x) if reserve > 0 => MappedData::prepare(out, x, reserve)?,
                _ => None,
            } {
                return Ok((Method::Mapped, Destination::Mapped(data)));
            }
            // Room for some growth between now and the stop; more is added (cold) if needed.
            let room = estimate + estimate / 32 + (4 << 20);
            match Store::prepare(room as usize) {
                Ok(store) => return Ok((Method::InMemory, Destination::Memory(store))),
                Err(_) => no_room(meminfo::mem_available().unwrap_or(0)),
            }
        }
    };
    if let (Method::Streamed(StreamReason::NoRoom { need, available }), Some(notice)) =
        (method, opts.notice)
    {
        notice(&format!(
            "the copy ({}) would not fit in available memory ({}): writing the file while \
             the process stays stopped",
            mib(need),
            mib(available)
        ));
    }
    Ok((method, Destination::Stream))
}

/// Copies every extent into the store, in order; returns the pages that had to be
/// zero-filled.
fn copy_all(
    reader: &Reader,
    extents: &[Extent],
    store: &mut Store,
    opts: &Options,
) -> Result<u64, CoreError> {
    let mut unreadable = 0;
    for x in extents {
        let mut at = x.addr;
        let end = x.addr + x.len;
        while at < end {
            check_cancel(opts)?;
            let want = ((end - at) as usize).min(PIECE);
            let room = store.room(want)?;
            let got = room.len();
            unreadable += reader.fill(at, room)?;
            store.commit(got);
            at += got as u64;
        }
    }
    Ok(unreadable)
}

/// Writes the store's bytes (the extents, in order, back to back) where each extent goes.
fn write_copied(
    store: &Store,
    extents: &[Extent],
    data_at: u64,
    out: &TempOutput,
    opts: &Options,
) -> Result<(), CoreError> {
    let mut chunks = store.chunks();
    let mut current: &[u8] = &[];
    for x in extents {
        let mut at = data_at + x.at;
        let mut left = x.len as usize;
        while left > 0 {
            if current.is_empty() {
                current = chunks
                    .next()
                    .ok_or(CoreError::Internal("the copy is shorter than its extents"))?;
                continue;
            }
            check_cancel(opts)?;
            let n = left.min(current.len()).min(PIECE);
            out.write_at(at, &current[..n])?;
            current = &current[n..];
            at += n as u64;
            left -= n;
        }
    }
    Ok(())
}

/// Writes every extent to the file, read piece by piece; returns the pages that had to be
/// zero-filled.
fn stream_all(
    reader: &Reader,
    extents: &[Extent],
    data_at: u64,
    out: &TempOutput,
    opts: &Options,
) -> Result<u64, CoreError> {
    let mut buf = vec![0u8; STREAM_PIECE];
    let mut unreadable = 0;
    for x in extents {
        let mut done = 0;
        while done < x.len {
            check_cancel(opts)?;
            let len = ((x.len - done) as usize).min(STREAM_PIECE);
            unreadable += reader.fill(x.addr + done, &mut buf[..len])?;
            out.write_at(data_at + x.at + done, &buf[..len])?;
            done += len as u64;
        }
    }
    Ok(unreadable)
}

/// The thread notes, first the one a debugger should select (holding a signal, else the
/// leader), and the threads left out (no registers: a zombie leader, or not stopped in time).
fn thread_notes(
    snap: &Snapshot,
    facts: &BTreeMap<Tid, ThreadFacts>,
    mut sets: BTreeMap<Tid, RegisterSets>,
) -> (Vec<ThreadNote>, Vec<Tid>) {
    let usable = |t: &ThreadInfo| !t.zombie && t.state == ThreadState::Stopped && t.regs.is_some();
    let mut notes = Vec::new();
    let mut left_out = Vec::new();
    for t in &snap.threads {
        let Some(regs) = t.regs.filter(|_| usable(t)) else {
            left_out.push(t.tid);
            continue;
        };
        let f = facts.get(&t.tid).copied().unwrap_or(ThreadFacts {
            tid: t.tid,
            ..ThreadFacts::default()
        });
        notes.push(ThreadNote {
            tid: t.tid,
            regs,
            cursig: t.pending_signal.unwrap_or(0),
            sigpend: f.pending,
            sighold: f.blocked,
            times: f.times,
            // NT_PRFPREG, NT_X86_XSTATE and the held signal's NT_SIGINFO, read by the tracer
            // thread (`Command::ReadRegisterSets`).
            sets: sets.remove(&t.tid).unwrap_or_default(),
        });
    }
    let first = notes
        .iter()
        .position(|t| t.cursig != 0)
        .or_else(|| notes.iter().position(|t| t.tid == snap.pid));
    if let Some(i) = first {
        let t = notes.remove(i);
        notes.insert(0, t);
    }
    (notes, left_out)
}

/// Every thread exited (or was killed) and only zombies are left, if anything.
fn process_gone(pid: i32) -> bool {
    tasks::list_tids(pid).map_or(true, |tids| {
        tids.iter().all(|&t| tasks::thread_is_zombie(pid, t))
    })
}

/// A thread whose view of the memory is live: the leader unless it is a zombie.
fn live_view(pid: i32, threads: &[ThreadNote]) -> i32 {
    if threads.iter().any(|t| t.tid == pid) {
        pid
    } else {
        threads.first().map_or(pid, |t| t.tid)
    }
}

fn process_note(p: &crate::procinfo::core_facts::ProcessFacts) -> ProcessNote {
    ProcessNote {
        pid: p.pid,
        ppid: p.ppid,
        pgrp: p.pgrp,
        sid: p.sid,
        uid: p.uid,
        gid: p.gid,
        state: p.state,
        nice: p.nice,
        flags: p.flags,
        comm: p.comm.clone(),
        cmdline: p.cmdline.clone(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// The stderr line after a core was written.
pub fn summary_line(s: &Summary) -> String {
    let how = match s.method {
        Method::Mapped | Method::InMemory => "",
        Method::Streamed(_) => " (written while stopped)",
    };
    let mut line = format!(
        "wrote {} ({}, {} copied): {} threads, {} mappings ({} with contents), process paused \
         {:.1} ms{how}, {:.2} s in all",
        s.path.display(),
        mib(s.bytes),
        mib(s.copied),
        s.threads.len(),
        s.mappings_written + s.mappings_skipped,
        s.mappings_written,
        s.pause.as_secs_f64() * 1000.0,
        s.elapsed.as_secs_f64()
    );
    if !s.left_out.is_empty() {
        let tids: Vec<String> = s.left_out.iter().map(|t| t.to_string()).collect();
        line.push_str(&format!(
            "; threads without registers, not written: {}",
            tids.join(", ")
        ));
    }
    if s.unreadable_pages > 0 {
        line.push_str(&format!(
            "; {} unreadable pages written as zeros",
            s.unreadable_pages
        ));
    }
    line
}

/// The command: one summary line on stderr and exit 0, or one error line and exit 1.
pub fn run(pid: i32, output: Option<&Path>, stream: bool) -> i32 {
    // SIGINT, SIGTERM or SIGHUP during the core: stop at the next piece, detach, remove the
    // temporary file. (Dying at once would leave the file; the kernel would detach.)
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let _ = signal_hook::flag::register(sig, cancel.clone());
    }
    let opts = Options {
        stream,
        cancel: Some(cancel),
        notice: Some(|m| eprintln!("ptscope: {m}")),
    };
    let path = resolve_path(pid, output);
    match take(pid, &path, &opts) {
        Ok(s) => {
            eprintln!("ptscope: {}", summary_line(&s));
            0
        }
        Err(e) => {
            eprintln!("ptscope: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests;
