use super::*;
use crate::analysis::facts::DataSymbol;
use crate::procinfo::fds::{EpollWatch, FdEntry, FdInfo, Holder};
use crate::procinfo::net::SocketTable;

fn facts() -> ProcessFacts {
    let mut f = ProcessFacts {
        pid: 100,
        live: [100, 101, 102].into(),
        names: [(100, "main".to_string()), (101, "worker-7".to_string())].into(),
        holders_complete: true,
        ..Default::default()
    };
    f.symbols.insert(
        0x5000,
        DataSymbol {
            name: "m_accounts".into(),
            offset: 0,
        },
    );
    f.symbols.insert(
        0x6028,
        DataSymbol {
            name: "queue".into(),
            offset: 0x28,
        },
    );
    f.elsewhere.insert(4238, Elsewhere::Gone);
    f
}

fn lock(kind: LockKind, addr: u64, owner: Owner) -> LockWait {
    LockWait {
        kind,
        futex: addr,
        addr,
        owner,
        role: None,
        pi: false,
        owner_died: false,
        by: None,
        refused: false,
        identified: false,
    }
}

#[test]
fn locks_read_as_sentences() {
    let f = facts();
    assert_eq!(
        lock_text(&lock(LockKind::Mutex, 0x5000, Owner::Thread(101)), 102, &f),
        "mutex 0x5000 <m_accounts> held by 101 \"worker-7\""
    );
    assert_eq!(
        lock_text(&lock(LockKind::Mutex, 0x5000, Owner::Thread(4238)), 102, &f),
        "mutex 0x5000 <m_accounts> held by 4238, which has exited (it can never be released)"
    );
    assert_eq!(
        lock_text(&lock(LockKind::Mutex, 0x5000, Owner::Thread(102)), 102, &f),
        "mutex 0x5000 <m_accounts> held by this same thread (relocking a mutex it holds)"
    );
    assert_eq!(
        lock_text(
            &lock(LockKind::Condvar, 0x6028, Owner::NotRecorded),
            102,
            &f
        ),
        "condvar 0x6028 <queue+0x28> (no owner)"
    );
    let mut std_mutex = lock(LockKind::Futex, 0x7000, Owner::NotRecorded);
    std_mutex.by = Some("std::sys::sync::mutex::futex::Mutex::lock_contended".into());
    assert_eq!(
        lock_text(&std_mutex, 102, &f),
        "futex 0x7000 (owner not recorded by this lock) in \
         std::sys::sync::mutex::futex::Mutex::lock_contended"
    );
    let mut rw = lock(LockKind::Rwlock, 0x5000, Owner::Readers);
    rw.role = Some(Role::Write);
    assert_eq!(
        lock_text(&rw, 102, &f),
        "rwlock (to write) 0x5000 <m_accounts> held by readers (readers are not recorded)"
    );
    let mut refused = lock(LockKind::Mutex, 0x5000, Owner::Thread(101));
    refused.refused = true;
    refused.identified = true;
    refused.pi = true;
    let t = lock_text(&refused, 102, &f);
    assert!(
        t.starts_with(
            "priority-inheritance mutex 0x5000 <m_accounts> held by 101 \"worker-7\": \
             the kernel refused it with EDEADLK"
        ),
        "{t}"
    );
    let join = lock(LockKind::Join, 0x9000, Owner::Thread(101));
    assert_eq!(
        lock_text(&join, 100, &f),
        "join: waits for 101 \"worker-7\" to exit"
    );
}

#[test]
fn a_pipe_names_who_holds_the_other_end() {
    let mut f = facts();
    f.fds.insert(
        3,
        FdEntry {
            fd: 3,
            target: FdTarget::Pipe(88),
            read: true,
            write: false,
        },
    );
    let h = |pid, fd, read, write| Holder {
        pid,
        comm: "cat".into(),
        fd,
        read,
        write,
    };
    f.holders.insert(
        88,
        vec![
            h(100, 3, true, false),
            h(100, 4, false, true),
            h(555, 1, false, true),
        ],
    );
    let w = FdWait {
        call: "read".into(),
        fds: vec![3],
    };
    assert_eq!(
        fd_text(&w, &f),
        "read fd 3 pipe:[88] (write end: this process fd 4, 555 \"cat\" fd 1)"
    );
    f.holders.clear();
    assert_eq!(
        fd_text(&w, &f),
        "read fd 3 pipe:[88] (write end: none open)"
    );
    f.holders_complete = false;
    assert_eq!(
        fd_text(&w, &f),
        "read fd 3 pipe:[88] (write end: not found (search incomplete))"
    );
    assert_eq!(
        fd_text(
            &FdWait {
                call: "read".into(),
                fds: vec![9]
            },
            &f
        ),
        "read fd 9 fd 9 (closed since)"
    );
}

#[test]
fn sockets_eventfds_and_epoll_sets() {
    let mut f = facts();
    let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 41003 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 41002 1 0000000000000000 20 4 30 10 -1
";
    f.sockets = SocketTable::parse(tcp, "", "");
    f.fds.insert(
        5,
        FdEntry {
            fd: 5,
            target: FdTarget::Socket(41002),
            read: true,
            write: true,
        },
    );
    f.fds.insert(
        6,
        FdEntry {
            fd: 6,
            target: FdTarget::Anon("eventfd".into()),
            read: true,
            write: true,
        },
    );
    f.fds.insert(
        7,
        FdEntry {
            fd: 7,
            target: FdTarget::Anon("eventpoll".into()),
            read: true,
            write: true,
        },
    );
    f.fdinfo.insert(
        6,
        FdInfo {
            eventfd_count: Some(0),
            ..Default::default()
        },
    );
    f.fdinfo.insert(
        7,
        FdInfo {
            epoll: vec![
                EpollWatch { fd: 5, events: 1 },
                EpollWatch { fd: 6, events: 1 },
            ],
            ..Default::default()
        },
    );
    f.holders.insert(
        41003,
        vec![Holder {
            pid: 100,
            comm: "main".into(),
            fd: 4,
            read: true,
            write: true,
        }],
    );
    assert_eq!(
        fd_target(5, false, &f),
        "socket 127.0.0.1:54321 -> 127.0.0.1:40000 (tcp established), peer held by this process fd 4"
    );
    assert_eq!(fd_target(6, false, &f), "eventfd (count 0)");
    assert_eq!(
        fd_target(7, false, &f),
        "epoll set watching fd 5 (socket 127.0.0.1:54321 -> 127.0.0.1:40000), fd 6 (eventfd)"
    );
    let poll = FdWait {
        call: "poll".into(),
        fds: vec![5, 6],
    };
    assert!(fd_text(&poll, &f).starts_with("poll on fd 5 socket 127.0.0.1:54321"));
}

#[test]
fn whole_waits_with_their_duration() {
    let f = facts();
    let w = ThreadWait {
        tid: 101,
        wait: Wait::Sleep {
            call: "clock_nanosleep".into(),
        },
        since_ms: Some(41_300),
        at: None,
        confirmed: false,
    };
    assert_eq!(wait_text(&w, &f), "sleeping (clock_nanosleep), for 41 s");
    for (ms, text) in [
        (340, "340 ms"),
        (4_250, "4.2 s"),
        (41_000, "41 s"),
        (725_000, "12 min 5 s"),
        (12_000_000, "3 h 20 min"),
    ] {
        assert_eq!(duration(ms), text);
    }
}
