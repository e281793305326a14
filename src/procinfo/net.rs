//! The kernel's socket tables (/proc/PID/net/{tcp,tcp6,udp,udp6,unix}, read through the procfs
//! crate), indexed by socket inode: what a `socket:[INODE]` descriptor is connected to.
//!
//! The tables are per network namespace, so they are read through the target's own /proc/PID/net,
//! once per dump, not per thread (each is one pass over every socket of the namespace).

use procfs::prelude::*;
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Unix,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Unix => "unix",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Inet(SocketAddr),
    /// A unix socket's bound path (`@name` for the abstract namespace), untrusted text; None
    /// when unbound.
    Unix(Option<String>),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Inet(a) => write!(f, "{a}"),
            Endpoint::Unix(Some(p)) => write!(f, "{p}"),
            Endpoint::Unix(None) => write!(f, "(unnamed)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local: Endpoint,
    /// The remote address of an inet socket (0.0.0.0:0 when unconnected); None for unix
    /// sockets, whose peer the table does not give.
    pub peer: Option<SocketAddr>,
    /// `established`, `listen`, `close-wait`, `connected`...
    pub state: &'static str,
    /// Bytes queued to receive and to send.
    pub rx_queue: u32,
    pub tx_queue: u32,
}

impl Socket {
    /// Connected to a real peer (not 0.0.0.0:0 / [::]:0).
    pub fn has_peer(&self) -> bool {
        self.peer
            .is_some_and(|p| !p.ip().is_unspecified() || p.port() != 0)
    }
}

fn tcp_state(s: &procfs::net::TcpState) -> &'static str {
    use procfs::net::TcpState::*;
    match s {
        Established => "established",
        SynSent => "syn-sent",
        SynRecv => "syn-recv",
        FinWait1 => "fin-wait-1",
        FinWait2 => "fin-wait-2",
        TimeWait => "time-wait",
        Close => "close",
        CloseWait => "close-wait",
        LastAck => "last-ack",
        Listen => "listen",
        Closing => "closing",
        NewSynRecv => "new-syn-recv",
    }
}

fn udp_state(s: &procfs::net::UdpState) -> &'static str {
    match s {
        procfs::net::UdpState::Established => "connected",
        procfs::net::UdpState::Close => "unconnected",
    }
}

fn unix_state(s: &procfs::net::UnixState) -> &'static str {
    use procfs::net::UnixState::*;
    match s {
        UNCONNECTED => "unconnected",
        CONNECTING => "connecting",
        CONNECTED => "connected",
        DISCONNECTING => "disconnecting",
    }
}

/// Every socket of a network namespace, by inode.
#[derive(Clone, Debug, Default)]
pub struct SocketTable {
    by_inode: HashMap<u64, Socket>,
}

impl SocketTable {
    /// The tables as `pid` sees them. A table that cannot be read (no IPv6, permission) is left
    /// out; the others still answer.
    pub fn read(pid: i32) -> SocketTable {
        let mut t = SocketTable::default();
        let Ok(p) = procfs::process::Process::new(pid) else {
            return t;
        };
        for e in p.tcp().into_iter().chain(p.tcp6()).flatten() {
            t.add_tcp(e);
        }
        for e in p.udp().into_iter().chain(p.udp6()).flatten() {
            t.add_udp(e);
        }
        for e in p.unix().into_iter().flatten() {
            t.add_unix(e);
        }
        t
    }

    /// From the text of the five files (tests, and anything read another way).
    pub fn parse(tcp: &str, udp: &str, unix: &str) -> SocketTable {
        let si = system_info();
        let mut t = SocketTable::default();
        if let Ok(procfs::net::TcpNetEntries(v)) =
            procfs::net::TcpNetEntries::from_buf_read(lines(tcp), &si)
        {
            v.into_iter().for_each(|e| t.add_tcp(e));
        }
        if let Ok(procfs::net::UdpNetEntries(v)) =
            procfs::net::UdpNetEntries::from_buf_read(lines(udp), &si)
        {
            v.into_iter().for_each(|e| t.add_udp(e));
        }
        if let Ok(procfs::net::UnixNetEntries(v)) =
            procfs::net::UnixNetEntries::from_buf_read(lines(unix))
        {
            v.into_iter().for_each(|e| t.add_unix(e));
        }
        t
    }

