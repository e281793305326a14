//! Where one of our own functions lives in another process running the same binary: the same
//! offset from the executable's load base (PIE places the image at a different base in each).

use crate::procinfo::{maps, tasks, Mapping};
use std::io;
use std::path::Path;

/// The start of the lowest mapping of `exe` at file offset 0.
pub fn load_base(maps: &[Mapping], exe: &Path) -> Option<u64> {
    let exe = exe.to_str()?;
    maps.iter()
        .filter(|m| m.file_path() == exe && m.offset == 0)
        .map(|m| m.start)
        .min()
}

fn base_of(pid: i32) -> io::Result<u64> {
    let exe = tasks::exe_of(pid)?;
    let maps = maps::read_maps(pid)?;
    load_base(&maps, &exe).ok_or_else(|| {
        io::Error::other(format!("{} is not mapped in process {pid}", exe.display()))
    })
}

/// `ours` (an address in this process) translated into process `pid`, which must run the same
/// executable file.
pub fn in_target(ours: u64, pid: i32) -> io::Result<u64> {
    let me = std::process::id() as i32;
    let (my_exe, their_exe) = (tasks::exe_of(me)?, tasks::exe_of(pid)?);
    if my_exe != their_exe {
        return Err(io::Error::other(format!(
            "process {pid} runs {}, not {}",
            their_exe.display(),
            my_exe.display()
        )));
    }
    let offset = ours.wrapping_sub(base_of(me)?);
    Ok(base_of(pid)?.wrapping_add(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_the_offset_zero_mapping_of_the_exe() {
        let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234 /usr/bin/ptscope
55d0c0a01000-55d0c0a05000 r-xp 00001000 08:01 1234 /usr/bin/ptscope
7f3a1c200000-7f3a1c228000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd5a3a0000-7ffd5a3c2000 rw-p 00000000 00:00 0 [stack]
";
        let maps = maps::parse_maps(maps);
        assert_eq!(
            load_base(&maps, Path::new("/usr/bin/ptscope")),
            Some(0x55d0c0a00000)
        );
        assert_eq!(load_base(&maps, Path::new("/usr/bin/other")), None);
    }

    #[test]
    fn our_own_process_maps_to_itself() {
        let f = base_of as *const () as usize as u64;
        assert_eq!(in_target(f, std::process::id() as i32).unwrap(), f);
    }
}
