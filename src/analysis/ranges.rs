//! Thread ids as ranges: 300 pool threads read `4105-4404`, not 300 numbers.

use crate::tracer::Tid;

/// Runs of consecutive ids, from any order (duplicates ignored).
pub fn to_ranges(tids: &[Tid]) -> Vec<(Tid, Tid)> {
    let mut sorted = tids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(Tid, Tid)> = Vec::new();
    for t in sorted {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(t) => *end = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// `4101-4103, 4107, 4110-4111`.
pub fn format(tids: &[Tid]) -> String {
    to_ranges(tids)
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ids_collapse() {
        assert_eq!(
            format(&[4103, 4101, 4102, 4107, 4110, 4111]),
            "4101-4103, 4107, 4110-4111"
        );
        assert_eq!(format(&[5]), "5");
        assert_eq!(format(&[]), "");
        assert_eq!(format(&[9, 9, 8]), "8-9");
        assert_eq!(to_ranges(&[1, 3, 5]), vec![(1, 1), (3, 3), (5, 5)]);
        assert_eq!(
            to_ranges(&[i32::MAX, i32::MAX - 1]),
            vec![(i32::MAX - 1, i32::MAX)]
        );
    }
}
