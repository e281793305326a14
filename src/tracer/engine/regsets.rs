//! `Command::ReadRegisterSets`: what a core file needs beyond the general registers, read on
//! the tracer thread (the only one the kernel answers) while every thread holds still.

use super::Engine;
use crate::tracer::error::Result;
use crate::tracer::event::Reply;
use crate::tracer::ptrace as pt;
use crate::tracer::regsets::{self, RegisterSets, FPREGS_SIZE};
use crate::tracer::thread::{ThreadState, TraceeState};

/// The note types PTRACE_GETREGSET takes (include/uapi/linux/elf.h).
const NT_PRFPREG: i32 = 2;
const NT_X86_XSTATE: i32 = 0x202;

impl Engine {
    pub(super) fn read_register_sets(&mut self) -> Result<Reply> {
        self.require_world_stopped("read register sets")?;
        let xsave = regsets::xsave_size();
        let mut out = Vec::new();
        for (tid, t) in self.tracees.live() {
            if t.state.view() != ThreadState::Stopped || t.state == TraceeState::Listening {
                continue;
            }
            let mut fp = Box::new([0u8; FPREGS_SIZE]);
            let fpregs = match pt::getregset(tid, NT_PRFPREG, &mut fp[..]) {
                Ok(FPREGS_SIZE) => Some(fp),
                _ => None,
            };
            let mut xs = vec![0u8; xsave];
            let xstate = pt::getregset(tid, NT_X86_XSTATE, &mut xs).ok().map(|n| {
                // Exactly what the kernel returned.
                xs.truncate(n);
                xs
            });
            // A held signal means a signal-delivery-stop, the only stop with a siginfo of
            // the thread's own (an event-stop's is ours, SIGTRAP).
            let siginfo = t
                .held_signal
                .and_then(|_| pt::siginfo_bytes(tid).ok())
                .map(Box::new);
            out.push((
                tid,
                RegisterSets {
                    fpregs,
                    xstate,
                    siginfo,
                },
            ));
        }
        Ok(Reply::RegisterSets(out))
    }
}
