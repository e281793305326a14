//! Linker names to the names a programmer wrote.

/// Rust names lose their hash suffix (`ptscope::f::h0123abcd` -> `ptscope::f`) since the hash
/// means nothing to a reader and differs between builds. C++ names are demangled in full. A
/// name neither scheme understands is returned as it is (C names, or garbage).
pub fn demangle(raw: &str) -> String {
    if let Ok(d) = rustc_demangle::try_demangle(raw) {
        return format!("{d:#}");
    }
    if raw.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(raw) {
            if let Ok(s) = sym.demangle(&cpp_demangle::DemangleOptions::default()) {
                return s;
            }
        }
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn rust_legacy_and_v0_lose_the_hash() {
        assert_eq!(
            demangle("_ZN7ptscope4demo5chain4main17h0123456789abcdefE"),
            "ptscope::demo::chain::main"
        );
        assert_eq!(demangle("_RNvCs1234_7ptscope4main"), "ptscope::main");
    }

    #[test]
    fn cpp_names_are_demangled() {
        assert_eq!(demangle("_ZN3foo3barEi"), "foo::bar(int)");
        assert_eq!(
            demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"),
            "std::vector<int, std::allocator<int> >::push_back(int const&)"
        );
    }

    #[test]
    fn c_names_and_garbage_pass_through() {
        assert_eq!(demangle("read"), "read");
        assert_eq!(demangle("_Zgarbage"), "_Zgarbage");
        assert_eq!(demangle(""), "");
    }
}
