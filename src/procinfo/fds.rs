//! A process's file descriptors: what each one is (`/proc/PID/fd/N` links, through the procfs
//! crate), what the kernel adds about it (`/proc/PID/fdinfo/N`: epoll sets, eventfd counters),
//! and who else holds the same pipe or socket.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::time::Instant;

/// What a descriptor refers to, from its /proc/PID/fd link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdTarget {
    /// A file or device path (untrusted text).
    Path(String),
    Pipe(u64),
    Socket(u64),
    /// `anon_inode:[eventfd]`, `anon_inode:[eventpoll]`, `anon_inode:[timerfd]`...: the name
    /// between the brackets.
    Anon(String),
    /// Anything else the link said (memfd, a namespace handle, an unknown kind).
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: i32,
    pub target: FdTarget,
    /// Opened for reading / writing: the permission bits the kernel gives the fd link
    /// (`lr-x` for the read end of a pipe, `l-wx` for the write end).
    pub read: bool,
    pub write: bool,
}

fn io_err(e: procfs::ProcError) -> io::Error {
    match e {
        procfs::ProcError::Io(e, _) => e,
        procfs::ProcError::NotFound(_) => io::Error::from(io::ErrorKind::NotFound),
        procfs::ProcError::PermissionDenied(_) => io::Error::from(io::ErrorKind::PermissionDenied),
        other => io::Error::other(other.to_string()),
    }
}

fn entry(info: procfs::process::FDInfo) -> FdEntry {
    use procfs::process::FDTarget as P;
    let target = match info.target {
        P::Path(p) => FdTarget::Path(p.to_string_lossy().into_owned()),
        P::Pipe(i) => FdTarget::Pipe(i),
        P::Socket(i) => FdTarget::Socket(i),
        P::AnonInode(name) => FdTarget::Anon(name.trim_matches(['[', ']']).to_string()),
        P::Net(i) => FdTarget::Other(format!("net:[{i}]")),
        P::MemFD(name) => FdTarget::Other(format!("memfd:{name}")),
        P::Other(kind, i) => FdTarget::Other(format!("{kind}:[{i}]")),
        P::Unknown(kind, data) => FdTarget::Other(format!("{kind}:{data}")),
    };
    FdEntry {
        fd: info.fd,
        target,
        read: info.mode & 0o400 != 0,
        write: info.mode & 0o200 != 0,
    }
}

/// One descriptor of a process.
pub fn fd_entry(pid: i32, fd: i32) -> io::Result<FdEntry> {
    procfs::process::FDInfo::from_raw_fd(pid, fd)
        .map(entry)
        .map_err(io_err)
}

/// Every descriptor of a process, in fd order; those closed mid-listing are left out.
pub fn all_fds(pid: i32) -> io::Result<Vec<FdEntry>> {
    let proc = procfs::process::Process::new(pid).map_err(io_err)?;
    let mut out: Vec<FdEntry> = proc
        .fd()
        .map_err(io_err)?
        .filter_map(|f| f.ok().map(entry))
        .collect();
    out.sort_by_key(|e| e.fd);
    Ok(out)
}

/// A descriptor the process watches through an epoll set (an fdinfo `tfd:` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpollWatch {
    pub fd: i32,
    /// EPOLLIN, EPOLLOUT... as the kernel's mask.
    pub events: u32,
}

/// What /proc/PID/fdinfo/N adds to the link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    /// The open flags (O_NONBLOCK...), octal in the file.
    pub flags: u32,
    pub eventfd_count: Option<u64>,
    pub epoll: Vec<EpollWatch>,
}

pub fn fdinfo(pid: i32, fd: i32) -> io::Result<FdInfo> {
    let mut buf = Vec::with_capacity(512);
    super::read_small(&format!("/proc/{pid}/fdinfo/{fd}"), &mut buf)?;
    Ok(parse_fdinfo(&String::from_utf8_lossy(&buf)))
}

