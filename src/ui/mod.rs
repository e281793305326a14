//! The full-screen inspector, shaped like Elm. A key press travels through one file per step:
//!
//! 1. `keymap.rs` turns the key into a `Msg` (`msg.rs` lists them all, and every `Effect`);
//! 2. `app.rs`'s `update` changes the parts of the model (`model/`) and returns `Effect`s;
//! 3. `run.rs` carries each effect out: a command to the tracer thread, or a question to the
//!    workers (`workers.rs`: symbols, stack walks, prompts via `resolve.rs`, `assign.rs` and
//!    `watch_spec.rs`, disassembly via `code_view.rs`, source files, /proc reads);
//! 4. the answers come back to `run.rs` as `Msg`s (tracer events and replies, worker answers)
//!    and go through `update` again;
//! 5. `panes/` draws each pane from the part of the model it shows.
//!
//! `hung.rs` is the analysis job ("why is it hung?") and what it hands the model.
//! `layout.rs` places the panes (the model sizes its reads with it), `focus.rs` names them,
//! `session.rs` sets up a live session (tracer, terminal, every way out).

pub mod app;
pub mod assign;
pub mod breakpoint_spec;
#[cfg(test)]
pub mod code_fixtures;
pub mod code_update;
#[cfg(test)]
#[path = "code_update_tests.rs"]
mod code_update_tests;
pub mod code_view;
#[cfg(test)]
pub mod fixtures;
pub mod focus;
pub mod hung;
#[cfg(test)]
pub mod hung_fixtures;
pub mod hung_update;
pub mod inspect;
pub mod keymap;
pub mod layout;
pub mod model;
pub mod msg;
pub mod panes;
pub mod reply_update;
pub mod resolve;
pub mod run;
pub mod session;
pub mod theme;
pub mod watch_spec;
pub mod workers;
