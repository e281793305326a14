use super::*;
use crate::procinfo::ThreadKernelView;
use crate::symbols::{FrameKind, Location};

const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
const EXE: &str = "/srv/app";

fn frame(function: &str, module: &str) -> Frame {
    Frame {
        pc: 0x1000,
        sp: 0x2000,
        kind: FrameKind::Cfi,
        location: Location {
            function: Some(function.into()),
            module: Some(module.into()),
            mapped: true,
            ..Default::default()
        },
    }
}

fn view(state: char, wchan: &str, syscall: &str) -> ThreadKernelView {
    ThreadKernelView {
        tid: 7,
        comm: "t".into(),
        state,
        wchan: (!wchan.is_empty()).then(|| wchan.to_string()),
        syscall: SyscallState::parse(syscall),
        cpu_ms: 0,
    }
}

fn input<'a>(k: &'a ThreadKernelView, frames: &'a [Frame]) -> ThreadInput<'a> {
    ThreadInput {
        tid: 7,
        name: "t",
        kernel: Some(k),
        frames,
        regs: None,
        off_cpu_ms: Some(41_000),
        kstack: None,
    }
}

fn mutex_mem(at: u64, lock: u32, owner: i32, kind: i32) -> MemWords {
    let mut b = vec![0u8; 32];
    b[0..4].copy_from_slice(&lock.to_le_bytes());
    b[8..12].copy_from_slice(&owner.to_le_bytes());
    b[16..20].copy_from_slice(&kind.to_le_bytes());
    let mut m = MemWords::default();
    m.insert(at, b);
    m
}

fn lock_frames() -> Vec<Frame> {
    vec![
        frame("__lll_lock_wait", LIBC),
        frame("pthread_mutex_lock", LIBC),
        frame("worker_take_accounts", EXE),
        frame("start_thread", LIBC),
    ]
}

#[test]
fn a_glibc_mutex_waiter_names_the_owner_recorded_in_the_mutex() {
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x5000 0x80 0x2 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let frames = lock_frames();
    let w = classify(&input(&k, &frames), &mutex_mem(0x5000, 2, 4250, 0));
    let Wait::Lock(l) = &w.wait else {
        panic!("{w:?}")
    };
    assert_eq!(
        (l.kind, l.addr, l.owner, l.pi),
        (LockKind::Mutex, 0x5000, Owner::Thread(4250), false)
    );
    assert_eq!(l.by.as_deref(), Some("pthread_mutex_lock"));
    assert_eq!(w.at, Some(2), "where: the program's frame");
    assert_eq!(w.since_ms, Some(41_000));
    assert_eq!(w.wait.kind(), "mutex");
}

#[test]
fn without_frames_a_futex_stays_a_futex() {
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x5000 0x80 0x2 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let w = classify(&input(&k, &[]), &mutex_mem(0x5000, 2, 4250, 0));
    let l = w.wait.lock().unwrap();
    assert_eq!((l.kind, l.owner), (LockKind::Futex, Owner::NotRecorded));
    assert_eq!(w.at, None);
}

#[test]
fn a_pi_lock_takes_its_owner_from_the_futex_word() {
    // futex(ADDR, FUTEX_LOCK_PI_PRIVATE, ...): no frames needed, the kernel defines the word.
    let k = view(
        'S',
        "rt_mutex_schedule",
        "202 0x6000 0x86 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let w = classify(
        &input(&k, &[]),
        &mutex_mem(0x6000, 0x8000_0000 | 4251, 0, 0x20),
    );
    let l = w.wait.lock().unwrap();
    assert_eq!(
        (l.kind, l.owner, l.pi),
        (LockKind::Mutex, Owner::Thread(4251), true)
    );
}

