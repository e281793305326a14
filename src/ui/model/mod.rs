//! The inspector's state, one part per pane (plus the process and the status line). Each part
//! owns its fields and the update functions that change them; `app::update` decides which
//! parts a message touches. A pane draws from the part(s) it shows and nothing else.

pub mod backtrace;
pub mod breakpoints;
pub mod code;
pub mod groups;
pub mod log;
pub mod memory;
pub mod names;
pub mod process;
pub mod prompt;
pub mod screen;
pub mod status;
pub mod threads;
pub mod waits;

pub use backtrace::BacktraceModel;
pub use breakpoints::BreakpointsModel;
pub use code::{CodeModel, SourceState};
pub use groups::{Grouping, GroupsModel};
pub use log::{LogBody, LogLine, LogModel, LOG_CAPACITY};
pub use memory::MemoryModel;
pub use names::PcNames;
pub use process::ProcessModel;
pub use prompt::{Prompt, PromptKind, PromptModel};
pub use screen::ScreenModel;
pub use status::{Status, StatusKind, StatusModel};
pub use threads::{ThreadRow, ThreadsModel};
pub use waits::WaitsModel;
