//! Signal names and the per-signal policy: stop the world, or pass straight on.

const NAMES: [&str; 32] = [
    "0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

pub fn signal_name(sig: i32) -> String {
    match sig {
        0..=31 => NAMES[sig as usize].to_string(),
        // glibc reserves 32 and 33 for itself; SIGRTMIN as programs see it is 34.
        32..=64 => format!("SIGRT{}", sig - 32),
        _ => format!("signal {sig}"),
    }
}

pub fn signal_from_name(name: &str) -> Option<i32> {
    let up = name.trim().to_ascii_uppercase();
    let full = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    NAMES
        .iter()
        .position(|n| *n == full)
        .filter(|&i| i > 0)
        .map(|i| i as i32)
        .or_else(|| full.parse::<i32>().ok())
}

pub fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Stop every thread and report it; the signal is delivered on continue.
    Stop,
    /// Deliver at once and only log it.
    Pass,
}

#[derive(Clone, Debug)]
pub struct SignalPolicy {
    table: [Policy; 65],
}

impl Default for SignalPolicy {
    fn default() -> Self {
        let mut table = [Policy::Stop; 65];
        // Signals a healthy service receives all the time: stopping on them would bury the
        // interesting stops. SIGCONT joins the list because it only ends a job-control
        // stop that ptscope has already shown as a group-stop.
        for s in [
            libc::SIGALRM,
            libc::SIGCHLD,
            libc::SIGURG,
            libc::SIGWINCH,
            libc::SIGIO,
            libc::SIGPROF,
            libc::SIGVTALRM,
            libc::SIGCONT,
        ] {
            table[s as usize] = Policy::Pass;
        }
        SignalPolicy { table }
    }
}

impl SignalPolicy {
    pub fn get(&self, sig: i32) -> Policy {
        self.table
            .get(sig as usize)
            .copied()
            .unwrap_or(Policy::Stop)
    }
    pub fn set(&mut self, sig: i32, p: Policy) {
        if let Some(slot) = self.table.get_mut(sig as usize) {
            *slot = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(signal_name(libc::SIGUSR1), "SIGUSR1");
        assert_eq!(signal_name(34), "SIGRT2");
        assert_eq!(signal_from_name("usr1"), Some(libc::SIGUSR1));
        assert_eq!(signal_from_name("SIGSTOP"), Some(libc::SIGSTOP));
        assert_eq!(signal_from_name("nope"), None);
    }

    #[test]
    fn default_policy_passes_the_noisy_ones() {
        let p = SignalPolicy::default();
        for s in [libc::SIGALRM, libc::SIGCHLD, libc::SIGWINCH, libc::SIGPROF] {
            assert_eq!(p.get(s), Policy::Pass, "{}", signal_name(s));
        }
        for s in [
            libc::SIGUSR1,
            libc::SIGSEGV,
            libc::SIGTRAP,
            libc::SIGSTOP,
            libc::SIGINT,
        ] {
            assert_eq!(p.get(s), Policy::Stop, "{}", signal_name(s));
        }
    }
}
