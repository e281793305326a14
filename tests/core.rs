//! `ptscope core`: the file gdb opens, checked against what the live process showed, and the
//! process left running untraced; errors leave no file behind.

mod common;

use common::{bin, ptscope_dump, task_ids, TIMEOUT};
use crossbeam_channel::{unbounded, Receiver};
use ptscope::coredump::{self, Method, Options};
use ptscope::procinfo::{self, SyscallState};
use ptscope::regs::{Registers, REGISTER_NAMES};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

const MAGIC: u64 = ptscope::demo::heap::MAGIC;

/// `ptscope __demo heap`: memory known word for word, threads parked at known functions.
struct Heap {
    child: Child,
    pid: i32,
    heap: u64,
    words: u64,
    marker: u64,
    marker_value: u64,
    /// The `worker-I` threads.
    workers: Vec<i32>,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

fn hex(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

impl Heap {
    fn start(mb: u64, threads: u64) -> Heap {
        let mut child = Command::new(bin())
            .args(["__demo", "heap", "--mb", &mb.to_string()])
            .args(["--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start heap demo");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, rx) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = rx.recv_timeout(TIMEOUT).expect("heap READY line");
        let v: serde_json::Value =
            serde_json::from_str(ready.strip_prefix("READY ").unwrap()).unwrap();
        let heap = Heap {
            pid: v["pid"].as_i64().unwrap() as i32,
            heap: hex(&v["heap"]),
            words: v["words"].as_u64().unwrap(),
            marker: hex(&v["marker"]),
            marker_value: hex(&v["marker_value"]),
            // READY lists the main thread, the workers, then the control thread.
            workers: v["tids"].as_array().unwrap()[1..=threads as usize]
                .iter()
                .map(|t| t.as_i64().unwrap() as i32)
                .collect(),
            child,
            stdin,
            lines: rx,
        };
        assert_eq!(hex(&v["magic"]), MAGIC);
        heap.wait_all_blocked();
        heap
    }

    /// Until every thread sits in its system call (main in futex, waiting on the control
    /// thread, which is in read; workers in pause): only then are the stacks the ones the test
    /// expects.
    fn wait_all_blocked(&self) {
        common::eventually("every thread blocked in a system call", || {
            let Ok(threads) = procinfo::read_threads(self.pid) else {
                return false;
            };
            threads.len() == task_ids(self.pid).len()
                && threads.iter().all(|t| {
                    matches!(t.syscall, SyscallState::InSyscall { nr, .. }
                        if [libc::SYS_read, libc::SYS_pause, libc::SYS_futex].contains(&nr))
                })
        });
    }

    /// pc and sp of each thread as /proc/TID/syscall shows them: the kernel's own view,
    /// read without stopping anything.
    fn kernel_pc_sp(&self) -> BTreeMap<i32, (u64, u64)> {
        procinfo::read_threads(self.pid)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t.syscall {
                SyscallState::InSyscall { pc, sp, .. } => Some((t.tid, (pc, sp))),
                _ => None,
            })
            .collect()
    }

    fn ask(&mut self, cmd: &str, prefix: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("heap {} did not answer {cmd:?}", self.pid),
            }
        }
    }

    /// Runs on untraced, every thread out of the tracing stop, its heap as it was.
    fn assert_untouched_and_running(&mut self) {
        common::assert_untraced_and_running(self.pid);
        assert_eq!(self.ask("check", "check "), "check ok");
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // Test targets are ours: kill them on purpose.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder of its own for one test's core files, removed when the test ends, failed or not
/// (a failing assertion unwinds through the drop).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("ptscope-core-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// gdb in batch mode on BINARY CORE; stdout and stderr together.
fn gdb(core: &Path, commands: &[&str]) -> String {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-iex", "set debuginfod enabled off"])
        .args(["-ex", "set pagination off", "-ex", "set width 0"])
        .args(["-ex", "set backtrace past-main on"]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    let out = cmd
        .arg(bin())
        .arg(core)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("these tests need gdb (Debian package gdb): {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The lines `thread apply all ...` printed under each thread, by LWP.
fn per_thread(out: &str) -> BTreeMap<i32, Vec<String>> {
    let mut map: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in out.lines() {
        if line.starts_with("Thread ") && line.ends_with("):") {
            current = line
                .split("(LWP ")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .and_then(|n| n.parse().ok());
            continue;
        }
        if let Some(lwp) = current {
            map.entry(lwp).or_default().push(line.to_string());
        }
    }
    map
}

/// `name 0xvalue ...` register lines among a thread's lines.
fn registers_of(lines: &[String]) -> BTreeMap<String, u64> {
    lines
        .iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let value = u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()?;
            REGISTER_NAMES
                .contains(&name)
                .then(|| (name.to_string(), value))
        })
        .collect()
}

/// `x/gx` answers: "0xADDR <sym>:\t0xVALUE".
fn words_read(out: &str) -> BTreeMap<u64, u64> {
    out.lines()
        .filter_map(|l| {
            let (addr, value) = l.split_once(":\t")?;
            let addr = addr.split_whitespace().next()?.strip_prefix("0x")?;
            let value = value.split_whitespace().next()?.strip_prefix("0x")?;
            Some((
                u64::from_str_radix(addr, 16).ok()?,
                u64::from_str_radix(value, 16).ok()?,
            ))
        })
        .collect()
}

/// Frames of a live `ptscope dump --json`, per thread: (pc, function). Only the names of our
/// own binary's functions are kept: what names libc's inner functions get (from libc6-dbg,
/// or the nearest exported symbol without it) differs between tools and machines; their
/// return addresses do not.
fn live_dump(pid: i32) -> BTreeMap<i32, Vec<(u64, Option<String>)>> {
    let out = ptscope_dump()
        .args([&pid.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let frames = t["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let ours = f["module"]
                        .as_str()
                        .is_some_and(|m| Path::new(m).file_name() == Path::new(bin()).file_name());
                    let name = f["function"].as_str().filter(|_| ours);
                    (hex(&f["pc"]), name.map(str::to_string))
                })
                .collect();
            (t["tid"].as_i64().unwrap() as i32, frames)
        })
        .collect()
}

/// The part of a symbol name both ptscope and gdb spell alike: the last path segment,
/// without generic arguments or closure markers (`<T as Tr>::f::{{closure}}` -> `f`).
fn last_segment(name: &str) -> &str {
    let name = name.split("{{").next().unwrap_or(name);
    let name = name.trim_end_matches("::");
    let name = match name.rfind('>') {
        Some(i) if !name.ends_with('>') => &name[i + 1..],
        _ => name.split('<').next().unwrap_or(name),
    };
    let name = name.trim_end_matches("::");
    name.rsplit("::").next().unwrap_or(name)
}

#[test]
fn gdb_opens_the_core_with_every_thread_stack_word_and_register() {
    let mut heap = Heap::start(32, 3);
    let kernel = heap.kernel_pc_sp();
    let dump = live_dump(heap.pid);
    heap.wait_all_blocked();
    let dir = scratch("gdb");
    let path = dir.join("core");
    let summary = coredump::take(heap.pid, &path, &Options::default()).unwrap();
    assert_eq!(summary.method, Method::Mapped);
    heap.assert_untouched_and_running();

    let tids = task_ids(heap.pid);
    let mut written: Vec<i32> = summary.threads.iter().map(|(t, _)| *t).collect();
    written.sort();
    assert_eq!(written, tids);
    assert_eq!(summary.threads[0].0, heap.pid, "the leader comes first");
    assert!(summary.left_out.is_empty());

    // Never-written stack pages are holes in the file, not copied zeros: the lowest page of a
    // worker's 2 MiB stack (stacks grow down) reads as 0 all the same.
    let worker = summary
        .threads
        .iter()
        .find(|(t, _)| *t != heap.pid)
        .unwrap();
    let stack = procinfo::maps::mapping_at(heap.pid, worker.1.rsp()).unwrap();
    assert!(summary.copied + (4 << 20) < summary.bytes, "{summary:?}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), summary.bytes);
    assert!(
        meta.blocks() * 512 < summary.bytes,
        "a sparse file: {meta:?}"
    );

    let last = heap.heap + 8 * (heap.words - 1);
    let middle = heap.heap + 8 * (heap.words / 2);
    let out = gdb(
        &path,
        &[
            "info threads",
            "thread apply all bt",
            &format!("x/gx {:#x}", heap.heap),
            &format!("x/gx {middle:#x}"),
            &format!("x/gx {last:#x}"),
            &format!("x/gx {:#x}", heap.marker),
            &format!("x/gx {:#x}", stack.start),
            "thread apply all info registers",
            "thread apply all info registers orig_rax",
        ],
    );
    // Every thread, by its LWP.
    let threads = per_thread(&out);
    assert_eq!(threads.keys().copied().collect::<Vec<_>>(), tids, "{out}");
    for tid in &tids {
        assert!(out.contains(&format!("(LWP {tid})")), "{out}");
    }
    // Known words: heap words hold their address XOR MAGIC; the marker was set at start.
    let words = words_read(&out);
    for addr in [heap.heap, middle, last] {
        assert_eq!(
            words.get(&addr),
            Some(&(addr ^ MAGIC)),
            "{addr:#x} in {out}"
        );
    }
    assert_eq!(words.get(&heap.marker), Some(&heap.marker_value), "{out}");
    assert_eq!(words.get(&stack.start), Some(&0), "{out}");

    let ours: BTreeMap<i32, Registers> = summary.threads.iter().copied().collect();
    for (tid, lines) in &threads {
        let bt: String = lines
            .iter()
            .filter(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        // Every function and return address the live dump showed, in gdb's backtrace of the
        // same thread. (Frame 0's pc is compared as rip below: gdb prints no address for a
        // frame at the start of a line.)
        let frames = &dump[tid];
        let named = frames.iter().filter(|(_, f)| f.is_some()).count();
        assert!(frames.len() > 3 && named >= 3, "{frames:?}");
        for (i, (pc, function)) in frames.iter().enumerate() {
            if let Some(f) = function {
                let name = last_segment(f);
                assert!(
                    bt.contains(name),
                    "thread {tid}: {f} ({name}) missing from\n{bt}"
                );
            }
            if i > 0 {
                assert!(
                    bt.contains(&format!("{pc:#018x}")),
                    "thread {tid}: {pc:#x} in\n{bt}"
                );
            }
        }
        if heap.workers.contains(tid) {
            assert!(bt.contains("ptscope_heap_park") && bt.contains("ptscope_heap_worker"));
        }
        // Registers: gdb's equal ours, all of them, and rip/rsp equal the kernel's view.
        let regs = registers_of(lines);
        assert!(regs.len() >= 25, "{lines:?}");
        for (name, value) in &regs {
            assert_eq!(ours[tid].get(name), Some(*value), "thread {tid} {name}");
        }
        assert_eq!(
            regs["rip"], frames[0].0,
            "thread {tid}: rip is the live frame 0"
        );
        let (pc, sp) = kernel[tid];
        assert_eq!(
            (regs["rip"], regs["rsp"]),
            (pc, sp),
            "thread {tid} vs /proc syscall"
        );
    }
}

#[test]
fn the_command_writes_core_pid_and_leaves_the_process_running() {
    let mut heap = Heap::start(8, 1);
    let dir = scratch("cli");
    let out = Command::new(bin())
        .args(["core", &heap.pid.to_string()])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let name = format!("core.{}", heap.pid);
    assert!(
        err.starts_with(&format!("ptscope: wrote {name} (")),
        "{err}"
    );
    assert!(
        err.contains(": 3 threads, ") && err.contains("process paused"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        listing(&dir),
        std::slice::from_ref(&name),
        "nothing but the core is left"
    );
    let file = std::fs::read(dir.join(&name)).unwrap();
    assert_eq!(&file[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([file[16], file[17]]), 4, "ET_CORE");
    heap.assert_untouched_and_running();
}

#[test]
fn a_streamed_core_holds_the_same_memory() {
    let mut heap = Heap::start(24, 1);
    let dir = scratch("stream");
    let out = Command::new(bin())
        .args(["core", &heap.pid.to_string(), "--stream", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("(written while stopped)"), "{err}");
    let path = dir.join(format!("core.{}", heap.pid));
    assert_eq!(listing(&dir).len(), 1);
    heap.assert_untouched_and_running();
    let last = heap.heap + 8 * (heap.words - 1);
    let out = gdb(
        &path,
        &[
            "info threads",
            &format!("x/gx {:#x}", heap.heap + 8 * 12345),
            &format!("x/gx {last:#x}"),
            &format!("x/gx {:#x}", heap.marker),
        ],
    );
    let words = words_read(&out);
    for addr in [heap.heap + 8 * 12345, last] {
        assert_eq!(words.get(&addr), Some(&(addr ^ MAGIC)), "{out}");
    }
    assert_eq!(words.get(&heap.marker), Some(&heap.marker_value), "{out}");
    for tid in task_ids(heap.pid) {
        assert!(out.contains(&format!("(LWP {tid})")), "{out}");
    }
}

#[test]
fn errors_are_one_line_exit_1_and_leave_no_file() {
    let dir = scratch("errors");
    for (pid, want) in [
        ("999999999", "ptscope: no such process: 999999999"),
        (
            "2",
            "ptscope: process 2 is not a user process (kernel thread)",
        ),
    ] {
        let out = Command::new(bin())
            .args(["core", pid])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8(out.stderr).unwrap(), format!("{want}\n"));
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    }

    // An output directory nobody may create files in (sysfs refuses even root) and one that
    // does not exist: refused before the process is touched.
    let mut heap = Heap::start(4, 1);
    for target in ["/sys/core.test", "/nonexistent-ptscope-dir/core"] {
        let out = Command::new(bin())
            .args(["core", &heap.pid.to_string(), "-o", target])
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with("ptscope: cannot write "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        heap.assert_untouched_and_running();
    }
    assert!(!Path::new("/nonexistent-ptscope-dir").exists());
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is a child of this test.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// Starts `ptscope core PID --stream -o DIR/core` and freezes it (SIGSTOP) as soon as it has
/// attached; None when it had already let go of the process by then. Streaming 128 MiB keeps
/// the process held long enough for the freeze to come first on any ordinary machine.
fn frozen_while_holding(heap: &Heap, dir: &Path) -> Option<Child> {
    let ptscope = Command::new(bin())
        .args(["core", &heap.pid.to_string(), "--stream", "-o"])
        .arg(dir.join("core"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tracer = || common::status_field(heap.pid, heap.pid, "TracerPid");
    common::eventually("ptscope attached", || tracer() != "0");
    signal(ptscope.id(), libc::SIGSTOP);
    let me = ptscope.id() as i32;
    common::eventually("ptscope frozen", || {
        common::status_field(me, me, "State").starts_with('T')
    });
    if tracer() == "0" {
        signal(ptscope.id(), libc::SIGCONT);
        let _ = ptscope.wait_with_output();
        return None;
    }
    Some(ptscope)
}

/// Runs `then` with ptscope frozen while it holds a fresh heap process; repeats (a bounded
/// number of times) when ptscope was too quick to be caught.
fn while_held(mb: u64, then: impl Fn(&mut Heap, Child, &Path)) {
    for attempt in 0..3 {
        let mut heap = Heap::start(mb, 1);
        let dir = scratch(&format!("held-{attempt}"));
        if let Some(ptscope) = frozen_while_holding(&heap, &dir) {
            then(&mut heap, ptscope, &dir);
            return;
        }
    }
    panic!("ptscope let go of the process before the test could freeze it, three times");
}

#[test]
fn a_process_killed_while_ptscope_holds_it_leaves_no_file() {
    while_held(128, |heap, ptscope, dir| {
        heap.child.kill().unwrap();
        signal(ptscope.id(), libc::SIGCONT);
        let out = ptscope.wait_with_output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(
            err,
            format!(
                "ptscope: process {} exited while its core was being taken\n",
                heap.pid
            )
        );
        assert!(listing(dir).is_empty(), "{:?}", listing(dir));
    });
}

#[test]
fn an_interrupted_core_detaches_and_leaves_no_file() {
    while_held(128, |heap, ptscope, dir| {
        // Queued while frozen, handled when it goes on.
        signal(ptscope.id(), libc::SIGINT);
        signal(ptscope.id(), libc::SIGCONT);
        let out = ptscope.wait_with_output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            (out.status.code(), err.as_str()),
            (Some(1), "ptscope: interrupted\n")
        );
        assert!(listing(dir).is_empty(), "{:?}", listing(dir));
        heap.assert_untouched_and_running();
    });
}

#[test]
fn a_zombie_leader_is_left_out_and_its_threads_are_read_through_a_live_one() {
    let mut heap = Heap::start(4, 2);
    heap.ask("exit-leader", "exit-leader");
    common::eventually("the leader is a zombie", || {
        common::status_field(heap.pid, heap.pid, "State").starts_with('Z')
    });
    let dir = scratch("zombie");
    let path = dir.join("core");
    let summary = coredump::take(heap.pid, &path, &Options::default()).unwrap();
    assert_eq!(summary.left_out, [heap.pid]);
    let live: Vec<i32> = task_ids(heap.pid)
        .into_iter()
        .filter(|t| *t != heap.pid)
        .collect();
    let mut written: Vec<i32> = summary.threads.iter().map(|(t, _)| *t).collect();
    written.sort();
    assert_eq!(written, live);
    heap.assert_untouched_and_running();
    let word = heap.heap + 8 * 777;
    let out = gdb(&path, &["info threads", &format!("x/gx {word:#x}")]);
    for tid in &live {
        assert!(out.contains(&format!("(LWP {tid})")), "{out}");
    }
    assert_eq!(words_read(&out).get(&word), Some(&(word ^ MAGIC)), "{out}");
}

#[test]
fn gdb_shows_the_fp_and_sse_registers_the_workers_hold() {
    let heap = Heap::start(1, 2);
    let dir = scratch("fpregs");
    let path = dir.join("core");
    let summary = coredump::take(heap.pid, &path, &Options::default()).unwrap();
    assert!(summary.left_out.is_empty());
    let out = gdb(
        &path,
        &[
            "thread apply all p/x $xmm5.v2_int64[0]",
            "thread apply all p/x $mxcsr",
            "thread apply all p/x $ymm5.v4_int64[0]",
        ],
    );
    let threads = per_thread(&out);
    let mark = format!("{:#x}", ptscope::demo::heap::XMM_MARK);
    let csr = format!("{:#x}", ptscope::demo::heap::MXCSR_MARK);
    for w in &heap.workers {
        let lines = threads
            .get(w)
            .unwrap_or_else(|| panic!("worker {w} in gdb's output:\n{out}"));
        let values: Vec<&str> = lines.iter().filter_map(|l| l.split(" = ").nth(1)).collect();
        // xmm5 from NT_X86_XSTATE (or NT_PRFPREG), then MXCSR, then ymm5's low half, which
        // only the XSAVE area holds.
        assert_eq!(
            values,
            [mark.as_str(), csr.as_str(), mark.as_str()],
            "{out}"
        );
    }
}

#[test]
fn gdb_reads_fp_registers_and_siginfo_when_the_notes_hold_them() {
    use ptscope::coredump::model::*;
    use ptscope::procinfo::core_facts::CpuTimes;
    // A core written from fixed data shows the notes land where gdb reads them (a held
    // signal's siginfo too, which a live demo cannot offer without dying of the signal).
    let mut fx = [0u8; FPREGS_SIZE];
    fx[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // mxcsr
    fx[160..168].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes()); // xmm0 low
    let mut si = [0u8; SIGINFO_SIZE];
    si[..4].copy_from_slice(&libc::SIGSEGV.to_le_bytes());
    si[8..12].copy_from_slice(&1i32.to_le_bytes()); // SEGV_MAPERR
    si[16..24].copy_from_slice(&0xdead_0000u64.to_le_bytes()); // si_addr
    let mut regs = Registers::default();
    regs.set("rip", 0x40_1000);
    regs.set("rsp", 0x7ff0_0000);
    let image = CoreImage {
        process: ProcessNote {
            pid: 77,
            ppid: 1,
            pgrp: 77,
            sid: 77,
            uid: 0,
            gid: 0,
            state: 'R',
            nice: 0,
            flags: 0,
            comm: b"fixed".to_vec(),
            cmdline: b"fixed\0".to_vec(),
        },
        threads: vec![ThreadNote {
            tid: 77,
            regs,
            cursig: libc::SIGSEGV,
            sigpend: 0,
            sighold: 0,
            times: CpuTimes::default(),
            sets: RegisterSets {
                fpregs: Some(Box::new(fx)),
                xstate: None,
                siginfo: Some(Box::new(si)),
            },
        }],
        auxv: vec![0; 16],
        files: Vec::new(),
        segments: Vec::new(),
    };
    let dir = scratch("fixed");
    let path = dir.join("core");
    std::fs::write(&path, coredump::elf::layout(&image).headers).unwrap();
    let out = Command::new("gdb")
        .args(["-batch", "-nx", "-iex", "set debuginfod enabled off"])
        .args([
            "-ex",
            "info registers rip mxcsr",
            "-ex",
            "p/x $xmm0.v2_int64[0]",
        ])
        .args([
            "-ex",
            "p $_siginfo.si_signo",
            "-ex",
            "p $_siginfo._sifields._sigfault.si_addr",
        ])
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("these tests need gdb (Debian package gdb)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("signal SIGSEGV"), "{text}");
    assert!(text.contains("0x401000"), "{text}");
    assert!(text.contains("0x1f80"), "{text}");
    assert!(text.contains("0x1122334455667788"), "{text}");
    assert!(text.contains("= 11"), "{text}");
    assert!(text.contains("0xdead0000"), "{text}");
}

#[test]
fn last_segment_matches_both_spellings() {
    assert_eq!(last_segment("ptscope::demo::heap::run::{{closure}}"), "run");
    assert_eq!(
        last_segment("std::io::read_until::<std::io::X<Y>>"),
        "read_until"
    );
    assert_eq!(
        last_segment("<std::io::Lines<B> as core::iter::Iterator>::next"),
        "next"
    );
    assert_eq!(
        last_segment("core::ops::function::FnOnce::call_once{{vtable.shim}}"),
        "call_once"
    );
    assert_eq!(last_segment("read"), "read");
}
