//! The three moments of a core: what is read while the process still runs (its ids, masks,
//! CPU times, auxv, and a plan of the copy to prepare the file for), the all-stop, and
//! what is read while every thread holds still (the mappings, and then their memory).

use super::copy::Reader;
use super::error::CoreError;
use super::filter::{self, Dump};
use super::model::{Extent, FileNote, Segment};
use crate::procinfo::core_facts::{self, ProcessFacts, ThreadFacts};
use crate::procinfo::maps;
use crate::procinfo::pagemap::Pagemap;
use crate::procinfo::smaps::{self, SmapsEntry, VmFlags};
use crate::procinfo::{auxv, tasks};
use crate::tracer::{
    EventKind, Options, ProcessState, Snapshot, ThreadState, Tid, TraceError, TracerHandle,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long to wait for every thread to stop. A thread in uninterruptible sleep (D) stops
/// only when its system call returns; the core is taken without it rather than not at all.
const STOP_DEADLINE: Duration = Duration::from_secs(2);
const PAGE: u64 = 4096;

/// What is read before the stop.
pub struct Before {
    pub process: ProcessFacts,
    pub threads: BTreeMap<Tid, ThreadFacts>,
    pub auxv: Vec<u8>,
    /// The bytes the copy would take if the mappings stay as they are now.
    pub estimate: u64,
    /// The plan if the mappings stay as they are now (None: smaps unreadable).
    pub plan: Option<Plan>,
    /// The thread the memory-wide files were read through (the leader unless a zombie).
    pub view: i32,
}

pub fn before_stop(pid: i32) -> Result<Before, CoreError> {
    let tids = tasks::list_tids(pid).map_err(CoreError::proc("thread list", pid))?;
    // The memory-wide files (cmdline, auxv, smaps) of a zombie leader are empty: read them
    // through a live thread.
    let view = match tasks::thread_is_zombie(pid, pid) {
        true => tids.iter().copied().find(|&t| t != pid).unwrap_or(pid),
        false => pid,
    };
    let process = core_facts::process_facts(pid, view).map_err(CoreError::proc("status", pid))?;
    let threads = core_facts::thread_facts(pid, &tids)
        .map_err(CoreError::proc("threads", pid))?
        .into_iter()
        .map(|t| (t.tid, t))
        .collect();
    // Unreadable for a kernel thread (ESRCH) and for a process we may not trace: the attach
    // that follows says which, in the tracer's words.
    let auxv = auxv::read_auxv(view).unwrap_or_default();
    // The mappings as they are now, planned as at the stop: the output file's pages are
    // prepared for this plan (`mapped`), and the stop's own plan usually matches it.
    let plan = plan(pid, view, process.coredump_filter, &Reader::new(view), None).ok();
    let estimate = plan.as_ref().map_or(0, Plan::copied);
    Ok(Before {
        process,
        threads,
        auxv,
        estimate,
        plan,
        view,
    })
}

/// Attaches and waits (bounded) for every thread to stop. Dropping the handle detaches.
pub fn stop(pid: i32) -> Result<(TracerHandle, Snapshot), CoreError> {
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let handle = TracerHandle::attach(pid, opts)?;
    let deadline = Instant::now() + STOP_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match handle.events().recv_timeout(left) {
            Ok(ev) => match ev.kind {
                EventKind::AllStopped(s) => return stopped(pid, handle, *s),
                EventKind::ProcessExited(_) => return Err(CoreError::Exited(pid)),
                _ => {}
            },
            Err(_) => break,
        }
    }
    // Not every thread stopped in time: take those that did.
    match handle.snapshot() {
        Ok(s) => stopped(pid, handle, s),
        // The tracer thread ends when the process does.
        Err(TraceError::ProcessExited | TraceError::TracerGone) => Err(CoreError::Exited(pid)),
        Err(e) => Err(e.into()),
    }
}

fn stopped(
    pid: i32,
    handle: TracerHandle,
    snap: Snapshot,
) -> Result<(TracerHandle, Snapshot), CoreError> {
    match snap.state {
        ProcessState::Exited { .. } => Err(CoreError::Exited(pid)),
        _ => Ok((handle, snap)),
    }
}

