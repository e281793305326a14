//! What a file's symbols and line tables answered, kept on disk between dumps.
//!
//! A small dump spends most of its time not on the process but on the files it maps: parsing
//! a symbol table of a megabyte or two, inflating and walking compressed line tables, all to
//! name a few dozen pcs. Those answers are a property of the file alone, so they are
//! remembered per file (its build id and size, and the size and time of the separate debug
//! file it was read with, if any: installing libc6-dbg later makes new answers) in
//! `$XDG_CACHE_HOME/ptscope/answers` (or `~/.cache/...`), the way gdb's index-cache and perf's
//! build-id cache do. A later dump of any process mapping the same file looks its pcs up there
//! and parses nothing unless a pc is new.
//!
//! The files are only a speed-up: one that is unreadable, malformed or made for another key
//! is ignored, a write that fails is dropped, and they are written whole under a temporary
//! name then renamed, so parallel dumps never read half a file. The directory is used only
//! when it is the user's own and not writable by others (the answers are shown as the
//! process's names).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bumped whenever what an answer means changes.
const FORMAT: u32 = 1;
/// A file is not grown past this many answers (a process has a few hundred distinct pcs;
/// this bounds what a long-lived cache costs to read).
const MOST_ANSWERS: usize = 50_000;
/// What the directory may hold in all: the least recently used files go beyond it (a host
/// that deploys a new build every day would otherwise keep every build's answers).
pub const STORE_BUDGET: u64 = 32 << 20;
/// A temporary file this old is left over from a dump that was killed while writing.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// The symbol covering an address: its (demangled) name, ELF address and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

/// A source file and line.
pub type SourceLine = (String, Option<u32>);

/// One remembered answer, one JSON object per line of the file.
#[derive(Serialize, Deserialize)]
enum Answer {
    Function { at: u64, named: Option<Named> },
    Line { at: u64, line: Option<SourceLine> },
}

#[derive(Serialize, Deserialize)]
struct Header {
    ptscope_answers: u32,
    key: String,
    /// The ptscope that wrote it (`writer`): a change to how names or lines are found must
    /// not be hidden by what an older build answered.
    writer: String,
}

/// This ptscope: its version and its executable's size and time. Another build's answers are
/// read as none (and replaced).
fn writer() -> &'static str {
    static WRITER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let exe = std::env::current_exe().and_then(std::fs::metadata);
        let (size, secs, nanos) = exe.map_or((0, 0, 0), |m| (m.size(), m.mtime(), m.mtime_nsec()));
        format!("{}-{size:x}-{secs:x}.{nanos:x}", env!("CARGO_PKG_VERSION"))
    })
}

/// Files of the store are opened without following a symbolic link.
fn no_follow() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.custom_flags(libc::O_NOFOLLOW);
    o
}

fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Owned by this user and writable by no one else.
fn private(meta: &std::fs::Metadata) -> bool {
    meta.uid() == euid() && meta.permissions().mode() & 0o022 == 0
}

/// Where answer files live.
#[derive(Clone, Debug)]
pub struct AnswerStore {
    dir: PathBuf,
}