#[test]
fn a_refused_pi_locker_is_recognised_and_its_mutex_found_among_pi_candidates() {
    // futex(STACK, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0) just above sp.
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x7ffd1040 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd1000 0x7f01",
    );
    let mut frames = vec![
        frame("__futex_abstimed_wait_common", LIBC),
        frame("__pthread_mutex_lock_full", LIBC),
        frame("pi_take", EXE),
        frame("worker", EXE),
    ];
    frames[2].sp = 0x7ffd1100;
    frames[3].sp = 0x7ffd1200;
    let mut mem = mutex_mem(0x9000, 0x8000_0000 | 300, 300, 0x20);
    let t = input(&k, &frames);
    let l = classify(&t, &mem).wait;
    let l = l.lock().unwrap();
    assert!(l.refused && l.pi && !l.identified);
    assert_eq!(l.owner, Owner::Unknown);

    // Searched: from sp through the caller of __pthread_mutex_lock_full, whose own frame
    // starts at its sp (0x7ffd1020 here).
    frames[1].sp = 0x7ffd1020;
    let t = input(&k, &frames);
    assert_eq!(refused_scan(&t), Some((0x7ffd1000, 0x200, 0x7ffd1020)));
    let mut stack = vec![0u8; 0x200];
    // Below the frame: a saved register pointing at a mutex's __kind (0x9000 + 16).
    stack[8..16].copy_from_slice(&0x9010u64.to_le_bytes());
    // In the frames: a normal mutex and a PI mutex held by the locker itself.
    stack[0x28..0x30].copy_from_slice(&0x5000u64.to_le_bytes());
    stack[0x30..0x38].copy_from_slice(&0x9100u64.to_le_bytes());
    mem.insert(0x7ffd1000, stack);
    let [near, far] = refused_candidates(&t, &mem);
    assert!(
        near.contains(&0x9000) && near.contains(&0x9010),
        "{near:x?}"
    );
    assert!(far.contains(&0x5000) && far.contains(&0x9100), "{far:x?}");
    assert!(
        !near.contains(&0x7ffd1040) && !far.contains(&0x7ffd1040),
        "not the parking word"
    );
    mem.insert(
        0x5000,
        mutex_mem(0, 2, 12, 0).bytes(0, 32).unwrap().to_vec(),
    );
    mem.insert(
        0x9100,
        mutex_mem(0, 0x8000_0000 | 7, 7, 0x20)
            .bytes(0, 32)
            .unwrap()
            .to_vec(),
    );
    assert_eq!(pi_candidates(&near, &mem), vec![(0x9000, 300)]);
    assert_eq!(pi_candidates(&far, &mem), vec![(0x9100, 7)]);
}

#[test]
fn an_rwlock_reader_waits_for_the_recorded_writer() {
    let lock = 0x7000u64;
    // Reader on __wrphase_futex (lock+8), expecting 1|FUTEX_USED.
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x7008 0x89 0x3 0x0 0x0 0xffffffff 0x7f00 0x7f01",
    );
    let frames = vec![
        frame("__futex_abstimed_wait_common", LIBC),
        frame("__pthread_rwlock_rdlock_full64", LIBC),
        frame("pthread_rwlock_rdlock", LIBC),
        frame("reader", EXE),
    ];
    let mut mem = MemWords::default();
    let mut b = vec![0u8; 56];
    b[24..28].copy_from_slice(&4300i32.to_le_bytes());
    mem.insert(lock, b);
    let w = classify(&input(&k, &frames), &mem);
    let l = w.wait.lock().unwrap();
    assert_eq!(
        (l.kind, l.addr, l.owner, l.role),
        (
            LockKind::Rwlock,
            lock,
            Owner::Thread(4300),
            Some(Role::Read)
        )
    );
    // A writer waiting on __wrphase_futex during a read phase: held by readers.
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x7008 0x89 0x2 0x0 0x0 0xffffffff 0x7f00 0x7f01",
    );
    let frames = vec![frame("pthread_rwlock_wrlock", LIBC), frame("writer", EXE)];
    let mut mem = MemWords::default();
    mem.insert(lock, vec![0u8; 56]);
    let l = classify(&input(&k, &frames), &mem).wait;
    let l = l.lock().unwrap();
    assert_eq!((l.owner, l.role), (Owner::Readers, Some(Role::Write)));
}

