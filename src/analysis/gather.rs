//! Reading the facts the analysis needs, each at the moment it is true:
//!
//! - before the stop (`before_stop`): how long each thread has been off the CPU (stopping a
//!   thread makes it run) and the kernel stack of threads in D state;
//! - while every thread is stopped (`while_stopped`): the few words of lock memory and poll or
//!   select arrays the waits point at, consistent with the stacks walked at the same time;
//! - after the detach (`after_detach`): descriptors, socket tables, who holds the other end of
//!   a pipe, data symbols of lock addresses, whether recorded owners still exist. These do not
//!   change because of our stop, so reading them later costs the process no pause.
//!
//! All /proc reads go through `procinfo`; memory through the caller's reader (the tracer's
//! process_vm_readv); symbols through the dump's symbolizer.

use super::facts::{DataSymbol, Elsewhere, MemWords, ProcessFacts, ThreadInput};
use super::waits::{self, Owner, ThreadWait, Wait};
use crate::procinfo::fds::{self, FdTarget};
use crate::procinfo::net::SocketTable;
use crate::procinfo::{blocked, sched, tasks};
use crate::symbols::Symbolizer;
use crate::tracer::Tid;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

/// Longest search of other processes for the far end of a pipe or local socket.
const HOLDER_SEARCH: Duration = Duration::from_millis(200);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreStop {
    pub off_cpu_ms: BTreeMap<Tid, u64>,
    pub kstacks: BTreeMap<Tid, Vec<String>>,
}

/// Off-CPU times and D-state kernel stacks, read before the attach, for every thread listed
/// now. It needs nothing from the kernel view, so it can run beside that pass (on another
/// CPU) and cost the dump no time where there are two. A running thread has no off-CPU time;
/// the clock of each CPU a thread last ran on is read once, after the threads.
pub fn before_stop(pid: i32) -> PreStop {
    let mut out = PreStop::default();
    let mut buf = Vec::with_capacity(2048);
    let tids = tasks::list_tids(pid).unwrap_or_default();
    let mut starts = Vec::with_capacity(tids.len());
    for tid in tids {
        let Some((state, cpu)) = sched::state_and_cpu(pid, tid, &mut buf) else {
            continue;
        };
        if state == 'R' {
            continue;
        }
        if state == 'D' {
            if let Ok(stack) = blocked::kernel_stack(pid, tid) {
                out.kstacks.insert(tid, stack);
            }
        }
        let Some(start) = sched::exec_start_ns(pid, tid, &mut buf) else {
            continue;
        };
        starts.push((tid, start, cpu));
    }
    let cpus: BTreeSet<u32> = starts.iter().map(|s| s.2).collect();
    let clocks = sched::cpu_clocks(&cpus.into_iter().collect::<Vec<_>>());
    for (tid, start, cpu) in starts {
        if let Some(now) = clocks.get(&cpu) {
            out.off_cpu_ms.insert(tid, sched::off_cpu_ms(start, *now));
        }
    }
    out
}

/// What was read while the process was stopped.
#[derive(Clone, Debug, Default)]
pub struct Stopped {
    pub mem: MemWords,
    /// For each refused PI locker, the PI mutexes (with their holders) it may have been
    /// locking, in the tiers of `waits::refused_candidates`.
    pub refused: BTreeMap<Tid, Vec<Vec<(u64, Tid)>>>,
}

/// Reads the words each wait points at, then, for the rare refused PI locker, the candidates
/// for the mutex it was locking. `read` returns what it could read (possibly fewer bytes).
pub fn while_stopped(
    threads: &[ThreadInput],
    read: &mut dyn FnMut(u64, usize) -> Vec<u8>,
) -> Stopped {
    let mut out = Stopped::default();
    for t in threads {
        for (addr, len) in waits::reads(t) {
            out.mem.insert(addr, read(addr, len));
        }
    }
    for t in threads {
        let w = waits::classify(t, &out.mem);
        if !w.wait.lock().is_some_and(|l| l.refused) {
            continue;
        }
        if let Some((start, len, _)) = waits::refused_scan(t) {
            out.mem.insert(start, read(start, len));
        }
        let tiers = waits::refused_candidates(t, &out.mem);
        for &c in tiers.iter().flatten() {
            if out.mem.bytes(c, 20).is_none() {
                out.mem.insert(c, read(c, 24));
            }
        }
        let pi = tiers.map(|c| waits::pi_candidates(&c, &out.mem));
        if pi.iter().any(|c| !c.is_empty()) {
            out.refused.insert(t.tid, pi.to_vec());
        }
    }
    out
}