impl AnswerStore {
    /// `$XDG_CACHE_HOME/ptscope/answers`, else `$HOME/.cache/ptscope/answers`, made if
    /// missing. None when neither variable is set, the cache directory is not this user's
    /// (root under `sudo -E` must not leave root's files in a user's home, nor read theirs), or
    /// the store is not safely ours.
    pub fn user_default() -> Option<Self> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        let ours = std::fs::metadata(&base).map_or(true, |m| m.uid() == euid());
        if !ours {
            return None;
        }
        Self::at(&base.join("ptscope").join("answers"))
    }

    /// A store in `dir`, made (mode 0700) if missing; None unless it and its parent are
    /// directories (not links) owned by this user that no one else may write to, so that no
    /// one else can put files in it or swap it for another.
    pub fn at(dir: &Path) -> Option<Self> {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
        let safe = |d: &Path| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir() && private(&m));
        let ours = safe(dir) && dir.parent().is_none_or(safe);
        ours.then(|| Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Deletes the least recently used answer files until the rest fit in `budget` bytes,
    /// and temporary files a killed dump left. Only names this module writes are touched.
    pub fn prune(&self, budget: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = std::time::SystemTime::now();
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let used = meta.modified().unwrap_or(now);
            if name.ends_with(".tmp") {
                let age = now.duration_since(used).unwrap_or_default();
                if age > STALE_TEMP {
                    let _ = std::fs::remove_file(&path);
                }
            } else if name.ends_with(".json") {
                files.push((used, meta.len(), path));
            }
        }
        // Newest first; what is past the budget goes.
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut kept = 0u64;
        for (_, len, path) in files {
            kept = kept.saturating_add(len);
            if kept > budget {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// The answers remembered for `key` (none if there is no valid file for it).
    pub fn open(&self, key: &str) -> Remembered {
        let path = self.dir.join(format!("{key}.json"));
        let state = no_follow()
            .read(true)
            .open(&path)
            .and_then(|mut f| {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut bytes).map(|_| bytes)
            })
            .ok()
            .and_then(|bytes| parse(&bytes, key))
            .unwrap_or_default();
        let loaded = state.len() > 0;
        if loaded {
            // Used now: its time keeps it among the recent ones when the store is pruned.
            let _ = no_follow()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        }
        Remembered {
            path,
            key: key.to_string(),
            loaded,
            state: Mutex::new(state),
        }
    }
}

#[derive(Default)]
struct State {
    functions: HashMap<u64, Option<Named>>,
    lines: HashMap<u64, Option<SourceLine>>,
    /// Answers found since the file was read.
    added: usize,
}

impl State {
    fn len(&self) -> usize {
        self.functions.len() + self.lines.len()
    }
}

fn parse(bytes: &[u8], key: &str) -> Option<State> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    let header: Header = serde_json::from_str(lines.next()?).ok()?;
    if header.ptscope_answers != FORMAT || header.key != key || header.writer != writer() {
        return None;
    }
    let mut state = State::default();
    for l in lines {
        match serde_json::from_str(l).ok()? {
            Answer::Function { at, named } => {
                state.functions.insert(at, named);
            }
            Answer::Line { at, line } => {
                state.lines.insert(at, line);
            }
        }
    }
    Some(state)
}

/// The answers of one file: looked up first, computed and added on a miss.
pub struct Remembered {
    path: PathBuf,
    key: String,
    /// Some answers were read from disk: a dump then need not parse the file up front.
    loaded: bool,
    state: Mutex<State>,
}

impl Remembered {
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// The symbol covering ELF address `at`, remembered or found by `find` (outside the lock:
    /// a first answer may take milliseconds and other workers keep looking up theirs).
    pub fn function(&self, at: u64, find: impl FnOnce() -> Option<Named>) -> Option<Named> {
        self.answer(at, |s| &mut s.functions, find)
    }

    /// The source line of ELF address `at`, as `function`.
    pub fn line(&self, at: u64, find: impl FnOnce() -> Option<SourceLine>) -> Option<SourceLine> {
        self.answer(at, |s| &mut s.lines, find)
    }

    fn answer<T: Clone>(
        &self,
        at: u64,
        table: impl Fn(&mut State) -> &mut HashMap<u64, Option<T>>,
        find: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        if let Some(known) = self
            .state
            .lock()
            .ok()
            .and_then(|mut s| table(&mut s).get(&at).cloned())
        {
            return known;
        }
        let found = find();
        if let Ok(mut s) = self.state.lock() {
            if s.len() < MOST_ANSWERS && table(&mut s).insert(at, found.clone()).is_none() {
                s.added += 1;
            }
        }
        found
    }

    /// Writes the file again if anything was added (whole, under a temporary name first).
    pub fn save(&self) -> std::io::Result<()> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(());
        };
        if s.added == 0 {
            return Ok(());
        }
        let mut out = Vec::with_capacity(64 * (s.len() + 1));
        let header = Header {
            ptscope_answers: FORMAT,
            key: self.key.clone(),
            writer: writer().to_string(),
        };
        push_json(&mut out, &header)?;
        push_sorted(&mut out, &s.functions, |at, named| Answer::Function {
            at,
            named,
        })?;
        push_sorted(&mut out, &s.lines, |at, line| Answer::Line { at, line })?;
        let tmp = self
            .path
            .with_extension(format!("{}.tmp", std::process::id()));
        // A new file (O_EXCL, no link followed): one left by a killed dump of the same pid goes.
        let _ = std::fs::remove_file(&tmp);
        let written = no_follow()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&out));
        let renamed = written.and_then(|()| std::fs::rename(&tmp, &self.path));
        if renamed.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        renamed?;
        s.added = 0;
        Ok(())
    }
}

/// One line per answer of `table`, by address (the same answers, the same file).
fn push_sorted<T: Clone>(
    out: &mut Vec<u8>,
    table: &HashMap<u64, Option<T>>,
    answer: impl Fn(u64, Option<T>) -> Answer,
) -> std::io::Result<()> {
    let mut rows: Vec<_> = table.iter().collect();
    rows.sort_by_key(|(at, _)| **at);
    for (at, value) in rows {
        push_json(out, &answer(*at, value.clone()))?;
    }
    Ok(())
}

