//! The process as a whole: which one, how ptscope holds it, the state it is in, and the names
//! the session knows in it.

use crate::text::sanitize;
use crate::tracer::event::ProcessState;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct ProcessModel {
    pub pid: i32,
    /// Already sanitised.
    pub cmdline: String,
    pub launched: bool,
    pub state: ProcessState,
    /// Names the prompts accept besides the process's symbols (the demo's hot function).
    pub names: BTreeMap<String, u64>,
}

impl ProcessModel {
    pub fn new(pid: i32, cmdline: &str, launched: bool) -> Self {
        ProcessModel {
            pid,
            cmdline: sanitize(cmdline),
            launched,
            state: ProcessState::Stopping,
            names: BTreeMap::new(),
        }
    }

    pub fn is_stopped(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Stopped | ProcessState::GroupStopped { .. }
        )
    }

    /// Why a command that needs the process cannot be sent now, if it cannot.
    pub fn gone(&self) -> Option<String> {
        match self.state {
            ProcessState::Exited { status } => Some(format!("the process has exited ({status})")),
            ProcessState::Detached => Some("ptscope has detached from the process".into()),
            _ => None,
        }
    }
}