/// Fails when a thread the stop held is now at its exit: only SIGKILL (or a death the kernel
/// forces) moves a thread while the tracer holds every thread, so the process was killed
/// under us. Its memory stays readable until we let go (a thread at PTRACE_EVENT_EXIT still
/// has it), which would make the copy look fine: ask.
pub fn still_held(pid: i32, handle: &TracerHandle, at_stop: &Snapshot) -> Result<(), CoreError> {
    let ending = |s: &Snapshot| -> Vec<Tid> {
        s.threads
            .iter()
            .filter(|t| matches!(t.state, ThreadState::Exiting | ThreadState::Exited))
            .map(|t| t.tid)
            .collect()
    };
    match handle.snapshot() {
        Ok(now) if matches!(now.state, ProcessState::Exited { .. }) => Err(CoreError::Exited(pid)),
        Ok(now) => {
            let before = ending(at_stop);
            match ending(&now).iter().any(|t| !before.contains(t)) {
                true => Err(CoreError::Exited(pid)),
                false => Ok(()),
            }
        }
        Err(TraceError::ProcessExited | TraceError::TracerGone) => Err(CoreError::Exited(pid)),
        Err(e) => Err(e.into()),
    }
}

/// The mappings as they are while stopped, how much of each the file holds, and which of
/// those bytes must be copied.
pub struct Plan {
    pub segments: Vec<Segment>,
    pub files: Vec<FileNote>,
    pub extents: Vec<Extent>,
}

impl Plan {
    /// The bytes to copy (the file's data area is larger by its holes).
    pub fn copied(&self) -> u64 {
        self.extents.iter().map(|e| e.len).sum()
    }
}

/// Private anonymous memory (the heap, stacks, anonymous mmap): a page never written there
/// is not in memory nor in swap, and holds zeros. Not the kernel's special mappings ([vdso]
/// pages are code even before they are first touched), nor shared memory (another process
/// may have written a page this one never touched), nor files (an untouched page holds the
/// file's bytes).
fn zero_when_unwritten(e: &SmapsEntry) -> bool {
    let m = &e.mapping;
    let anonymous_name = m.path.is_empty()
        || m.path == "[heap]"
        || m.path.starts_with("[stack")
        || m.path.starts_with("[anon:");
    m.perms[3] == b'p' && m.inode == 0 && anonymous_name
}

/// The mappings read a moment before the stop (smaps: ~4 ms for 512 MiB of touched heap, a
/// walk of every page table), for the stop's own plan to start from. None: unreadable.
pub fn just_before_stop(view: i32) -> Option<Vec<SmapsEntry>> {
    smaps::read_smaps(view).ok()
}

/// Decides each mapping as it is at the stop (through `view`, a live thread); a file's first
/// page is read here to see whether it starts with an ELF header. With `recent` (smaps read
/// just before the stop) and PAGEMAP_SCAN, what the stop reads is only maps and the page
/// kinds that can have changed (`entries_at_stop`); otherwise smaps again.
pub fn plan(
    pid: i32,
    view: i32,
    filter: u32,
    reader: &Reader,
    recent: Option<&[SmapsEntry]>,
) -> Result<Plan, CoreError> {
    // Without pagemap (an unusual kernel), every dumped byte is copied: never wrong, only
    // slower.
    let pagemap = Pagemap::open(view).ok();
    let quick = match (recent, &pagemap) {
        (Some(recent), Some(map)) => entries_at_stop(view, recent, map),
        _ => None,
    };
    let entries = match quick {
        Some(entries) => entries,
        None => smaps::read_smaps(view).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CoreError::Exited(pid)
            } else {
                CoreError::Proc {
                    what: "smaps",
                    pid,
                    source: e,
                }
            }
        })?,
    };
    plan_from(&entries, filter, reader, pagemap.as_ref())
}

/// The smaps entries at the stop without reading smaps again, when maps (0.1 ms) shows the
/// very mappings `recent` shows. What smaps adds to maps is then taken from `recent`, where
/// it cannot have changed, or asked of the page tables, where it can:
/// - written private pages (Anonymous + Swap): a mapping with none in `recent` is asked
///   (PAGEMAP_SCAN); one with some keeps the answer, as the kernel's own test (`anon_vma`,
///   set at the first write) never goes back either;
/// - VmFlags: from `recent`. The ones the filter reads are fixed when a mapping is made,
///   except do-not-dump: a madvise(MADV_DONTDUMP or DODUMP) of a whole mapping (one that
///   does not split it) in the moment between that read and the stop is not seen.
///
/// None (read smaps) when anything differs, or when a mapping must be asked and the kernel has
/// no PAGEMAP_SCAN.
pub(super) fn entries_at_stop(
    view: i32,
    recent: &[SmapsEntry],
    pagemap: &Pagemap,
) -> Option<Vec<SmapsEntry>> {
    let now = maps::read_maps(view).ok()?;
    if now.len() != recent.len() {
        return None;
    }
    let mut out = Vec::with_capacity(recent.len());
    for (m, r) in now.into_iter().zip(recent) {
        if m != r.mapping {
            return None;
        }
        let mut e = r.clone();
        // The filter leaves out what cannot be read ([vsyscall], guard pages) without asking.
        let private = m.perms[3] == b'p' && !e.flags.contains(VmFlags::SHARED);
        if private
            && m.readable()
            && e.private_written_kb == 0
            && pagemap.has_private_written(m.start, m.end).ok()??
        {
            // At least one page; `plan_from` asks pagemap which.
            e.private_written_kb = PAGE / 1024;
        }
        out.push(e);
    }
    Some(out)
}