#[test]
fn condvars_semaphores_and_rust_std_locks_record_no_owner() {
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x8028 0x189 0x0 0x0 0x0 0xffffffff 0x7f00 0x7f01",
    );
    for (f, kind) in [
        ("__pthread_cond_wait_common", LockKind::Condvar),
        ("sem_wait", LockKind::Semaphore),
        (
            "std::sys::sync::condvar::futex::Condvar::wait",
            LockKind::Condvar,
        ),
        (
            "std::sys::sync::mutex::futex::Mutex::lock_contended",
            LockKind::Futex,
        ),
        (
            "<std::sys::sync::mutex::futex::Mutex>::lock_contended",
            LockKind::Futex,
        ),
        ("__lll_lock_wait_private", LockKind::Futex),
    ] {
        let module = if f.contains("std") { EXE } else { LIBC };
        let frames = vec![frame(f, module), frame("app_main", EXE)];
        let w = classify(&input(&k, &frames), &MemWords::default());
        let l = w.wait.lock().unwrap();
        assert_eq!((l.kind, l.owner), (kind, Owner::NotRecorded), "{f}");
        assert_eq!(l.by.as_deref(), Some(f));
        assert_eq!(w.at, Some(1), "{f}");
    }
}

#[test]
fn a_join_waits_for_the_joined_thread() {
    let k = view(
        'S',
        "futex_do_wait",
        "202 0x9910 0x109 0x1099 0x0 0x0 0xffffffff 0x7f00 0x7f01",
    );
    let frames = vec![
        frame("__futex_abstimed_wait_common", LIBC),
        frame("__pthread_clockjoin_ex", LIBC),
        frame("main", EXE),
    ];
    let mut mem = MemWords::default();
    mem.insert(0x9910, 0x1099u32.to_le_bytes().to_vec());
    let l = classify(&input(&k, &frames), &mem).wait;
    let l = l.lock().unwrap();
    assert_eq!((l.kind, l.owner), (LockKind::Join, Owner::Thread(0x1099)));
}

