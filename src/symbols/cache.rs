//! Parsed modules shared across stops, processes and symbolizers.
//!
//! Keyed by what identifies file contents without reading them: device, inode, size and
//! modification time of the file actually mapped (opened through /proc/PID/map_files, so a
//! library replaced on disk after the process mapped it is not confused with its successor).

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

#[derive(Default)]
pub struct ModuleCache {
    modules: Mutex<HashMap<Key, Loaded>>,
}

impl ModuleCache {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
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
            // Parsed outside the lock: a big file must not stall other symbolizers.
            let loaded = ElfModule::open(path).map(Arc::new);
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