fn push_json(out: &mut Vec<u8>, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store's directory in a private parent of its own (the store refuses a parent others
    /// may write to, such as /tmp itself); `cleanup` removes both.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ptscope-answers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("answers")
    }

    fn cleanup(dir: &Path) {
        let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(dir));
    }

    fn named(name: &str) -> Option<Named> {
        Some(Named {
            name: name.into(),
            addr: 0x1000,
            size: 0x40,
        })
    }

    #[test]
    fn answers_come_back_from_disk_and_are_not_computed_again() {
        let dir = scratch("roundtrip");
        let store = AnswerStore::at(&dir).expect("a private directory of ours");
        let r = store.open("k1");
        assert!(!r.loaded());
        assert_eq!(r.function(0x1010, || named("read")), named("read"));
        assert_eq!(r.function(0x2000, || None), None);
        let line = Some(("/src/a.c".to_string(), Some(42)));
        assert_eq!(r.line(0x1010, || line.clone()), line);
        r.save().unwrap();

        let again = store.open("k1");
        assert!(again.loaded());
        let never = || -> Option<Named> { panic!("remembered answers are not computed again") };
        assert_eq!(again.function(0x1010, never), named("read"));
        assert_eq!(
            again.function(0x2000, never),
            None,
            "a miss is remembered too"
        );
        assert_eq!(again.line(0x1010, || panic!("remembered")), line);
        // Another file's key does not see them.
        assert!(!store.open("k2").loaded());
        cleanup(&dir);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_ignored() {
        let dir = scratch("damaged");
        let store = AnswerStore::at(&dir).unwrap();
        let r = store.open("k1");
        r.function(0x10, || named("f"));
        r.function(0x20, || named("g"));
        r.line(0x10, || Some(("f.rs".into(), Some(3))));
        r.save().unwrap();
        let path = dir.join("k1.json");
        let good = std::fs::read_to_string(&path).unwrap();
        assert!(store.open("k1").loaded());
        // Its last line cut: the good lines before it are not believed either.
        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        assert!(!store.open("k1").loaded());
        // Renamed to another key: its header says whose it is.
        std::fs::write(dir.join("k2.json"), &good).unwrap();
        assert!(!store.open("k2").loaded());
        // Written by another ptscope build: answered again, not believed.
        let other = good.replacen(writer(), "0.0.0-0-0", 1);
        assert_ne!(other, good);
        std::fs::write(&path, &other).unwrap();
        assert!(!store.open("k1").loaded());
        std::fs::write(&path, &good).unwrap();
        assert!(store.open("k1").loaded());
        cleanup(&dir);
    }

    #[test]
    fn pruning_keeps_the_recently_used_files_within_the_budget() {
        let dir = scratch("prune");
        let store = AnswerStore::at(&dir).expect("own dir");
        let day = std::time::Duration::from_secs(86_400);
        let then = |days: u32| std::time::SystemTime::now() - day * days;
        for (key, days) in [("old", 3), ("older", 5), ("new", 1)] {
            let r = store.open(key);
            r.function(1, || named("f"));
            r.save().expect("saved");
            let f = std::fs::File::options()
                .write(true)
                .open(dir.join(format!("{key}.json")))
                .expect("written");
            f.set_modified(then(days)).expect("time set");
        }
        // Reading "older" makes it the most recently used.
        assert!(store.open("older").loaded());
        let stale = dir.join("x.json.77.tmp");
        std::fs::write(&stale, b"half").expect("temp");
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .and_then(|f| f.set_modified(then(1)))
            .expect("time set");
        let other = dir.join("notes.txt");
        std::fs::write(&other, vec![b'x'; 4096]).expect("other file");
        let len = |n: &str| std::fs::metadata(dir.join(n)).expect("len").len();
        store.prune(len("older.json") + len("new.json"));
        let left = |n: &str| dir.join(n).exists();
        assert!(
            left("older.json") && left("new.json"),
            "the two most recent stay"
        );
        assert!(!left("old.json"), "the least recently used goes");
        assert!(
            !left("x.json.77.tmp"),
            "a killed dump's temporary file goes"
        );
        assert!(left("notes.txt"), "files not ours stay");
        cleanup(&dir);
    }

    #[test]
    fn a_directory_others_may_write_is_not_used() {
        let dir = scratch("shared");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(AnswerStore::at(&dir).is_none());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(AnswerStore::at(&dir).is_some());
        // Nor one whose parent others may write to (they could swap the store for another).
        std::fs::set_permissions(
            dir.parent().unwrap(),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        assert!(AnswerStore::at(&dir).is_none());
        cleanup(&dir);
    }
}