#[test]
fn fd_calls_name_their_descriptors() {
    let k = view(
        'S',
        "anon_pipe_read",
        "0 0x3 0x7f0 0x10 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let w = classify(&input(&k, &[]), &MemWords::default());
    assert_eq!(
        w.wait,
        Wait::Fd(FdWait {
            call: "read".into(),
            fds: vec![3]
        })
    );
    // poll([{fd 4}, {fd -1}, {fd 9}], 3, -1)
    let k = view(
        'S',
        "do_sys_poll",
        "7 0xa000 0x3 0xffffffff 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let mut mem = MemWords::default();
    let mut arr = Vec::new();
    for fd in [4i32, -1, 9] {
        arr.extend_from_slice(&fd.to_le_bytes());
        arr.extend_from_slice(&[1, 0, 0, 0]);
    }
    mem.insert(0xa000, arr);
    let t = input(&k, &[]);
    assert_eq!(reads(&t), vec![(0xa000, 24)]);
    let Wait::Fd(f) = classify(&t, &mem).wait else {
        panic!()
    };
    assert_eq!(f.fds, vec![4, 9]);
    // select(10, {3, 8}, NULL, {8}, NULL)
    let k = view(
        'S',
        "do_select",
        "23 0xa 0xb000 0x0 0xc000 0x0 0x0 0x7f00 0x7f01",
    );
    let mut mem = MemWords::default();
    mem.insert(0xb000, vec![0b0000_1000, 0b0000_0001, 0, 0, 0, 0, 0, 0]);
    mem.insert(0xc000, vec![0, 0b0000_0001, 0, 0, 0, 0, 0, 0]);
    let Wait::Fd(f) = classify(&input(&k, &[]), &mem).wait else {
        panic!()
    };
    assert_eq!(f.fds, vec![3, 8]);
}

#[test]
fn states_before_the_stop_decide_the_rest() {
    let cases = [
        (view('R', "", "running"), "running"),
        (
            view('T', "do_signal_stop", "-1 0x7f00 0x7f01"),
            "signal-stop",
        ),
        (
            view(
                'D',
                "wait_for_vfork_done",
                "58 0x0 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "vfork",
        ),
        (
            view(
                'D',
                "kernel_clone",
                "56 0x4111 0x7f2278010e90 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "vfork",
        ),
        (
            // A plain fork in D (no CLONE_VFORK) is some other uninterruptible sleep.
            view(
                'D',
                "kernel_clone",
                "56 0x1200011 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "disk",
        ),
        (
            view(
                'D',
                "nfs_wait_bit_killable",
                "0 0x3 0x7f0 0x10 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "disk",
        ),
        (
            view(
                'S',
                "hrtimer_nanosleep",
                "230 0x0 0x0 0x7f0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "sleep",
        ),
        (
            view(
                'S',
                "do_nanosleep",
                "219 0x0 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "sleep",
        ),
        (
            view(
                'S',
                "do_wait",
                "61 0xffffffff 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "child",
        ),
        (
            view(
                'S',
                "__do_sys_pause",
                "34 0x0 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01",
            ),
            "signal-wait",
        ),
        (view('S', "", "-1 0x7f00 0x7f01"), "not-in-syscall"),
        (
            view('S', "x", "39 0x0 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01"),
            "syscall",
        ),
        (view('Z', "", ""), "exited"),
    ];
    for (k, kind) in cases {
        let w = classify(&input(&k, &[]), &MemWords::default());
        assert_eq!(w.wait.kind(), kind, "{k:?}");
        assert_eq!(
            w.since_ms.is_none(),
            matches!(kind, "running" | "exited"),
            "{kind}"
        );
    }
    let k = view('S', "do_wait", "61 0x4d2 0x0 0x0 0x0 0x0 0x0 0x7f00 0x7f01");
    assert_eq!(
        classify(&input(&k, &[]), &MemWords::default()).wait,
        Wait::Child {
            call: "wait4".into(),
            pid: 1234
        }
    );
    let mut t = input(&k, &[]);
    t.kernel = None;
    assert_eq!(classify(&t, &MemWords::default()).wait, Wait::Unknown);
}

#[test]
fn memory_words_are_found_inside_any_read_range() {
    let mut m = MemWords::default();
    m.insert(0x100, (0u8..32).collect());
    m.insert(0x90, vec![9; 16]);
    assert_eq!(m.u32(0x104), Some(u32::from_le_bytes([4, 5, 6, 7])));
    assert_eq!(m.u32(0x11c), Some(u32::from_le_bytes([28, 29, 30, 31])));
    assert_eq!(m.u32(0x11d), None, "runs past the range");
    assert_eq!(m.u32(0x98), Some(0x0909_0909));
    assert_eq!(m.u64(0x80), None);
    m.insert(0x200, Vec::new());
    assert_eq!(m.bytes(0x200, 0), None);
}

#[test]
fn a_d_state_thread_carries_its_kernel_stack() {
    let k = view(
        'D',
        "nfs_wait_bit_killable",
        "0 0x3 0x7f0 0x10 0x0 0x0 0x0 0x7f00 0x7f01",
    );
    let stack: Vec<String> = [
        "nfs_wait_bit_killable",
        "nfs_read_folio",
        "do_syscall_64",
        "entry_SYSCALL_64_after_hwframe",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut t = input(&k, &[]);
    t.kstack = Some(&stack);
    assert_eq!(
        classify(&t, &MemWords::default()).wait,
        Wait::Disk {
            call: Some("read(3, 0x7f0, 16)".into()),
            kstack: vec!["nfs_wait_bit_killable".into(), "nfs_read_folio".into()],
        }
    );
}
