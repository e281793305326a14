//! The one number parser: `0x`-prefixed hex or decimal, as users type addresses.

use super::ExprError;

/// `0x401136`, `0X10`, `4198710`, with surrounding blanks ignored.
pub fn parse_number(text: &str) -> Result<u64, ExprError> {
    let t = text.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ExprError::BadNumber(t.to_string()));
    }
    // Only overflow is left once every character is a digit of the radix.
    u64::from_str_radix(digits, radix).map_err(|_| ExprError::TooLarge(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal() {
        for (text, want) in [
            ("0x401136", 0x401136),
            ("0X401136", 0x401136),
            ("0xDeadBeef", 0xdead_beef),
            ("4198710", 4198710),
            ("  0x10  ", 0x10),
            ("0", 0),
            ("0xffffffffffffffff", u64::MAX),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_number(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn garbage_and_overflow_are_told_apart() {
        for bad in [
            "", "0x", "0xzz", "12abc", "deadbeef", "-4", "+4", "1 2", "0x1g",
        ] {
            assert_eq!(
                parse_number(bad),
                Err(ExprError::BadNumber(bad.trim().to_string())),
                "{bad:?}"
            );
        }
        for big in ["0x10000000000000000", "18446744073709551616"] {
            assert_eq!(parse_number(big), Err(ExprError::TooLarge(big.into())));
        }
    }
}
