//! Function names of the addresses on screen (thread PCs, breakpoints, the memory address,
//! breakpoint hits in the log), filled by the symbol worker so a slow first ELF parse never
//! holds up keys or drawing.

use crate::text::sanitize;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug, Default)]
pub struct PcNames {
    /// Already sanitised; an empty string: the symbols have no name there.
    known: HashMap<u64, String>,
    /// Asked for and not answered yet.
    asked: HashSet<u64>,
    /// The program image the names are of: bumped at every exec, carried by asks and answers.
    image: u64,
}

impl PcNames {
    pub fn image(&self) -> u64 {
        self.image
    }

    pub fn get(&self, pc: u64) -> Option<&str> {
        self.known
            .get(&pc)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The addresses among `pcs` that are neither named nor asked for, sorted, now marked as
    /// asked: what to hand the symbol worker.
    pub fn ask(&mut self, pcs: impl Iterator<Item = u64>) -> Vec<u64> {
        let mut out: Vec<u64> = pcs
            .filter(|pc| !self.known.contains_key(pc) && !self.asked.contains(pc))
            .collect();
        out.sort_unstable();
        out.dedup();
        self.asked.extend(&out);
        out
    }

    /// The worker's answer to an ask made for `image`. One for an older image (asked before an
    /// exec, answered after it) is dropped, as are names nobody asked for.
    pub fn answer(&mut self, image: u64, names: Vec<(u64, Option<String>)>) {
        if image != self.image {
            return;
        }
        for (pc, name) in names {
            if self.asked.remove(&pc) {
                self.known
                    .insert(pc, name.map(|n| sanitize(&n)).unwrap_or_default());
            }
        }
    }

    /// A new program image: old names would lie.
    pub fn forget(&mut self) {
        self.known.clear();
        self.asked.clear();
        self.image += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_once_answered_sanitised_and_forgotten() {
        let mut n = PcNames::default();
        assert_eq!(n.ask([3, 1, 3, 2].into_iter()), vec![1, 2, 3]);
        assert!(n.ask([1, 2].into_iter()).is_empty(), "asked already");
        n.answer(
            0,
            vec![
                (1, Some("f\x1b[1m".into())),
                (2, None),
                (9, Some("x".into())),
            ],
        );
        assert_eq!(n.get(1), Some("f\\x1b[1m"));
        assert_eq!(n.get(2), None, "no name is remembered as none");
        assert_eq!(n.get(9), None, "never asked");
        assert!(n.ask([1, 2].into_iter()).is_empty(), "named already");
        n.forget();
        assert_eq!(n.ask([1, 3].into_iter()), vec![1, 3]);
        n.answer(0, vec![(3, Some("late".into()))]);
        assert_eq!(n.get(3), None, "an answer from before the exec");
        n.answer(1, vec![(3, Some("new".into()))]);
        assert_eq!(n.get(3), Some("new"));
    }
}
