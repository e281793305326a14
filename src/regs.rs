//! The amd64 user register file, addressed by name.

use serde::Serialize;

/// Names in the order a debugger user reads them; also the JSON key order of `dump`.
pub const REGISTER_NAMES: [&str; 27] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
    "orig_rax",
];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers(pub [u64; 27]);

const RIP: usize = 16;
const RSP: usize = 7;
const RBP: usize = 6;
const EFLAGS: usize = 17;

impl Registers {
    pub fn index_of(name: &str) -> Option<usize> {
        let name = name.trim().to_ascii_lowercase();
        REGISTER_NAMES.iter().position(|n| *n == name)
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        Self::index_of(name).map(|i| self.0[i])
    }

    pub fn set(&mut self, name: &str, value: u64) -> bool {
        match Self::index_of(name) {
            Some(i) => {
                self.0[i] = value;
                true
            }
            None => false,
        }
    }

    pub fn rip(&self) -> u64 {
        self.0[RIP]
    }
    pub fn set_rip(&mut self, v: u64) {
        self.0[RIP] = v;
    }
    pub fn rsp(&self) -> u64 {
        self.0[RSP]
    }
    pub fn rbp(&self) -> u64 {
        self.0[RBP]
    }
    pub fn eflags(&self) -> u64 {
        self.0[EFLAGS]
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        REGISTER_NAMES.iter().copied().zip(self.0.iter().copied())
    }

    pub fn from_raw(r: &libc::user_regs_struct) -> Self {
        Registers([
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15, r.rip, r.eflags, r.cs, r.ss, r.ds, r.es, r.fs, r.gs,
            r.fs_base, r.gs_base, r.orig_rax,
        ])
    }

    pub fn to_raw(&self) -> libc::user_regs_struct {
        let v = &self.0;
        libc::user_regs_struct {
            rax: v[0],
            rbx: v[1],
            rcx: v[2],
            rdx: v[3],
            rsi: v[4],
            rdi: v[5],
            rbp: v[6],
            rsp: v[7],
            r8: v[8],
            r9: v[9],
            r10: v[10],
            r11: v[11],
            r12: v[12],
            r13: v[13],
            r14: v[14],
            r15: v[15],
            rip: v[16],
            eflags: v[17],
            cs: v[18],
            ss: v[19],
            ds: v[20],
            es: v[21],
            fs: v[22],
            gs: v[23],
            fs_base: v[24],
            gs_base: v[25],
            orig_rax: v[26],
        }
    }
}

/// eflags bits a debugger user cares about, low bit first.
pub const EFLAGS_BITS: [(u32, &str); 9] = [
    (0, "CF"),
    (2, "PF"),
    (4, "AF"),
    (6, "ZF"),
    (7, "SF"),
    (8, "TF"),
    (9, "IF"),
    (10, "DF"),
    (11, "OF"),
];

/// The set flags, e.g. "ZF PF IF".
pub fn decode_eflags(eflags: u64) -> String {
    EFLAGS_BITS
        .iter()
        .filter(|(bit, _)| eflags & (1 << bit) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Serialize for Registers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(27))?;
        for (name, v) in self.iter() {
            m.serialize_entry(name, &format!("{v:#x}"))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip_keeps_every_field() {
        let mut r = Registers::default();
        for (i, v) in r.0.iter_mut().enumerate() {
            *v = 0x1000 + i as u64;
        }
        assert_eq!(Registers::from_raw(&r.to_raw()), r);
        assert_eq!(r.get("rip"), Some(0x1000 + 16));
        assert_eq!(r.get("orig_rax"), Some(0x1000 + 26));
        assert_eq!(r.get("RSP"), Some(0x1000 + 7));
        assert_eq!(r.get("xmm0"), None);
    }

    #[test]
    fn eflags_decoding_names_set_bits() {
        assert_eq!(decode_eflags(0x246), "PF ZF IF");
        assert_eq!(decode_eflags(0x0), "");
        assert_eq!(decode_eflags(0x8d5), "CF PF AF ZF SF OF");
        assert_eq!(decode_eflags(0x8d4), "PF AF ZF SF OF");
    }

    #[test]
    fn json_has_27_lowercase_hex_strings() {
        let mut r = Registers::default();
        r.set("rip", 0x55d0c0a01139);
        let v = serde_json::to_value(r).unwrap();
        let m = v.as_object().unwrap();
        assert_eq!(m.len(), 27);
        assert_eq!(m["rip"], "0x55d0c0a01139");
        assert_eq!(m["rax"], "0x0");
    }
}
