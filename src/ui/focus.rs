//! Which pane has the keyboard. A file of its own so the layout, the model and the panes can
//! all name it without importing one another.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Focus {
    Threads,
    /// The disassembly around the selected thread's pc.
    Code,
    /// The source line it is on.
    Source,
    Backtrace,
    Registers,
    Breakpoints,
    Memory,
    Log,
}

impl Focus {
    /// Tab order.
    pub const ALL: [Focus; 8] = [
        Focus::Threads,
        Focus::Code,
        Focus::Source,
        Focus::Backtrace,
        Focus::Registers,
        Focus::Breakpoints,
        Focus::Memory,
        Focus::Log,
    ];

    /// `by` panes further in Tab order, wrapping around.
    pub fn step(self, by: isize) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ALL[(i + by).rem_euclid(Focus::ALL.len() as isize) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_wrap_both_ways() {
        assert_eq!(Focus::Threads.step(1), Focus::Code);
        assert_eq!(Focus::Threads.step(-1), Focus::Log);
        assert_eq!(Focus::Log.step(1), Focus::Threads);
        assert_eq!(Focus::Memory.step(8), Focus::Memory);
    }
}
