//! The limit: the least ptrace work that does each job, written for the purpose and nothing
//! more (no events, no channels, no state machine). Every function runs all its ptrace calls on
//! the calling thread, which is the tracer for the duration.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const SIGTRAP: i32 = libc::SIGTRAP;

fn pt(req: libc::c_uint, tid: i32, addr: u64, data: u64) -> i64 {
    // SAFETY: GETREGS and SETREGS get the address of a live user_regs_struct in `data` from
    // their callers; every other request used here takes plain integers (PEEKDATA and
    // POKEDATA address the tracee's memory, not ours).
    unsafe {
        libc::ptrace(
            req,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    }
}

fn must(what: &str, tid: i32, r: i64) {
    if r < 0 {
        panic!("{what} on {tid}: {}", std::io::Error::last_os_error());
    }
}

pub fn wait_tid(tid: i32) -> i32 {
    let mut st = 0;
    loop {
        // SAFETY: waitpid writes the status into a live local.
        let r = unsafe { libc::waitpid(tid, &mut st, libc::__WALL) };
        if r == tid {
            return st;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        panic!("waitpid({tid}): {}", std::io::Error::last_os_error());
    }
}

/// Waits for any of this thread's tracees; None when interrupted by a signal (EINTR).
fn wait_any() -> Option<(i32, i32)> {
    let mut st = 0;
    // SAFETY: waitpid writes the status into a live local.
    let r = unsafe { libc::waitpid(-1, &mut st, libc::__WALL | libc::__WNOTHREAD) };
    if r > 0 {
        return Some((r, st));
    }
    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
        return None;
    }
    panic!("waitpid(-1): {}", std::io::Error::last_os_error());
}

fn stop_sig(st: i32) -> i32 {
    (st >> 8) & 0xff
}

fn event(st: i32) -> i32 {
    (st >> 16) & 0xff
}

fn is_plain_trap(st: i32) -> bool {
    libc::WIFSTOPPED(st) && stop_sig(st) == SIGTRAP && event(st) == 0
}

pub fn getregs(tid: i32) -> libc::user_regs_struct {
    // SAFETY: user_regs_struct is plain integers, for which all zeroes is a valid value.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let r = pt(
        libc::PTRACE_GETREGS,
        tid,
        0,
        &mut regs as *mut libc::user_regs_struct as u64,
    );
    must("PTRACE_GETREGS", tid, r);
    regs
}

fn setregs(tid: i32, regs: &libc::user_regs_struct) {
    let r = pt(
        libc::PTRACE_SETREGS,
        tid,
        0,
        regs as *const libc::user_regs_struct as u64,
    );
    must("PTRACE_SETREGS", tid, r);
}

pub fn peek(tid: i32, addr: u64) -> u64 {
    // PEEKDATA returns the word itself; errno tells a -1 word from an error.
    // SAFETY: __errno_location points to this thread's errno, valid while the thread lives.
    unsafe { *libc::__errno_location() = 0 };
    let v = pt(libc::PTRACE_PEEKDATA, tid, addr, 0);
    // SAFETY: as above.
    if v == -1 && unsafe { *libc::__errno_location() } != 0 {
        panic!(
            "PTRACE_PEEKDATA {addr:#x}: {}",
            std::io::Error::last_os_error()
        );
    }
    v as u64
}

fn poke(tid: i32, addr: u64, word: u64) {
    must(
        "PTRACE_POKEDATA",
        tid,
        pt(libc::PTRACE_POKEDATA, tid, addr, word),
    );
}

fn cont(tid: i32, sig: i32) {
    must(
        "PTRACE_CONT",
        tid,
        pt(libc::PTRACE_CONT, tid, 0, sig as u64),
    );
}

fn step(tid: i32) {
    must(
        "PTRACE_SINGLESTEP",
        tid,
        pt(libc::PTRACE_SINGLESTEP, tid, 0, 0),
    );
}