/// The /proc and symbol facts for the waits found, read after the detach.
pub fn after_detach(
    pid: i32,
    names: BTreeMap<Tid, String>,
    waits: &[ThreadWait],
    symbolizer: Option<&Symbolizer>,
) -> ProcessFacts {
    let mut facts = ProcessFacts {
        pid,
        live: names.keys().copied().collect(),
        names,
        holders_complete: true,
        ..Default::default()
    };
    // Descriptors waited on, then what epoll sets among them watch.
    let mut wanted: BTreeSet<i32> = BTreeSet::new();
    for w in waits {
        if let Wait::Fd(f) = &w.wait {
            wanted.extend(f.fds.iter().copied());
        }
    }
    for fd in std::mem::take(&mut wanted) {
        read_fd(pid, fd, &mut facts);
    }
    let watched: Vec<i32> = facts
        .fdinfo
        .values()
        .flat_map(|i| i.epoll.iter().map(|w| w.fd))
        .collect();
    for fd in watched {
        if !facts.fds.contains_key(&fd) {
            read_fd(pid, fd, &mut facts);
        }
    }
    if facts
        .fds
        .values()
        .any(|e| matches!(e.target, FdTarget::Socket(_)))
    {
        facts.sockets = SocketTable::read(pid);
    }
    find_holders(&mut facts, waits);

    for w in waits {
        match &w.wait {
            Wait::Lock(l) => {
                for addr in [l.addr, l.futex] {
                    if let (Some(sym), false) = (symbolizer, facts.symbols.contains_key(&addr)) {
                        if let Some(s) = data_symbol(sym, addr) {
                            facts.symbols.insert(addr, s);
                        }
                    }
                }
                if let Owner::Thread(o) = l.owner {
                    if !facts.live.contains(&o) && !facts.elsewhere.contains_key(&o) {
                        let e = match tasks::tgid_of(o) {
                            None => Elsewhere::Gone,
                            Some(p) => Elsewhere::Process {
                                pid: p,
                                comm: tasks::process_name(p),
                            },
                        };
                        facts.elsewhere.insert(o, e);
                    }
                }
            }
            Wait::Child { .. } | Wait::Vfork => {
                facts.children.insert(w.tid, blocked::children(pid, w.tid));
            }
            _ => {}
        }
    }
    facts
}

fn read_fd(pid: i32, fd: i32, facts: &mut ProcessFacts) {
    let Ok(e) = fds::fd_entry(pid, fd) else {
        return;
    };
    if matches!(&e.target, FdTarget::Anon(k) if k == "eventpoll" || k == "eventfd") {
        if let Ok(info) = fds::fdinfo(pid, fd) {
            facts.fdinfo.insert(fd, info);
        }
    }
    facts.fds.insert(fd, e);
}

/// Who holds the pipes waited on and the local peers of sockets waited on: first this
/// process's own descriptors (a self-pipe, both ends of a loopback connection), then, for
/// what is still missing, every other process, within `HOLDER_SEARCH`.
fn find_holders(facts: &mut ProcessFacts, waits: &[ThreadWait]) {
    let mut inodes: HashSet<u64> = HashSet::new();
    for w in waits {
        let Wait::Fd(f) = &w.wait else { continue };
        for fd in &f.fds {
            match facts.fds.get(fd).map(|e| &e.target) {
                Some(FdTarget::Pipe(i)) => {
                    inodes.insert(*i);
                }
                Some(FdTarget::Socket(i)) => {
                    if let Some(peer) = facts.sockets.tcp_peer_of(*i) {
                        inodes.insert(peer);
                    }
                }
                _ => {}
            }
        }
    }
    if inodes.is_empty() {
        return;
    }
    let comm = tasks::process_name(facts.pid);
    let own = fds::all_fds(facts.pid).unwrap_or_default();
    for e in own {
        if let FdTarget::Pipe(i) | FdTarget::Socket(i) = e.target {
            if inodes.contains(&i) {
                facts.holders.entry(i).or_default().push(fds::Holder {
                    pid: facts.pid,
                    comm: comm.clone(),
                    fd: e.fd,
                    read: e.read,
                    write: e.write,
                });
            }
        }
    }
    // A pipe is settled here when this process holds both a read and a write end of it; a
    // socket peer when this process holds it at all.
    let missing: HashSet<u64> = inodes
        .iter()
        .copied()
        .filter(|i| {
            let hs = facts.holders.get(i).map(Vec::as_slice).unwrap_or_default();
            if is_pipe(facts, *i) {
                !(hs.iter().any(|h| h.read) && hs.iter().any(|h| h.write))
            } else {
                hs.is_empty()
            }
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let (found, complete) = fds::holders(&missing, Instant::now() + HOLDER_SEARCH);
    facts.holders_complete = complete;
    for (inode, hs) in found {
        let list = facts.holders.entry(inode).or_default();
        for h in hs {
            if h.pid != facts.pid {
                list.push(h);
            }
        }
    }
}

fn is_pipe(facts: &ProcessFacts, inode: u64) -> bool {
    facts
        .fds
        .values()
        .any(|e| e.target == FdTarget::Pipe(inode))
}

/// The data symbol an address is in, when a mapped module defines one there. A module's .bss
/// runs on past the end of its file into an anonymous mapping right after the file's last
/// one, where /proc names no file: such an address is looked up in that module. Only a sized
/// symbol that covers the address counts (no nearest-marker guesses for data).
fn data_symbol(sym: &Symbolizer, addr: u64) -> Option<DataSymbol> {
    let module = sym.module_at(addr).or_else(|| {
        let maps = sym.maps();
        let i = maps.iter().position(|m| m.contains(addr))?;
        let m = &maps[i];
        if !m.path.is_empty() {
            return None;
        }
        let prev = maps.get(i.checked_sub(1)?)?;
        if prev.end == m.start {
            sym.module_at(prev.start)
        } else {
            None
        }
    })?;
    let elf = sym.elf(module).ok()?;
    let bias = sym.bias(module, &elf)?;
    let svma = addr.wrapping_sub(bias);
    let s = elf.named_at(svma)?;
    let offset = svma.checked_sub(s.addr)?;
    (s.size > 0 && offset < s.size).then_some(DataSymbol {
        name: s.name,
        offset,
    })
}
