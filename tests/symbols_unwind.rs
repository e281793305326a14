//! Backtraces of real blocked threads, through the executable and libc.

mod symbols_support;

use ptscope::procinfo::ProcReader;
use ptscope::symbols::{unwind, Backtrace, Symbolizer, UnwindStop, MAX_DEPTH};
use symbols_support::*;

fn backtrace(t: &Target, tid: i32) -> Backtrace {
    let sym = Symbolizer::new(t.pid).unwrap();
    let mut read = mem_reader(t.pid);
    with_stopped(t.pid, tid, |regs| unwind(&sym, regs, &mut read, MAX_DEPTH))
}

fn names(bt: &Backtrace) -> Vec<String> {
    bt.frames
        .iter()
        .map(|f| {
            f.location
                .function
                .clone()
                .unwrap_or_else(|| f.location.to_string())
        })
        .collect()
}

#[test]
fn read_chain_unwinds_c_b_a_below_libc_read() {
    let t = start_default();
    let bt = backtrace(&t, t.chain_tid);
    let names = names(&bt);
    let c = names
        .iter()
        .position(|n| n == "ptscope_chain_c")
        .unwrap_or_else(|| panic!("no chain_c in {names:#?}"));
    assert_eq!(names[c + 1], "ptscope_chain_b", "{names:#?}");
    assert_eq!(names[c + 2], "ptscope_chain_a", "{names:#?}");

    // Above chain_c: libc's read wrapper, which is where the thread sits in the kernel.
    assert!(c >= 1, "{names:#?}");
    let top = &bt.frames[0].location;
    assert!(
        top.module.as_deref().unwrap_or("").contains("libc.so"),
        "{top:?}"
    );
    assert!(
        top.function.as_deref().unwrap_or("").ends_with("read"),
        "{top:?}"
    );

    // The debug build has DWARF: the chain frames carry file:line.
    let cf = &bt.frames[c].location;
    assert!(
        cf.file.as_deref().unwrap_or("").ends_with("chain.rs"),
        "{cf:?}"
    );
    assert!(cf.line.unwrap_or(0) > 0, "{cf:?}");
    assert!(
        cf.module.as_deref().unwrap().ends_with("/ptscope"),
        "{cf:?}"
    );

    // The walk reaches the thread's first frame (clone3 marks its return address undefined),
    // passing through std's thread start.
    assert_eq!(bt.stop, UnwindStop::Outermost, "{names:#?}");
    assert!(
        names[c + 3..]
            .iter()
            .any(|n| n.contains("std::") || n.contains("start_thread")),
        "{names:#?}"
    );
    // Stack pointers grow from the innermost frame out.
    assert!(
        bt.frames.windows(2).all(|w| w[1].sp > w[0].sp),
        "{:#?}",
        bt.frames
    );
}

#[test]
fn mutex_thread_shows_futex_then_the_lock_and_waiter_in_its_stack() {
    let t = start_default();
    // The kernel's view first, before the thread is stopped.
    let mut proc_reader = ProcReader::new();
    let view = proc_reader.thread(t.pid, t.mutex_tid).unwrap();
    assert_eq!(view.state, 'S');
    assert_eq!(view.syscall.name().as_deref(), Some("futex"));
    let call = view.syscall.call().unwrap();
    assert!(
        call.starts_with("futex(0x") && call.contains("FUTEX_WAIT"),
        "{call}"
    );
    assert!(
        view.wchan.as_deref().unwrap_or("").contains("futex"),
        "{view:?}"
    );

    let sym = Symbolizer::new(t.pid).unwrap();
    let mut read = mem_reader(t.pid);
    let (bt, stopped_view) = with_stopped(t.pid, t.mutex_tid, |regs| {
        (
            unwind(&sym, regs, &mut read, MAX_DEPTH),
            proc_reader.thread(t.pid, t.mutex_tid).unwrap(),
        )
    });
    // Why the API says "read before stopping": stopped, the kernel reports our stop instead.
    assert_eq!(stopped_view.state, 't', "{stopped_view:?}");

    let names = names(&bt);
    let waiter = names
        .iter()
        .position(|n| n == "ptscope::demo::chain::mutex_waiter")
        .unwrap_or_else(|| panic!("demangled waiter missing: {names:#?}"));
    assert!(
        names[..waiter]
            .iter()
            .any(|n| n.contains("pthread_mutex_lock") || n.contains("lll_lock_wait")),
        "no lock function above the waiter: {names:#?}"
    );
    assert_eq!(bt.stop, UnwindStop::Outermost, "{names:#?}");
}

#[test]
fn garbage_stacks_stop_cleanly() {
    // Our own process as the subject: only the memory the unwinder sees is fake.
    let sym = Symbolizer::new(std::process::id() as i32).unwrap();
    let pc = garbage_stacks_stop_cleanly as *const () as u64;
    let mut regs = ptscope::regs::Registers::default();
    regs.set("rip", pc);
    regs.set("rsp", 0x7000_0000_0000);
    regs.set("rbp", 0x7000_0000_0100);

    // Every word reads as a return address just inside the same function: an endless chain
    // of identical frames, each one word further up the stack.
    let mut same_pc = |_addr: u64, buf: &mut [u8]| {
        let b = (pc + 1).to_le_bytes();
        buf.iter_mut()
            .zip(b.iter().cycle())
            .for_each(|(d, s)| *d = *s);
        buf.len()
    };
    let bt = unwind(&sym, &regs, &mut same_pc, MAX_DEPTH);
    assert_eq!(bt.frames.len(), MAX_DEPTH);
    assert_eq!(bt.stop, UnwindStop::DepthLimit);

    // Unreadable stack: one frame, then a clean stop.
    let bt = unwind(&sym, &regs, &mut |_, _| 0, MAX_DEPTH);
    assert_eq!(bt.frames.len(), 1);
    assert_eq!(bt.stop, UnwindStop::Unreadable);

    // A return address of zero ends the walk as the outermost frame.
    let bt = unwind(
        &sym,
        &regs,
        &mut |_, buf: &mut [u8]| {
            buf.fill(0);
            buf.len()
        },
        MAX_DEPTH,
    );
    assert_eq!(bt.stop, UnwindStop::Outermost);

    // A pc in no mapping: no CFI, and a frame pointer below the stack pointer is not followed.
    regs.set("rip", 0x10);
    regs.set("rbp", 0x10);
    let bt = unwind(&sym, &regs, &mut same_pc, MAX_DEPTH);
    assert_eq!(bt.frames.len(), 1);
    assert_eq!(bt.stop, UnwindStop::NoUnwindInfo);
    assert_eq!(bt.frames[0].location.to_string(), "0x10 (unmapped)");

    // A return address pointing at data (not executable) stops the walk.
    let data = Box::new([0u64; 4]);
    let data_addr = data.as_ptr() as u64;
    regs.set("rip", pc);
    let bt = unwind(
        &sym,
        &regs,
        &mut |_, buf: &mut [u8]| {
            let b = data_addr.to_le_bytes();
            buf.iter_mut()
                .zip(b.iter().cycle())
                .for_each(|(d, s)| *d = *s);
            buf.len()
        },
        MAX_DEPTH,
    );
    assert_eq!(bt.frames.len(), 1);
    assert_eq!(bt.stop, UnwindStop::UnmappedPc);
}
