//! Parsed modules shared across stops, processes and symbolizers.
//!
//! Keyed first by what identifies file contents without reading them: device, inode, size and
//! modification time of the file actually mapped (opened through /proc/PID/map_files, so a
//! library replaced on disk after the process mapped it is not confused with its successor);
//! then by build id and size, read from the file's notes (a few pages): the same library seen
//! through another path, a container's copy of it or a second process, is parsed once. (The
//! size too: `strip` keeps the build id, and a stripped copy must not be given the symbols of
//! the file it was stripped from.) `shared()` is
//! the process-wide cache every `Symbolizer::new` uses, so the inspector's next stop, or a
//! second dump in the same process, parses nothing again.

use super::elf::ElfModule;
use super::remembered::AnswerStore;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    dev: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
}

/// A module that could not be opened or parsed, with the reason, is cached too: retrying a
/// permission error on every stop would cost as much as the parse the cache avoids.
pub type Loaded = Result<Arc<ElfModule>, String>;

/// A file's build id and size.
type BuildKey = (Vec<u8>, u64);

/// One file's parse, made once: callers that ask for it meanwhile wait for the first one's.
type Slot = Arc<OnceLock<Loaded>>;

#[derive(Default)]
pub struct ModuleCache {
    modules: Mutex<HashMap<Key, Slot>>,
    by_build_id: Mutex<HashMap<BuildKey, Arc<ElfModule>>>,
    /// Where every file parsed here keeps its answers between runs, if anywhere.
    store: Option<AnswerStore>,
}

impl ModuleCache {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A cache whose files look their answers up in `store` first (`remembered.rs`): a
    /// one-shot command (dump) that would otherwise parse every file it maps every time.
    pub fn remembering(store: AnswerStore) -> Arc<Self> {
        Arc::new(Self {
            store: Some(store),
            ..Self::default()
        })
    }

    /// The one cache of this process.
    pub fn shared() -> Arc<Self> {
        static SHARED: std::sync::OnceLock<Arc<ModuleCache>> = std::sync::OnceLock::new();
        SHARED.get_or_init(ModuleCache::new).clone()
    }

    /// Opens the first path that works, then returns the cached parse of that file or parses it.
    pub fn load(&self, candidates: &[std::path::PathBuf]) -> Loaded {
        let mut last_err = String::from("no path to open");
        for path in candidates {
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    last_err = format!("{}: {e}", path.display());
                    continue;
                }
            };
            let meta = match file.metadata() {
                Ok(m) => m,
                Err(e) => {
                    last_err = e.to_string();
                    continue;
                }
            };
            let key = Key {
                dev: meta.dev(),
                inode: meta.ino(),
                size: meta.size(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            };
            // The slot is taken under the map's lock, the file parsed outside it (a big file
            // must not stall lookups of other files); a second caller for the same file (the
            // dump's line loader and its stack walker) waits for this parse instead of making
            // its own, so both hold one module and the lines read by one serve the other.
            let size = key.size;
            let slot = match self.modules.lock() {
                Ok(mut m) => m.entry(key).or_default().clone(),
                Err(_) => Slot::default(),
            };
            return slot.get_or_init(|| self.parse(path, &file, size)).clone();
        }
        Err(last_err)
    }

    /// A file seen under another name is parsed once (by build id and size).
    fn parse(&self, path: &std::path::Path, file: &File, size: u64) -> Loaded {
        let id = super::elf::build_id_of(file).map(|id| (id, size));
        let known = id.as_ref().and_then(|id| {
            let by_id = self.by_build_id.lock().ok()?;
            by_id.get(id).cloned()
        });
        let loaded = match known {
            Some(m) => Ok(m),
            None => ElfModule::open(path).map(|m| {
                if let Some(store) = &self.store {
                    m.remember_in(store);
                }
                Arc::new(m)
            }),
        };
        match (id, loaded) {
            // Two names parsed at once: both get the first one kept.
            (Some(id), Ok(m)) => match self.by_build_id.lock() {
                Ok(mut by_id) => Ok(by_id.entry(id).or_insert(m).clone()),
                Err(_) => Ok(m),
            },
            (_, loaded) => loaded,
        }
    }

    /// Files looked up (each under its own device and inode), parsed or not yet.
    pub fn len(&self) -> usize {
        self.modules.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Distinct files parsed (by build id; files without one are not counted).
    pub fn parsed(&self) -> usize {
        self.by_build_id.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_under_two_names_is_parsed_once() {
        let me = std::env::current_exe().unwrap();
        // A second name for the same bytes (another inode, so another file key).
        let copy = std::env::temp_dir().join(format!("ptscope-cache-{}", std::process::id()));
        std::fs::copy(&me, &copy).unwrap();
        let cache = ModuleCache::new();
        let a = cache.load(std::slice::from_ref(&me)).unwrap();
        let b = cache.load(std::slice::from_ref(&copy)).unwrap();
        let _ = std::fs::remove_file(&copy);
        assert!(Arc::ptr_eq(&a, &b), "same build id, same parse");
        assert_eq!((cache.len(), cache.parsed()), (2, 1));
    }

    #[test]
    fn lookups_of_one_file_at_once_share_one_parse() {
        let me = std::env::current_exe().unwrap();
        let cache = ModuleCache::new();
        let barrier = std::sync::Barrier::new(4);
        let got: Vec<Arc<ElfModule>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        cache.load(std::slice::from_ref(&me)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            got.iter().all(|m| Arc::ptr_eq(m, &got[0])),
            "one parse for all"
        );
        assert_eq!((cache.len(), cache.parsed()), (1, 1));
    }
}