fn sigtrap_pending(pid: i32, tid: i32) -> bool {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("SigPnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (SIGTRAP - 1)) != 0)
}

/// One process seized and stopped by the calling thread.
pub struct Raw {
    pub pid: i32,
    pub tids: Vec<i32>,
    /// Signals caught in a signal-delivery-stop while stopping, delivered on resume/detach.
    held: HashMap<i32, i32>,
}

impl Raw {
    /// PTRACE_SEIZE every thread (re-listing until nothing new), then PTRACE_INTERRUPT each and
    /// wait for each stop.
    pub fn attach_stop(pid: i32) -> Raw {
        let mut tids: Vec<i32> = Vec::new();
        loop {
            let mut new = false;
            for tid in super::lab::task_ids(pid) {
                if tids.contains(&tid) {
                    continue;
                }
                new = true;
                if pt(libc::PTRACE_SEIZE, tid, 0, 0) == 0 {
                    tids.push(tid);
                }
            }
            if !new {
                break;
            }
        }
        let mut raw = Raw {
            pid,
            tids,
            held: HashMap::new(),
        };
        let all = raw.tids.clone();
        raw.stop(&all);
        raw
    }

    fn stop(&mut self, tids: &[i32]) {
        for &tid in tids {
            must(
                "PTRACE_INTERRUPT",
                tid,
                pt(libc::PTRACE_INTERRUPT, tid, 0, 0),
            );
        }
        for &tid in tids {
            let st = wait_tid(tid);
            if libc::WIFSTOPPED(st) && stop_sig(st) != SIGTRAP && event(st) == 0 {
                self.held.insert(tid, stop_sig(st));
            }
        }
    }

    pub fn cont_all(&mut self) {
        for &tid in &self.tids {
            cont(tid, self.held.remove(&tid).unwrap_or(0));
        }
    }

    pub fn stop_all(&mut self) {
        let all = self.tids.clone();
        self.stop(&all);
    }

    pub fn regs_all(&self) -> Vec<libc::user_regs_struct> {
        self.tids.iter().map(|&t| getregs(t)).collect()
    }

    pub fn detach_all(mut self) {
        for &tid in &self.tids {
            let sig = self.held.remove(&tid).unwrap_or(0);
            must(
                "PTRACE_DETACH",
                tid,
                pt(libc::PTRACE_DETACH, tid, 0, sig as u64),
            );
        }
    }

    /// Before detaching from a process that ran into our int3: a thread interrupted right
    /// after the trap still has the SIGTRAP queued. Let it be reported, rewind, and drop it.
    fn drain_traps(&mut self, addr: u64) {
        for &tid in &self.tids.clone() {
            if !sigtrap_pending(self.pid, tid) {
                continue;
            }
            cont(tid, 0);
            let st = wait_tid(tid);
            if is_plain_trap(st) {
                let mut r = getregs(tid);
                if r.rip == addr + 1 {
                    r.rip = addr;
                    setregs(tid, &r);
                }
            }
        }
    }
}

/// Attach + stop all + read every thread's registers + detach.
pub fn dump(pid: i32) -> usize {
    let raw = Raw::attach_stop(pid);
    let regs = raw.regs_all();
    let n = regs.iter().filter(|r| r.rip != 0).count();
    raw.detach_all();
    n
}

/// Breakpoint at `addr` hit for `window`; on every hit, with `all_stop`, every other thread is
/// interrupted and waited for (as an all-stop debugger must), the hitting threads' rip moved
/// back, the original byte put back, each stepped over, the int3 re-inserted and all resumed.
/// Returns (seconds, calls of the hot function at `counter` meanwhile, i.e. hits).
pub fn breakpoints(
    pid: i32,
    addr: u64,
    counter: u64,
    window: Duration,
    all_stop: bool,
) -> (f64, u64) {
    let mut raw = Raw::attach_stop(pid);
    let lead = raw.tids[0];
    let orig = peek(lead, addr);
    let trap = (orig & !0xff) | 0xcc;
    poke(lead, addr, trap);
    let c0 = super::lab::read_u64(pid, counter);
    let t0 = Instant::now();
    raw.cont_all();
    let mut hits = 0u64;
    let deadline = t0 + window;
    let mut world_stopped = false;
    while !world_stopped {
        let Some((tid, st)) = wait_any() else {
            continue;
        };
        assert!(
            libc::WIFSTOPPED(st),
            "lab {pid} thread {tid} ended: {st:#x}"
        );
        if !is_plain_trap(st) {
            let sig = if event(st) == 0 { stop_sig(st) } else { 0 };
            cont(tid, sig);
            continue;
        }
        let mut at_bp = vec![tid];
        let others: Vec<i32> = raw.tids.iter().copied().filter(|t| *t != tid).collect();
        let over = Instant::now() >= deadline;
        if all_stop || over {
            for &o in &others {
                must("PTRACE_INTERRUPT", o, pt(libc::PTRACE_INTERRUPT, o, 0, 0));
            }
            for &o in &others {
                let st = wait_tid(o);
                if is_plain_trap(st) {
                    at_bp.push(o);
                } else if libc::WIFSTOPPED(st) && event(st) == 0 {
                    raw.held.insert(o, stop_sig(st));
                }
            }
        }
        for &t in &at_bp {
            let mut r = getregs(t);
            if r.rip == addr + 1 {
                r.rip = addr;
                setregs(t, &r);
                hits += 1;
            }
        }
        // Any stopped tracee of the process can write its (shared) memory.
        poke(tid, addr, orig);
        if over {
            world_stopped = true;
            continue;
        }
        for &t in &at_bp {
            // A thread that reported its trap before our interrupt landed still has that
            // interrupt pending: it stops again before the step has run. Step until it has.
            loop {
                step(t);
                let st = wait_tid(t);
                if is_plain_trap(st) {
                    break;
                }
                if libc::WIFSTOPPED(st) && event(st) == 0 {
                    raw.held.insert(t, stop_sig(st));
                }
            }
        }
        poke(tid, addr, trap);
        let resume: Vec<i32> = if all_stop { raw.tids.clone() } else { at_bp };
        for t in resume {
            cont(t, raw.held.remove(&t).unwrap_or(0));
        }
    }
    let took = t0.elapsed().as_secs_f64();
    let calls = super::lab::read_u64(pid, counter) - c0;
    assert!(
        hits.abs_diff(calls) <= raw.tids.len() as u64,
        "raw saw {hits} hits, target {calls} calls"
    );
    raw.drain_traps(addr);
    raw.detach_all();
    (took, calls)
}

/// PTRACE_SINGLESTEP + waitpid of one thread, `count` times, the others stopped.
pub fn steps(pid: i32, tid: i32, count: u32) -> Duration {
    let raw = Raw::attach_stop(pid);
    let t0 = Instant::now();
    for _ in 0..count {
        step(tid);
        let st = wait_tid(tid);
        assert!(is_plain_trap(st), "step of {tid} gave {st:#x}");
    }
    let took = t0.elapsed();
    raw.detach_all();
    took
}

pub fn vm_read(pid: i32, addr: u64, buf: &mut [u8]) -> usize {
    let local = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }];
    let remote = [libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    }];
    // SAFETY: the local iovec covers `buf`, alive and writable for its length; the remote one
    // is only read by the kernel, which checks it against the other process's map.
    let n = unsafe { libc::process_vm_readv(pid, local.as_ptr(), 1, remote.as_ptr(), 1, 0) };
    n.max(0) as usize
}