/// `flags:\t02004002`, `eventfd-count: 5`, `tfd: 7 events: 19 data: ... pos:0 ino:...`.
pub fn parse_fdinfo(text: &str) -> FdInfo {
    let mut info = FdInfo::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("flags:") {
            info.flags = u32::from_str_radix(v.trim(), 8).unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("eventfd-count:") {
            // Printed as hex (%16llx) by the kernel.
            info.eventfd_count = u64::from_str_radix(v.trim(), 16).ok();
        } else if let Some(rest) = line.strip_prefix("tfd:") {
            let mut words = rest.split_ascii_whitespace();
            let fd = words.next().and_then(|w| w.parse().ok());
            let events = match (words.next(), words.next()) {
                (Some("events:"), Some(e)) => u32::from_str_radix(e, 16).ok(),
                _ => None,
            };
            if let (Some(fd), Some(events)) = (fd, events) {
                info.epoll.push(EpollWatch { fd, events });
            }
        }
    }
    info
}

/// Someone holding a pipe or socket: a process, one of its descriptors and its direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    /// The process's comm (untrusted text).
    pub comm: String,
    pub fd: i32,
    pub read: bool,
    pub write: bool,
}

/// Who holds each of `inodes` (pipes or sockets), searched over every process /proc lets us
/// read, until `deadline`. Returns the holders by inode, and whether the search was complete.
pub fn holders(inodes: &HashSet<u64>, deadline: Instant) -> (BTreeMap<u64, Vec<Holder>>, bool) {
    let mut out: BTreeMap<u64, Vec<Holder>> = BTreeMap::new();
    let Ok(all) = procfs::process::all_processes() else {
        return (out, false);
    };
    for proc in all {
        if Instant::now() >= deadline {
            return (out, false);
        }
        let Ok(proc) = proc else { continue };
        let Ok(fds) = proc.fd() else { continue };
        let mut comm = None;
        for f in fds.flatten() {
            let e = entry(f);
            let inode = match e.target {
                FdTarget::Pipe(i) | FdTarget::Socket(i) => i,
                _ => continue,
            };
            if !inodes.contains(&inode) {
                continue;
            }
            let comm = comm
                .get_or_insert_with(|| super::tasks::process_name(proc.pid))
                .clone();
            out.entry(inode).or_default().push(Holder {
                pid: proc.pid,
                comm,
                fd: e.fd,
                read: e.read,
                write: e.write,
            });
        }
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_of_epoll_and_eventfd() {
        let epoll = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n\
            tfd:        5 events:       19 data:                5  pos:0 ino:4d2 sdev:e\n\
            tfd:        9 events:        1 data:      7f00000009  pos:0 ino:4d3 sdev:e\n";
        let info = parse_fdinfo(epoll);
        assert_eq!(info.flags, 2);
        assert_eq!(
            info.epoll,
            vec![
                EpollWatch {
                    fd: 5,
                    events: 0x19
                },
                EpollWatch { fd: 9, events: 1 }
            ]
        );
        let efd = parse_fdinfo("pos:\t0\nflags:\t02004002\neventfd-count:                a\n");
        assert_eq!(efd.eventfd_count, Some(10));
        assert_eq!(efd.flags, 0o2004002);
        assert_eq!(parse_fdinfo("garbage"), FdInfo::default());
    }

    #[test]
    fn a_pipe_reads_back_with_both_ends_and_their_holder() {
        let mut fds = [0i32; 2];
        // SAFETY: fds has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let me = std::process::id() as i32;
        let r = fd_entry(me, fds[0]).unwrap();
        let w = fd_entry(me, fds[1]).unwrap();
        let FdTarget::Pipe(inode) = r.target else {
            panic!("{r:?}")
        };
        assert_eq!(w.target, FdTarget::Pipe(inode));
        assert!(r.read && !r.write && w.write && !w.read);
        assert!(all_fds(me).unwrap().iter().any(|e| e.fd == fds[1]));
        let wanted: HashSet<u64> = [inode].into();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let (found, _) = holders(&wanted, deadline);
        let mut ours: Vec<(i32, i32, bool)> = found[&inode]
            .iter()
            .filter(|h| h.pid == me)
            .map(|h| (h.pid, h.fd, h.write))
            .collect();
        ours.sort();
        assert_eq!(ours, vec![(me, fds[0], false), (me, fds[1], true)]);
        // SAFETY: closing the two descriptors this test opened.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert!(fd_entry(me, 99_999).is_err());
    }
}
