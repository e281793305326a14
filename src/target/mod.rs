//! Hidden target programs, run as `ptscope __target <scenario>`, for tests and demos.

pub mod chain;
