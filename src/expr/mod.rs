//! The one expression language of ptscope: what the `b` and `g` prompts and
//! `Symbolizer::resolve` accept, and what breakpoint conditions will be written in. A leaf
//! module: it knows nothing of the tracer, the symbols or the UI. The caller lends it
//! registers, symbols and memory through [`Env`].
//!
//! ```text
//! expr    = or
//! or      = and ("||" and)*                    lowest precedence
//! and     = bitor ("&&" bitor)*
//! bitor   = bitxor ("|" bitxor)*
//! bitxor  = bitand ("^" bitand)*
//! bitand  = equal ("&" equal)*
//! equal   = compare (("==" | "!=") compare)*
//! compare = shift (("<" | "<=" | ">" | ">=") shift)*
//! shift   = sum (("<<" | ">>") sum)*
//! sum     = product (("+" | "-") product)*
//! product = unary (("*" | "/" | "%") unary)*   highest binary precedence
//! unary   = ("-" | "~" | "!") unary
//!         | "*" "(" WIDTH "*" ")" unary        read WIDTH bytes: *(u32*)rsp
//!         | "*" unary                          read 8 bytes: *rsp, *(rsp+8)
//!         | atom
//! atom    = NUMBER | NAME | "(" expr ")"
//! NUMBER  = "0x" hex digits | decimal digits
//! NAME    = [MODULE "!"] IDENT ("::" IDENT)*   main, libc.so.6!read, ptscope::demo::run
//! IDENT   = [A-Za-z_.$] [A-Za-z0-9_.$@]*
//! MODULE  = [A-Za-z0-9_.+-]+ just before "!"   ld-linux-x86-64.so.2, libstdc++.so.6
//! WIDTH   = u8 | u16 | u32 | u64
//! ```
//!
//! Values are unsigned 64-bit; arithmetic wraps (an address minus more than it holds wraps
//! like the machine does); comparisons, `!`, `&&` and `||` give 1 or 0, and `&&`/`||` skip
//! their right side when the left decides. `/` and `%` by zero are errors; shifts by 64 or
//! more give 0. A plain IDENT is a register when the [`Env`] has one by that name, else a
//! symbol. Because a module name may contain `-` and `+`, write spaces around an operator
//! right before a `module!name` (`rsp - libc!read`).
//!
//! Symbol names can hold characters that are operators here (C++ `operator+`, `my-func`);
//! [`evaluate`] tries such a text whole as one name when it does not work as an expression.

mod ast;
mod bind;
mod error;
mod eval;
mod lexer;
mod number;
mod parser;

pub use ast::{BinOp, Expr, Name, UnOp, Width};
pub use bind::{bind, names};
pub use error::ExprError;
pub use eval::{eval, evaluate, Env};
pub use number::parse_number;
pub use parser::parse;