fn plan_from(
    entries: &[SmapsEntry],
    filter: u32,
    reader: &Reader,
    pagemap: Option<&Pagemap>,
) -> Result<Plan, CoreError> {
    let mut segments = Vec::with_capacity(entries.len());
    let mut files = Vec::new();
    let mut extents = Vec::new();
    let mut data_at = 0;
    for e in entries {
        let m = &e.mapping;
        let dump_len = match filter::decide(e, filter) {
            Dump::Whole => m.end - m.start,
            Dump::HeaderPage => {
                let mut magic = [0u8; 4];
                reader.fill(m.start, &mut magic)?;
                if &magic == b"\x7fELF" {
                    PAGE.min(m.end - m.start)
                } else {
                    0
                }
            }
            Dump::Nothing(_) => 0,
        };
        let whole = Extent {
            addr: m.start,
            len: dump_len,
            at: data_at,
        };
        // Where pagemap is read page by page (1.4-2.7 ms per 512 MiB), a mapping smaps
        // shows all written is taken whole; PAGEMAP_SCAN is cheap enough to ask anyway.
        let fully_written =
            e.private_written_kb * 1024 >= m.end - m.start && !pagemap.is_some_and(Pagemap::scans);
        match pagemap {
            Some(map) if dump_len > 0 && zero_when_unwritten(e) && !fully_written => {
                let runs = map.resident_runs(m.start, m.start + dump_len);
                match runs {
                    Ok(runs) => extents.extend(runs.into_iter().map(|(a, b)| Extent {
                        addr: a,
                        len: b - a,
                        at: data_at + (a - m.start),
                    })),
                    Err(_) => extents.push(whole),
                }
            }
            _ if dump_len > 0 => extents.push(whole),
            _ => {}
        }
        data_at += dump_len;
        segments.push(Segment {
            start: m.start,
            end: m.end,
            flags: Segment::flags_from_perms(&m.perms),
            dump_len,
        });
        if m.is_file() {
            files.push(FileNote {
                start: m.start,
                end: m.end,
                page_offset: m.offset / PAGE,
                path: m.path.as_bytes().to_vec(),
            });
        }
    }
    Ok(Plan {
        segments,
        files,
        extents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procinfo::core_facts::DEFAULT_COREDUMP_FILTER;
    use crate::procinfo::sched;

    #[test]
    fn plan_of_our_own_process_keeps_the_elf_header_of_our_binary() {
        let me = std::process::id() as i32;
        let reader = Reader::new(me);
        let entries = smaps::read_smaps(me).unwrap();
        let pagemap = Pagemap::open(me).unwrap();
        let plan = plan_from(&entries, DEFAULT_COREDUMP_FILTER, &reader, Some(&pagemap)).unwrap();
        assert_eq!(plan.segments.len(), entries.len());
        let exe = std::env::current_exe().unwrap();
        let exe = exe.to_string_lossy();
        let first = plan
            .files
            .iter()
            .find(|f| f.path == exe.as_bytes() && f.page_offset == 0)
            .expect("our binary's first mapping is in NT_FILE");
        let (seg, e) = plan
            .segments
            .iter()
            .zip(&entries)
            .find(|(s, _)| s.start == first.start)
            .unwrap();
        // Its header page, or all of it if relocations wrote to it.
        let want = if e.private_written_kb == 0 {
            PAGE
        } else {
            seg.len()
        };
        assert_eq!(seg.dump_len, want, "{seg:?}");
        let stack = plan
            .segments
            .iter()
            .zip(&entries)
            .find(|(_, e)| e.mapping.path == "[stack]")
            .map(|(s, _)| *s)
            .unwrap();
        assert_eq!(stack.dump_len, stack.end - stack.start);
        // The page under a live local is copied; each extent sits at its segment's data
        // offset plus its distance from the segment start.
        let local = 7u64;
        let here = std::hint::black_box(&local) as *const u64 as u64;
        assert!(plan
            .extents
            .iter()
            .any(|x| x.addr <= here && here < x.addr + x.len));
        let mut data_at = 0;
        let mut starts = Vec::new();
        for s in &plan.segments {
            starts.push((s.start, s.start + s.dump_len, data_at));
            data_at += s.dump_len;
        }
        for x in &plan.extents {
            let (start, _, at) = starts
                .iter()
                .find(|(a, b, _)| *a <= x.addr && x.addr + x.len <= *b)
                .copied()
                .expect("an extent lies inside one segment's dumped bytes");
            assert_eq!(x.at, at + (x.addr - start));
        }
        assert!(plan.copied() <= data_at);
    }

    /// A child stopped with SIGSTOP: its mappings hold still while the test reads them.
    struct Stopped(std::process::Child);

    impl Stopped {
        fn start() -> Stopped {
            let child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            // Its mappings are complete once it sleeps (state S), then it is stopped.
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut buf = Vec::new();
            let mut state = || sched::state_and_cpu(pid, pid, &mut buf).map(|(s, _)| s);
            while state() != Some('S') {
                assert!(Instant::now() < deadline, "sleep never went to sleep");
                std::thread::yield_now();
            }
            // SAFETY: kill(2) with plain integers, to our own child.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
            while state() != Some('T') {
                assert!(Instant::now() < deadline, "sleep never stopped");
                std::thread::yield_now();
            }
            Stopped(child)
        }

        fn pid(&self) -> i32 {
            self.0.id() as i32
        }
    }

    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn the_plan_from_maps_and_an_earlier_smaps_is_the_plan_from_smaps() {
        let child = Stopped::start();
        let pid = child.pid();
        let reader = Reader::new(pid);
        let recent = just_before_stop(pid).unwrap();
        let pagemap = Pagemap::open(pid).unwrap();
        let quick = entries_at_stop(pid, &recent, &pagemap).expect("the quick way was taken");
        assert_eq!(quick, recent, "nothing changed in a stopped process");
        let slow = plan(pid, pid, DEFAULT_COREDUMP_FILTER, &reader, None).unwrap();
        let fast = plan(pid, pid, DEFAULT_COREDUMP_FILTER, &reader, Some(&recent)).unwrap();
        assert_eq!(fast.segments, slow.segments);
        assert_eq!(fast.extents, slow.extents);
        assert!(slow.copied() > 0);
        // A mapping gone since: smaps is read again.
        assert!(entries_at_stop(pid, &recent[1..], &pagemap).is_none());
        let mut moved = recent.clone();
        moved[0].mapping.end += PAGE;
        assert!(entries_at_stop(pid, &moved, &pagemap).is_none());
    }

    #[test]
    fn memory_written_after_the_earlier_smaps_read_is_seen_at_the_stop() {
        let me = std::process::id() as i32;
        let pagemap = Pagemap::open(me).unwrap();
        let len = 4 * PAGE as usize;
        // Other tests of this process map memory too (thread stacks): then the mappings
        // differ and the quick way is not taken; try until one round sees the same mappings.
        for _ in 0..50 {
            let start = crate::procinfo::pagemap::fresh_anonymous(len);
            let recent = smaps::read_smaps(me).unwrap();
            // SAFETY: inside the mapping made above.
            unsafe { std::ptr::write_volatile((start + PAGE) as *mut u8, 1) };
            let quick = entries_at_stop(me, &recent, &pagemap);
            // SAFETY: the mapping made above, no longer used.
            unsafe { libc::munmap(start as *mut libc::c_void, len) };
            let Some(quick) = quick else { continue };
            let at = |entries: &[SmapsEntry]| {
                entries
                    .iter()
                    .find(|e| e.mapping.start <= start && start < e.mapping.end)
                    .map(|e| e.private_written_kb)
                    .unwrap()
            };
            // The kernel may have merged it with a neighbour that had written pages.
            if at(&recent) == 0 {
                assert!(at(&quick) > 0, "the write after the smaps read was missed");
                return;
            }
        }
        panic!("no round saw the same mappings twice, or every new mapping merged");
    }
}
