//! The full-screen inspector: an Elm-shaped model (app), keys (keymap), pure pane renderers
//! (panes), and the loop that joins keys, tracer events and drawing (run).

pub mod addr;
pub mod app;
#[cfg(test)]
pub mod fixtures;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod run;
pub mod session;
pub mod theme;
