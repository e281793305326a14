//! Hand-made code for the code and source panes' tests: the demo's hot function as fixed
//! bytes, a symbol table that names it, and its source file, fed through `update` the way the
//! tracer and the symbol worker would.

use crate::symbols::{FunctionSpan, LineSpan, SourceFile};
use crate::tracer::event::{Command, MemoryRead, Reply};
use crate::ui::app::{update, Model};
use crate::ui::code_view::{self, CodeAsk, CodeSymbols};
use crate::ui::fixtures::{reply, HOT};
use crate::ui::msg::{Effect, Msg};
use std::sync::Arc;

pub const SOURCE_PATH: &str = "/work/ptscope/src/demo/service.rs";
pub const HELPER: u64 = HOT + 0x100;

/// Before HOT: the tail of the function before it and nop padding; at HOT the function.
/// The breakpoint at HOT holds its original byte (0x48), as the tracer's read returns it.
pub fn hot_bytes() -> (u64, Vec<u8>) {
    let mut b = vec![
        0x48, 0x83, 0xc4, 0x18, // add rsp,0x18
        0xc3, // ret
        0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, // nop WORD PTR cs:[..]
        0x90, // nop
    ];
    let start = HOT - b.len() as u64;
    b.extend([
        0x48, 0x83, 0xec, 0x48, // sub rsp,0x48
        0x48, 0x89, 0x7c, 0x24, 0x10, // mov QWORD PTR [rsp+0x10],rdi
    ]);
    // call HELPER
    let at = HOT + 9;
    let rel = (HELPER as i64 - (at as i64 + 5)) as i32;
    b.push(0xe8);
    b.extend(rel.to_le_bytes());
    b.extend([
        0x48, 0x8b, 0x44, 0x24, 0x10, // mov rax,QWORD PTR [rsp+0x10]
        0x48, 0xc1, 0xc0, 0x07, // rol rax,0x7
        0x48, 0x83, 0xc4, 0x48, // add rsp,0x48
        0xc3, // ret
    ]);
    (start, b)
}

/// Names, lines and extents for the bytes above.
pub struct HotSymbols;

impl CodeSymbols for HotSymbols {
    fn name(&self, addr: u64) -> Option<String> {
        match addr {
            HOT => Some("ptscope_demo_hot".into()),
            a if (HOT..HOT + 0x30).contains(&a) => Some(format!("ptscope_demo_hot+{:#x}", a - HOT)),
            HELPER => Some("ptscope::demo::service::helper".into()),
            _ => None,
        }
    }
    fn function(&self, pc: u64) -> Option<FunctionSpan> {
        (HOT..HOT + 0x30).contains(&pc).then(|| FunctionSpan {
            name: "ptscope_demo_hot".into(),
            start: HOT,
            end: HOT + 0x30,
        })
    }
    fn starts(&self, _: u64, _: u64) -> Vec<u64> {
        Vec::new()
    }
    fn line(&self, pc: u64) -> Option<LineSpan> {
        let line = match pc.checked_sub(HOT)? {
            0..=8 => 17,
            9..=13 => 18,
            14..=22 => 21,
            23..=27 => 22,
            _ => return None,
        };
        Some(LineSpan {
            file: SOURCE_PATH.into(),
            line,
            ranges: vec![(HOT, HOT + 9)],
        })
    }
    fn module(&self, pc: u64) -> Option<String> {
        (HOT - 0x1000..HOT + 0x1000)
            .contains(&pc)
            .then(|| "/usr/bin/ptscope".into())
    }
}

pub fn source_file() -> SourceFile {
    let text = "\
//! The demo target.
use std::sync::atomic::{AtomicU64, Ordering};

pub static HOT_CALLS: AtomicU64 = AtomicU64::new(0);

/// The function worth a breakpoint: `b ptscope_demo_hot` in the UI.
#[no_mangle]
#[inline(never)]
pub extern \"C\" fn ptscope_demo_hot(x: u64) -> u64 {
    HOT_CALLS.fetch_add(1, Ordering::Relaxed);
    std::hint::black_box(x)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(7)
}
";
    // Lines 17.. as the symbol table above says: pad the front.
    let mut lines: Vec<String> = (1..=8).map(|i| format!("// line {i}")).collect();
    lines.extend(text.lines().map(str::to_string));
    SourceFile {
        found_at: SOURCE_PATH.into(),
        lines,
    }
}

/// Answers the model's pending code read with `hot_bytes` and its disassembly with
/// `HotSymbols`, then the source file: what a stopped demo shows. Returns the effects of the
/// code's answer.
pub fn with_code(m: &mut Model) -> Vec<Effect> {
    with_code_where(m, Ok(Arc::new(source_file())))
}

pub fn with_code_where(m: &mut Model, source: Result<Arc<SourceFile>, String>) -> Vec<Effect> {
    update(m, Msg::Resize(m.screen.size.0, m.screen.size.1));
    let Some((key, addr)) = m.code.reading else {
        panic!("no code read pending: {:?}", m.code);
    };
    // The tracer's answer to the read the model sent.
    let id = 7000 + key.gen;
    let (start, bytes) = hot_bytes();
    m.sent(id, Command::ReadMemory { addr, len: 512 });
    let read = MemoryRead {
        addr,
        bytes: {
            // The read starts BACK bytes before the pc; only these bytes are mapped.
            let mut v = vec![0x90u8; (start - addr) as usize];
            v.extend(&bytes);
            v
        },
        requested: 512,
    };
    let fx = reply(m, id, Ok(Reply::Memory(read)));
    let ask: CodeAsk = fx
        .iter()
        .find_map(|f| match f {
            Effect::Disassemble(a) => Some((**a).clone()),
            _ => None,
        })
        .expect("the read goes to the worker to be decoded");
    let none = |_: u64, _: &mut [u8]| 0;
    let view = code_view::build(&ask, &HotSymbols, &none);
    let fx = update(m, Msg::Code(Box::new(view)));
    if fx.iter().any(|f| matches!(f, Effect::ReadSource(_))) {
        update(
            m,
            Msg::Source {
                path: SOURCE_PATH.into(),
                result: source,
            },
        );
    }
    fx
}
