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
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

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

#[derive(Default)]
pub struct ModuleCache {
    modules: Mutex<HashMap<Key, Loaded>>,
    by_build_id: Mutex<HashMap<BuildKey, Arc<ElfModule>>>,
}

impl ModuleCache {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
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
            if let Some(hit) = self.modules.lock().ok().and_then(|m| m.get(&key).cloned()) {
                return hit;
            }
            let id = super::elf::build_id_of(&file).map(|id| (id, key.size));
            let known = id.as_ref().and_then(|id| {
                let by_id = self.by_build_id.lock().ok()?;
                by_id.get(id).cloned()
            });
            // Parsed outside the lock: a big file must not stall other symbolizers.
            let loaded = match known {
                Some(m) => Ok(m),
                None => ElfModule::open(path).map(Arc::new),
            };
            if let (Some(id), Ok(m)) = (id, &loaded) {
                if let Ok(mut by_id) = self.by_build_id.lock() {
                    by_id.entry(id).or_insert_with(|| m.clone());
                }
            }
            if let Ok(mut m) = self.modules.lock() {
                m.insert(key, loaded.clone());
            }
            return loaded;
        }
        Err(last_err)
    }

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
}
