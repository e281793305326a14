//! Source files named by the line tables, found on this machine and read for the source pane.
//!
//! The line table's path is where the file was when the program was built, which is often not
//! where it is now (a build machine, a container, a moved checkout). So the path is tried as
//! it is, then every tail of it (`src/demo/chain.rs`, `demo/chain.rs`, `chain.rs`) under the
//! working directory and under the binary's directory and its parents. The text is the
//! target's, so it is sanitised line by line and tabs are expanded for the terminal.

use crate::text::sanitize;
use std::path::{Path, PathBuf};

/// Bigger files are not shown: a generated file of megabytes is no reading for a pane.
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;
/// Parents of the binary's directory that are tried (`target/debug/ptscope` -> the checkout).
const PARENT_LEVELS: usize = 3;
const TAB: usize = 8;

/// A source file as the pane shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it was found.
    pub found_at: PathBuf,
    /// Terminal-safe lines, tabs expanded; line N is `lines[N - 1]`.
    pub lines: Vec<String>,
}

/// Where to look for `dwarf_path`, in order, without touching the disk.
pub fn candidates(dwarf_path: &str, cwd: Option<&Path>, binary: Option<&Path>) -> Vec<PathBuf> {
    let given = Path::new(dwarf_path);
    let mut out = vec![given.to_path_buf()];
    let parts: Vec<&str> = dwarf_path.split('/').filter(|p| !p.is_empty()).collect();
    let mut dirs: Vec<PathBuf> = cwd.into_iter().map(Path::to_path_buf).collect();
    if let Some(dir) = binary.and_then(Path::parent) {
        dirs.extend(
            dir.ancestors()
                .take(PARENT_LEVELS + 1)
                .map(Path::to_path_buf),
        );
    }
    for dir in &dirs {
        for skip in 0..parts.len() {
            out.push(dir.join(parts[skip..].join("/")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// Finds and reads the file the line tables call `dwarf_path`. The error is the line the pane
/// shows: `source not on this machine: PATH`, or why the file found cannot be shown.
pub fn read(
    dwarf_path: &str,
    cwd: Option<&Path>,
    binary: Option<&Path>,
) -> Result<SourceFile, String> {
    let shown = sanitize(dwarf_path);
    for path in candidates(dwarf_path, cwd, binary) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_SOURCE_BYTES {
            return Err(format!(
                "{}: {} bytes, too large to show",
                sanitize(&path.to_string_lossy()),
                meta.len()
            ));
        }
        return match std::fs::read(&path) {
            Ok(bytes) => Ok(SourceFile {
                lines: String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(|l| sanitize(&expand_tabs(l)))
                    .collect(),
                found_at: path,
            }),
            Err(e) => Err(format!("{}: {e}", sanitize(&path.to_string_lossy()))),
        };
    }
    Err(format!("source not on this machine: {shown}"))
}

fn expand_tabs(line: &str) -> String {
    if !line.contains('\t') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    for c in line.chars() {
        if c == '\t' {
            let n = TAB - col % TAB;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push(c);
            col += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_then_its_tails_under_cwd_and_the_binary() {
        let c = candidates(
            "/build/x/src/demo/chain.rs",
            Some(Path::new("/home/me/ptscope")),
            Some(Path::new("/opt/p/target/debug/ptscope")),
        );
        let c: Vec<String> = c.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(c[0], "/build/x/src/demo/chain.rs");
        let at = |s: &str| {
            c.iter()
                .position(|p| p == s)
                .unwrap_or_else(|| panic!("{s}"))
        };
        assert!(at("/home/me/ptscope/src/demo/chain.rs") < at("/home/me/ptscope/chain.rs"));
        assert!(at("/home/me/ptscope/chain.rs") < at("/opt/p/target/debug/src/demo/chain.rs"));
        assert!(c.contains(&"/opt/p/src/demo/chain.rs".to_string()), "{c:?}");
        // A relative path is tried under the working directory too.
        let r = candidates("src/a.c", Some(Path::new("/w")), None);
        assert_eq!(r[0], PathBuf::from("src/a.c"));
        assert!(r.contains(&PathBuf::from("/w/src/a.c")));
    }

    #[test]
    fn found_read_sanitised_or_said_missing() {
        let dir = std::env::temp_dir().join(format!("ptscope-src-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/t.c"), "int x;\n\tx = 1; /* \x1b[2J */\n").unwrap();
        let f = read("/gone/build/src/t.c", Some(&dir), None).unwrap();
        assert_eq!(f.found_at, dir.join("src/t.c"));
        assert_eq!(f.lines, ["int x;", "        x = 1; /* \\x1b[2J */"]);
        let e = read("/gone/nothing.c", Some(&dir), None).unwrap_err();
        assert_eq!(e, "source not on this machine: /gone/nothing.c");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
