//! The text of the analysis in `ptscope dump`: the summary line, deadlocks first (like
//! jstack's "Found one Java-level deadlock"), lock waits by holder, then the stack groups.
//! Every line is sanitised: thread names, paths and symbols come from the target.

use super::describe::{self, addr_label, thread_label, wait_text, where_text};
use super::facts::ThreadInput;
use super::ranges;
use super::waits::{Owner, ThreadWait};
use super::Analysis;
use crate::symbols::Frame;
use crate::text::sanitize;
use crate::tracer::Tid;
use std::collections::BTreeMap;

/// The lines of a stack, as the per-thread listing prints them.
pub fn frame_lines(frames: &[Frame], indent: &str) -> Vec<String> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut s = format!("{indent}#{i:<2} {:#018x} {}", f.pc, f.location);
            if let (Some(file), Some(line)) = (&f.location.file, f.location.line) {
                s.push_str(&format!(" at {file}:{line}"));
            }
            s
        })
        .collect()
}

/// `summary: 12 threads: 1 running, 7 condvar, 3 mutex, 1 fd; 1 deadlock (3 threads)`.
pub fn summary(a: &Analysis) -> String {
    let parts: Vec<String> = a.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
    let dl = match a.deadlocks.len() {
        0 => "no deadlock found".to_string(),
        1 => format!("1 deadlock ({} threads)", a.in_deadlock()),
        n => format!("{n} deadlocks ({} threads)", a.in_deadlock()),
    };
    format!(
        "summary: {} threads: {}; {dl}",
        a.waits.len(),
        parts.join(", ")
    )
}

struct Ctx<'a> {
    a: &'a Analysis,
    frames: BTreeMap<Tid, &'a [Frame]>,
    out: Vec<String>,
}

