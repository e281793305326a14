//! Text that comes from the target (thread names, command lines, symbol names) is untrusted:
//! it may hold escape sequences that would drive the user's terminal. Everything such is passed
//! through `sanitize` before it is printed or drawn.

/// Control characters become visible escapes (`\x1b`, `\n`, `\u{9b}`); printable text is kept.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            // C1 controls (0x80-0x9f) include CSI, which some terminals obey as ESC [.
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// For bytes that may not be UTF-8 (/proc/PID/cmdline): lossy decode, then sanitize.
pub fn sanitize_bytes(b: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(b))
}

/// `s` cut to `width` characters, its last one `~` when something was cut (a table cell).
pub fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('~');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_never_survive() {
        let hostile = "evil\x1b[2J\x1b]0;pwned\x07name\u{9b}31m\r\n";
        let clean = sanitize(hostile);
        assert!(!clean.chars().any(|c| c.is_control()), "{clean:?}");
        assert_eq!(clean, "evil\\x1b[2J\\x1b]0;pwned\\x07name\\u{9b}31m\\r\\n");
    }

    #[test]
    fn printable_text_is_unchanged() {
        assert_eq!(sanitize("worker-1 ünïcode ✓"), "worker-1 ünïcode ✓");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(sanitize_bytes(b"a\xffb\x1b"), "a\u{fffd}b\\x1b");
    }
}