    fn add_tcp(&mut self, e: procfs::net::TcpNetEntry) {
        self.by_inode.insert(
            e.inode,
            Socket {
                proto: Proto::Tcp,
                local: Endpoint::Inet(e.local_address),
                peer: Some(e.remote_address),
                state: tcp_state(&e.state),
                rx_queue: e.rx_queue,
                tx_queue: e.tx_queue,
            },
        );
    }

    fn add_udp(&mut self, e: procfs::net::UdpNetEntry) {
        self.by_inode.insert(
            e.inode,
            Socket {
                proto: Proto::Udp,
                local: Endpoint::Inet(e.local_address),
                peer: Some(e.remote_address),
                state: udp_state(&e.state),
                rx_queue: e.rx_queue,
                tx_queue: e.tx_queue,
            },
        );
    }

    fn add_unix(&mut self, e: procfs::net::UnixNetEntry) {
        self.by_inode.insert(
            e.inode,
            Socket {
                proto: Proto::Unix,
                local: Endpoint::Unix(e.path.map(|p| p.to_string_lossy().into_owned())),
                peer: None,
                state: unix_state(&e.state),
                rx_queue: 0,
                tx_queue: 0,
            },
        );
    }

    pub fn get(&self, inode: u64) -> Option<&Socket> {
        self.by_inode.get(&inode)
    }

    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }

    /// The other end of a TCP connection inside this namespace (a loopback or local peer): the
    /// socket whose local and remote addresses are this one's, swapped.
    pub fn tcp_peer_of(&self, inode: u64) -> Option<u64> {
        let me = self.get(inode)?;
        if me.proto != Proto::Tcp || !me.has_peer() {
            return None;
        }
        let Endpoint::Inet(local) = me.local else {
            return None;
        };
        self.by_inode
            .iter()
            .find(|(i, s)| {
                **i != inode
                    && s.proto == Proto::Tcp
                    && s.peer == Some(local)
                    && s.local == Endpoint::Inet(me.peer.unwrap_or(local))
            })
            .map(|(i, _)| *i)
    }
}

fn lines(text: &str) -> std::io::BufReader<&[u8]> {
    std::io::BufReader::new(text.as_bytes())
}

/// The little procfs needs to parse the tables: only the byte order matters for addresses.
fn system_info() -> procfs::ExplicitSystemInfo {
    procfs::ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 41003 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:9C40 01 00000000:00000005 00:00000000 00000000     0        0 41002 1 0000000000000000 20 4 30 10 -1
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  12: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5151 2 0000000000000000 0
";
    const UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 7001 /run/app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 7002
";

    #[test]
    fn tables_parse_by_inode_with_addresses_and_states() {
        let t = SocketTable::parse(TCP, UDP, UNIX);
        assert_eq!(t.len(), 6);
        let listen = t.get(41001).unwrap();
        assert_eq!(listen.state, "listen");
        assert_eq!(listen.local.to_string(), "127.0.0.1:40000");
        assert!(!listen.has_peer());
        let client = t.get(41002).unwrap();
        assert_eq!(
            (
                client.local.to_string(),
                client.peer.unwrap().to_string(),
                client.state,
                client.rx_queue
            ),
            (
                "127.0.0.1:54321".into(),
                "127.0.0.1:40000".into(),
                "established",
                5
            )
        );
        assert_eq!(t.tcp_peer_of(41002), Some(41003));
        assert_eq!(t.tcp_peer_of(41003), Some(41002));
        assert_eq!(t.tcp_peer_of(41001), None);
        let udp = t.get(5151).unwrap();
        assert_eq!((udp.proto, udp.state), (Proto::Udp, "unconnected"));
        assert_eq!(t.get(7001).unwrap().local.to_string(), "/run/app.sock");
        assert_eq!(t.get(7002).unwrap().state, "connected");
        assert_eq!(t.get(7002).unwrap().local.to_string(), "(unnamed)");
        assert!(t.get(1).is_none());
    }

    #[test]
    fn a_live_listening_socket_is_found_by_its_inode() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        let super::super::fds::FdTarget::Socket(inode) =
            super::super::fds::fd_entry(me, fd).unwrap().target
        else {
            panic!("not a socket")
        };
        let t = SocketTable::read(me);
        let s = t.get(inode).expect("listed");
        assert_eq!(s.local.to_string(), format!("127.0.0.1:{port}"));
        assert_eq!(s.state, "listen");
    }
}