impl Ctx<'_> {
    fn line(&mut self, s: String) {
        self.out.push(sanitize(&s));
    }

    fn at(&self, tid: Tid) -> Option<String> {
        let w = self.a.waits.get(&tid)?;
        let frames = self.frames.get(&tid)?;
        Some(where_text(frames.get(w.at?)?))
    }

    fn wait(&self, tid: Tid) -> String {
        match self.a.waits.get(&tid) {
            Some(w) => wait_text(w, &self.a.facts),
            None => "unknown".to_string(),
        }
    }

    fn deadlocks(&mut self) {
        let n = self.a.deadlocks.len();
        for (i, d) in self.a.deadlocks.iter().enumerate() {
            let what = if d.tids.len() == 1 {
                "a thread waiting for a lock it holds itself".to_string()
            } else {
                format!(
                    "{} threads, each waiting for a lock the next one holds",
                    d.tids.len()
                )
            };
            self.line(format!("DEADLOCK {} of {n}: {what}", i + 1));
            for &t in &d.tids {
                let label = thread_label(t, &self.a.facts);
                let wait = self.wait(t);
                self.line(format!("  thread {label} waits for {wait}"));
                if let Some(at) = self.at(t) {
                    self.line(format!("      at {at}"));
                }
            }
            let behind = self.a.graph.feeding(&d.tids);
            if !behind.is_empty() {
                self.line(format!(
                    "  stuck behind it: {} more thread(s): {}",
                    behind.len(),
                    ranges::format(&behind)
                ));
            }
            self.line(String::new());
        }
    }

    /// The waiters of `holder`, by the lock they wait for, and their own waiters beneath.
    fn tree(&mut self, holder: Tid, depth: usize) {
        let pad = "  ".repeat(depth + 2);
        let mut by_lock: BTreeMap<u64, Vec<Tid>> = BTreeMap::new();
        for w in self.a.graph.waiters_of(holder) {
            let addr = self
                .a
                .waits
                .get(&w)
                .and_then(|x| x.wait.lock())
                .map_or(0, |l| l.addr);
            by_lock.entry(addr).or_default().push(w);
        }
        for (addr, ws) in by_lock {
            let kind = self
                .a
                .waits
                .get(&ws[0])
                .and_then(|x| x.wait.lock())
                .map_or("lock", |l| l.kind.name());
            let lock = if kind == "join" {
                "pthread_join (waiting for it to exit)".to_string()
            } else {
                format!("{kind} {}", addr_label(addr, &self.a.facts))
            };
            self.line(format!(
                "{pad}{lock}: waited for by {}",
                ranges::format(&ws)
            ));
            for w in ws {
                let below = self.a.chains_below(w);
                if below > 0 {
                    self.line(format!(
                        "{pad}  {} holds up {below} more thread(s):",
                        thread_label(w, &self.a.facts)
                    ));
                    self.tree(w, depth + 2);
                }
            }
        }
    }

    fn holders(&mut self) {
        let mut roots: Vec<(&Tid, &Vec<Tid>)> = self.a.chains.roots.iter().collect();
        roots.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        // Waits whose holder is not a live thread here (exited, another process, readers, or
        // not recorded although the lock should record one), by lock.
        let mut orphans: BTreeMap<u64, Vec<&ThreadWait>> = BTreeMap::new();
        for w in self.a.waits.values() {
            let Some(l) = w.wait.lock() else { continue };
            if l.refused || self.a.graph.holder_of(w.tid).is_some() {
                continue;
            }
            let orphan = match l.owner {
                Owner::Thread(o) => !self.a.facts.live.contains(&o),
                Owner::Readers => true,
                Owner::Unknown | Owner::NotRecorded => false,
            };
            if orphan {
                orphans.entry(l.addr).or_default().push(w);
            }
        }
        if roots.is_empty() && orphans.is_empty() {
            return;
        }
        self.line("lock waits by holder:".to_string());
        for (&root, all) in roots {
            self.line(format!(
                "  thread {} holds up {} thread(s): {}",
                thread_label(root, &self.a.facts),
                all.len(),
                ranges::format(all)
            ));
            let wait = self.wait(root);
            self.line(format!("      itself: {wait}"));
            if let Some(at) = self.at(root) {
                self.line(format!("      at {at}"));
            }
            self.tree(root, 0);
        }
        for ws in orphans.values() {
            let tids: Vec<Tid> = ws.iter().map(|w| w.tid).collect();
            let Some(l) = ws[0].wait.lock() else { continue };
            let text = describe::lock_text(l, ws[0].tid, &self.a.facts);
            self.line(format!("  {text}: waited for by {}", ranges::format(&tids)));
        }
        self.line(String::new());
    }

    fn names(&self, tids: &[Tid]) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for t in tids {
            if let Some(n) = self.a.facts.names.get(t) {
                *by.entry(n.as_str()).or_default() += 1;
            }
        }
        let mut v: Vec<(&str, usize)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut parts: Vec<String> = v
            .iter()
            .take(3)
            .map(|(n, c)| {
                if *c == 1 {
                    format!("\"{n}\"")
                } else {
                    format!("\"{n}\" x{c}")
                }
            })
            .collect();
        if v.len() > 3 {
            parts.push(format!("{} more names", v.len() - 3));
        }
        parts.join(", ")
    }

    /// The waits of a group's threads: one line when they all wait alike, else the most
    /// common few with their threads.
    fn group_waits(&mut self, tids: &[Tid]) {
        let mut by: BTreeMap<String, Vec<Tid>> = BTreeMap::new();
        let mut since: Vec<u64> = Vec::new();
        for t in tids {
            let Some(w) = self.a.waits.get(t) else {
                continue;
            };
            let quiet = ThreadWait {
                since_ms: None,
                ..w.clone()
            };
            by.entry(wait_text(&quiet, &self.a.facts))
                .or_default()
                .push(*t);
            since.extend(w.since_ms);
        }
        let how_long = match (since.iter().min(), since.iter().max()) {
            (Some(a), Some(b)) if a == b || tids.len() == 1 => {
                format!(", for {}", describe::duration(*a))
            }
            (Some(a), Some(b)) => format!(
                ", for {} to {}",
                describe::duration(*a),
                describe::duration(*b)
            ),
            _ => String::new(),
        };
        let mut v: Vec<(String, Vec<Tid>)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1.cmp(&b.1)));
        if v.len() == 1 {
            self.line(format!("    waits: {}{how_long}", v[0].0));
            return;
        }
        for (text, ws) in v.iter().take(4) {
            self.line(format!("    waits ({}): {text}", ranges::format(ws)));
        }
        if v.len() > 4 {
            self.line(format!("    ... and {} other kinds of wait", v.len() - 4));
        }
    }

    fn groups(&mut self, stacks_walked: bool) {
        if !stacks_walked {
            self.by_wait();
            return;
        }
        self.line(format!(
            "stacks: {} group(s) of identical stacks, largest first",
            self.a.groups.len()
        ));
        for g in &self.a.groups {
            self.line(String::new());
            let what = if g.tids.len() == 1 {
                "1 thread".to_string()
            } else {
                format!("{} threads", g.tids.len())
            };
            let names = self.names(&g.tids);
            self.line(format!("{what}: {}  {names}", ranges::format(&g.tids)));
            self.group_waits(&g.tids);
            let frames = self.frames.get(&g.tids[0]).copied().unwrap_or_default();
            if frames.is_empty() {
                self.line("    (no stack)".to_string());
            }
            for l in frame_lines(frames, "    ") {
                self.line(l);
            }
        }
    }
}

impl Ctx<'_> {
    /// Without stacks, threads grouped by what they wait on, most common first.
    fn by_wait(&mut self) {
        let mut by: BTreeMap<String, Vec<Tid>> = BTreeMap::new();
        for w in self.a.waits.values() {
            let quiet = ThreadWait {
                since_ms: None,
                ..w.clone()
            };
            by.entry(wait_text(&quiet, &self.a.facts))
                .or_default()
                .push(w.tid);
        }
        let mut v: Vec<(String, Vec<Tid>)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1.cmp(&b.1)));
        self.line("threads by what they wait on (no stacks were walked):".to_string());
        for (text, tids) in v {
            let n = tids.len();
            self.line(format!("  {n} x {text}: {}", ranges::format(&tids)));
        }
    }
}

impl Analysis {
    /// How many threads wait for `tid`, directly or through others.
    pub fn chains_below(&self, tid: Tid) -> usize {
        let mut n = 0;
        let mut todo = self.graph.waiters_of(tid);
        let mut seen = std::collections::BTreeSet::new();
        while let Some(w) = todo.pop() {
            if seen.insert(w) {
                n += 1;
                todo.extend(self.graph.waiters_of(w));
            }
        }
        n
    }
}

/// Summary, deadlocks, lock waits by holder, stack groups: the default body of a dump.
pub fn sections(a: &Analysis, threads: &[ThreadInput], stacks_walked: bool) -> String {
    let mut c = Ctx {
        a,
        frames: threads.iter().map(|t| (t.tid, t.frames)).collect(),
        out: Vec::new(),
    };
    c.line(summary(a));
    c.line(String::new());
    c.deadlocks();
    c.holders();
    c.groups(stacks_walked);
    let mut s = c.out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
