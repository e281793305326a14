//! The tree an expression parses to.

/// A symbol or register name as typed: `rsp`, `read`, `libc!read`, `ptscope::demo::run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub module: Option<String>,
    pub name: String,
}

impl Name {
    /// A name that may be a register: no module and no path.
    pub fn is_plain(&self) -> bool {
        self.module.is_none() && !self.name.contains("::")
    }
}

/// How many bytes a dereference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    U8 = 1,
    U16 = 2,
    U32 = 4,
    U64 = 8,
}

impl Width {
    pub fn bytes(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`, two's complement.
    Neg,
    /// `~x`
    BitNot,
    /// `!x`: 1 when x is 0.
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    BitOr,
    BitXor,
    BitAnd,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Num(u64),
    /// A register or a symbol: which one is the environment's to say.
    Name(Name),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Memory at an address, read as a little-endian number.
    Deref(Width, Box<Expr>),
}
