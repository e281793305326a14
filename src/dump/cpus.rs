//! How much of the machine a dump keeps busy at once.
//!
//! The process being dumped needs a CPU too: to stop, to resume, and to serve its users
//! meanwhile. Measured on 2 vCPUs with a thread in the target waking every millisecond and
//! keeping the longest gap it sees (the bench's `__demo heap --ticker`): a dump whose symbol
//! loading ran on both CPUs made that thread miss its wake-up by 2-3 ms (median of 30), while
//! the stop itself, interrupt to detach, takes ~0.1 ms (`--no-backtrace`: 0.10 ms); the same
//! dump held to one CPU: 0.10 ms, for 30 ms of wall time instead of 21. Two plain busy loops of
//! 25 ms did the same to it (1.2 ms); one did not (0.1 ms). Lower priority does not help
//! (`nice -n 19` left 2.4 ms): a woken thread still waits for a busy CPU's turn to end.
//!
//! So every piece of a dump that keeps a CPU busy (the kernel view, each table loader, the stop,
//! each walker) takes a share from one `Cpus` first, and by default there is one share less
//! than the machine has CPUs (at least one): the target always finds a CPU free.

use std::sync::{Condvar, Mutex};

pub struct Cpus {
    free: Mutex<usize>,
    freed: Condvar,
    budget: usize,
}

/// A share held; given back when dropped (a panicking job gives it back too).
pub struct Share<'a>(&'a Cpus);

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += 1;
        self.0.freed.notify_one();
    }
}

impl Cpus {
    /// At most `budget` (at least 1) busy at once.
    pub fn new(budget: usize) -> Cpus {
        let budget = budget.max(1);
        Cpus {
            free: Mutex::new(budget),
            freed: Condvar::new(),
            budget,
        }
    }

    /// All but one of this machine's CPUs, at least one.
    pub fn default_budget() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1)
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Waits for a share.
    pub fn take(&self) -> Share<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Share(self)
    }

    /// Runs `job` holding a share.
    pub fn run<T>(&self, job: impl FnOnce() -> T) -> T {
        let _share = self.take();
        job()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_jobs_at_once_than_the_budget() {
        for budget in [1, 2, 3] {
            let cpus = Cpus::new(budget);
            let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            std::thread::scope(|s| {
                for _ in 0..8 {
                    s.spawn(|| {
                        cpus.run(|| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            // Long enough for the others to try to run beside it.
                            let until =
                                std::time::Instant::now() + std::time::Duration::from_millis(5);
                            while std::time::Instant::now() < until {
                                std::hint::spin_loop();
                            }
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                    });
                }
            });
            let most = most.load(Ordering::SeqCst);
            assert!(
                (1..=budget).contains(&most),
                "budget {budget}: {most} at once"
            );
        }
    }

    #[test]
    fn a_share_comes_back_when_its_job_panics() {
        let cpus = Cpus::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cpus.run(|| panic!("job fails"))
        }));
        assert!(r.is_err());
        assert_eq!(cpus.run(|| 7), 7);
    }

    #[test]
    fn the_default_leaves_one_cpu_and_never_goes_below_one() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(Cpus::default_budget(), (n - 1).max(1));
        assert_eq!(Cpus::new(0).budget(), 1);
    }
}
