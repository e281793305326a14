//! The core file on disk: written under a temporary name in the same directory and renamed
//! at the end, so the final name only ever holds a whole core. Any way out before `commit`
//! (an error, a panic unwinding) removes the temporary file.

use super::error::CoreError;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct TempOutput {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl TempOutput {
    /// Creates `.NAME.ptscope-PID.tmp` beside `target`. Readable by the owner only, like the
    /// kernel's own core files: a core holds whatever secrets the memory held.
    pub fn create(target: &Path) -> Result<TempOutput, CoreError> {
        let name = target
            .file_name()
            .ok_or_else(|| {
                CoreError::output(target, io::Error::other("the output names a directory"))
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = dir.join(format!(".{name}.ptscope-{}.tmp", std::process::id()));
        // Read as well as write: a shared writable mapping (`map`) needs both.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| CoreError::output(&temp, e))?;
        Ok(TempOutput {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    fn file(&self) -> Result<&File, CoreError> {
        self.file
            .as_ref()
            .ok_or_else(|| CoreError::output(&self.temp, io::Error::other("closed")))
    }

    /// Writes `bytes` at `offset`; what is never written stays a hole (zeros).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), CoreError> {
        self.file()?
            .write_all_at(bytes, offset)
            .map_err(|e| CoreError::output(&self.target, e))
    }

    /// Gives `len` bytes from `offset` their disk blocks now (fallocate(2)), so that later
    /// writes through a shared mapping cannot fail for want of space (which would be a
    /// SIGBUS, not an error): a full disk is said here, before the process is touched.
    /// `Ok(false)` when the filesystem cannot (EOPNOTSUPP): then the file is not mapped.
    pub fn allocate(&self, offset: u64, len: u64) -> Result<bool, CoreError> {
        use nix::fcntl::{fallocate, FallocateFlags};
        let (Ok(off), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return Err(CoreError::Internal("a file range past i64"));
        };
        match fallocate(self.file()?, FallocateFlags::empty(), off, len) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::EOPNOTSUPP) => Ok(false),
            Err(e) => Err(CoreError::output(&self.target, io::Error::from(e))),
        }
    }

    /// The file bytes `[offset, offset + len)` mapped shared and writable: what is written
    /// there is the file's page cache itself, with no second copy.
    pub fn map(&self, offset: u64, len: usize) -> Result<memmap2::MmapMut, CoreError> {
        // SAFETY: the file is ours alone (created O_EXCL, mode 0600, under a temporary name
        // nobody else opens) and is not truncated below the mapping while it is mapped, so
        // the mapped bytes do not change under us and touching them cannot fault past EOF.
        unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map_mut(self.file()?)
        }
        .map_err(|e| CoreError::output(&self.target, e))
    }

    /// Makes the file `len` bytes long, so a hole at its end reads as zeros too.
    pub fn set_len(&self, len: u64) -> Result<(), CoreError> {
        self.file()?
            .set_len(len)
            .map_err(|e| CoreError::output(&self.target, e))
    }

    /// Moves the finished file to its name (replacing an older file there, like gcore).
    pub fn commit(mut self) -> Result<PathBuf, CoreError> {
        if let Some(f) = self.file.take() {
            // Some filesystems (NFS, FUSE) report a failed write only at close(2), which
            // dropping a File ignores: close it ourselves. No fsync: like gcore and the
            // kernel, the core is left to the page cache.
            nix::unistd::close(f)
                .map_err(|e| CoreError::output(&self.target, io::Error::from(e)))?;
        }
        std::fs::rename(&self.temp, &self.target)
            .map_err(|e| CoreError::output(&self.target, e))?;
        self.temp = PathBuf::new();
        Ok(self.target.clone())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ptscope-output-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_final_name_appears_only_at_commit() {
        let dir = scratch("commit");
        let target = dir.join("core.42");
        std::fs::write(&target, b"old").unwrap();
        let out = TempOutput::create(&target).unwrap();
        out.write_at(4, b"core").unwrap();
        out.set_len(10).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(listing(&dir).len(), 2);
        out.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"\0\0\0\0core\0\0");
        assert_eq!(listing(&dir), ["core.42"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dropping_before_commit_leaves_nothing() {
        let dir = scratch("drop");
        let out = TempOutput::create(&dir.join("core.7")).unwrap();
        out.write_at(0, &[0; 4096]).unwrap();
        drop(out);
        assert!(listing(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_a_one_line_error() {
        // sysfs refuses new files, root included.
        let err = TempOutput::create(Path::new("/sys/core.1")).err().unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot write /sys/.core.1.ptscope-"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let err = TempOutput::create(Path::new("/nonexistent-dir/core.1"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("No such file"), "{err}");
    }
}
