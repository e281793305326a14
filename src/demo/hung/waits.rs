//! `ptscope __demo hung-waits`: one thread per kind of wait that has no lock owner to follow.
//!
//! - "cv-wait": pthread_cond_wait on `ptscope_queue_cv` (with `ptscope_queue_mtx`);
//! - "std-mutex": Rust std Mutex::lock on a mutex the main thread holds (a bare futex);
//! - "recv": recv() on a connected loopback TCP socket whose peer (held by this process) never
//!   writes;
//! - "accept": accept() on a listening loopback socket;
//! - "epoll": epoll_wait on a set watching an eventfd and a pipe;
//! - "sleeper": a long nanosleep; "joiner": pthread_join on the sleeper.
//!
//! READY {"pid", "cv", "cv_tid", "std_mutex_tid", "recv_tid", "recv_fd", "local", "peer",
//! "accept_tid", "listen", "epoll_tid", "epoll_fd", "eventfd", "pipe_read", "sleeper_tid",
//! "joiner_tid"} once each thread sleeps in its call.

use super::chain::wait_for_call;
use super::{gettid, pipe, ready, spawn, Cond, Mutex};
use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::mpsc;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_queue_cv: Cond = Cond::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_queue_mtx: Mutex = Mutex::new();

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_waits_cond() -> i32 {
    ptscope_queue_mtx.lock();
    // SAFETY: both are initialised statics; the mutex is held, as pthread_cond_wait requires.
    black_box(unsafe { libc::pthread_cond_wait(ptscope_queue_cv.ptr(), ptscope_queue_mtx.ptr()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_waits_recv(fd: i32) -> isize {
    let mut buf = [0u8; 64];
    // SAFETY: buf is a live local of the length passed.
    black_box(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_waits_accept(fd: i32) -> i32 {
    // SAFETY: accept with null address pointers only returns the new descriptor.
    black_box(unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_waits_epoll(epfd: i32) -> i32 {
    // SAFETY: an all-zero epoll_event is valid; the array has the length passed.
    let mut evs = [unsafe { std::mem::zeroed::<libc::epoll_event>() }; 4];
    // SAFETY: evs is a live local array of 4 events.
    black_box(unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), 4, -1) })
}

fn fail(what: &str) -> ! {
    eprintln!("{what}: {}", std::io::Error::last_os_error());
    std::process::exit(1)
}

fn tid_of<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> (i32, std::thread::JoinHandle<T>) {
    let (tx, rx) = mpsc::channel();
    let h = spawn(name, move || {
        let _ = tx.send(gettid());
        f()
    });
    (rx.recv().unwrap_or(0), h)
}

pub fn run() -> i32 {
    let (cv_tid, _) = tid_of("cv-wait", || ptscope_waits_cond());

    let std_mutex: &'static std::sync::Mutex<u32> = Box::leak(Box::new(std::sync::Mutex::new(0)));
    let held = std_mutex.lock();
    let (std_mutex_tid, _) = tid_of("std-mutex", move || {
        let g = std_mutex.lock();
        black_box(g.is_ok())
    });

    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        fail("bind")
    };
    let Ok(listen_addr) = listener.local_addr() else {
        fail("local_addr")
    };
    let Ok(client) = TcpStream::connect(listen_addr) else {
        fail("connect")
    };
    let Ok((server_side, _)) = listener.accept() else {
        fail("accept")
    };
    let local = client
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let peer = client
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let recv_fd = client.into_raw_fd();
    let (recv_tid, _) = tid_of("recv", move || ptscope_waits_recv(recv_fd));
    let listen_fd = listener.as_raw_fd();
    let (accept_tid, _) = tid_of("accept", move || ptscope_waits_accept(listen_fd));

    // SAFETY: plain descriptor-creating calls; failures are checked.
    let (epfd, efd) = unsafe { (libc::epoll_create1(0), libc::eventfd(0, 0)) };
    if epfd < 0 || efd < 0 {
        fail("epoll/eventfd");
    }
    let [pr, _pw] = pipe();
    for fd in [efd, pr] {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: ev is a live local; epfd and fd are open descriptors.
        if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            fail("epoll_ctl");
        }
    }
    let (epoll_tid, _) = tid_of("epoll", move || ptscope_waits_epoll(epfd));

    let (sleeper_tid, sleeper) = tid_of("sleeper", || {
        std::thread::sleep(std::time::Duration::from_secs(1_000_000))
    });
    let (joiner_tid, _) = tid_of("joiner", move || black_box(sleeper.join().is_ok()));

    for (tid, call) in [
        (cv_tid, "futex"),
        (std_mutex_tid, "futex"),
        (recv_tid, "recvfrom"),
        (accept_tid, "accept"),
        (epoll_tid, "epoll_wait"),
        (sleeper_tid, "clock_nanosleep"),
        (joiner_tid, "futex"),
    ] {
        wait_for_call(tid, call);
    }
    let v = serde_json::json!({
        "pid": std::process::id(),
        "cv": ptscope_queue_cv.addr(),
        "cv_tid": cv_tid,
        "std_mutex_tid": std_mutex_tid,
        "recv_tid": recv_tid,
        "recv_fd": recv_fd,
        "local": local,
        "peer": peer,
        "peer_fd": server_side.as_raw_fd(),
        "accept_tid": accept_tid,
        "listen": listen_addr.to_string(),
        "listen_fd": listen_fd,
        "epoll_tid": epoll_tid,
        "epoll_fd": epfd,
        "eventfd": efd,
        "pipe_read": pr,
        "sleeper_tid": sleeper_tid,
        "joiner_tid": joiner_tid,
    });
    // Keep what the waiters need alive with the main thread.
    let _keep = (held, listener, server_side);
    ready(v)
}