/// A word at a time, as the seed did.
pub fn peek_read(tid: i32, addr: u64, buf: &mut [u8]) {
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let w = peek(tid, addr + 8 * i as u64).to_ne_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// Attached with the process running until `stop` says so (checked when a signal interrupts
/// the blocking wait). Signals are passed on as they come; returns how many.
/// With `follow_threads`, new threads are traced too (PTRACE_O_TRACECLONE) and resumed at once.
pub fn run_until(pid: i32, follow_threads: bool, stop: &std::sync::atomic::AtomicBool) -> u64 {
    let mut raw = Raw::attach_stop(pid);
    if follow_threads {
        for &tid in &raw.tids {
            let opts = libc::PTRACE_O_TRACECLONE as u64;
            must(
                "PTRACE_SETOPTIONS",
                tid,
                pt(libc::PTRACE_SETOPTIONS, tid, 0, opts),
            );
        }
    }
    raw.cont_all();
    let mut passed = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Some((tid, st)) = wait_any() else {
            continue;
        };
        if !libc::WIFSTOPPED(st) {
            assert!(tid != pid, "lab {pid} ended: {st:#x}");
            continue;
        }
        if event(st) == 0 {
            passed += 1;
            cont(tid, stop_sig(st));
        } else {
            cont(tid, 0);
        }
    }
    raw.stop_all();
    raw.detach_all();
    passed
}

/// Time from sending `victim` a stopping signal to the whole process being stopped (the signal
/// reported, every other thread interrupted and its stop reaped), `rounds` times.
pub fn stop_latency(pid: i32, victim: i32, rounds: u32) -> Vec<Duration> {
    let mut raw = Raw::attach_stop(pid);
    raw.cont_all();
    let mut out = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        // SAFETY: tgkill(2) takes plain integers; the lab handles SIGUSR1.
        unsafe { libc::syscall(libc::SYS_tgkill, pid, victim, libc::SIGUSR1) };
        loop {
            let Some((tid, st)) = wait_any() else {
                continue;
            };
            assert!(
                libc::WIFSTOPPED(st),
                "lab {pid} thread {tid} ended: {st:#x}"
            );
            if tid == victim && event(st) == 0 && stop_sig(st) == libc::SIGUSR1 {
                break;
            }
            let sig = if event(st) == 0 { stop_sig(st) } else { 0 };
            cont(tid, sig);
        }
        let others: Vec<i32> = raw.tids.iter().copied().filter(|t| *t != victim).collect();
        raw.stop(&others);
        out.push(t0.elapsed());
        raw.held.insert(victim, libc::SIGUSR1);
        raw.cont_all();
    }
    raw.stop_all();
    raw.detach_all();
    out
}
