//! The register sets beyond the general registers, as a core file holds them: the FPU and SSE
//! state, the whole XSAVE area (AVX and later), and the siginfo of a held signal. Only the
//! tracer thread may read them (PTRACE_GETREGSET, PTRACE_GETSIGINFO); `ptscope core` asks
//! with `Command::ReadRegisterSets` while every thread is stopped.

/// Each is `None` when it could not be read; debuggers then show what they have (general
/// registers always).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterSets {
    /// NT_PRFPREG: `struct user_fpregs_struct` (the 512-byte FXSAVE area: x87, MXCSR,
    /// xmm0-15), as PTRACE_GETREGSET with NT_PRFPREG returns it.
    pub fpregs: Option<Box<[u8; FPREGS_SIZE]>>,
    /// NT_X86_XSTATE: the XSAVE area as PTRACE_GETREGSET with NT_X86_XSTATE returns it, of
    /// exactly the length the kernel returned (the CPU's XSAVE size, e.g. 2432 or 2696 bytes;
    /// debuggers read the enabled features, XCR0, from bytes 464..472 of it).
    pub xstate: Option<Vec<u8>>,
    /// NT_SIGINFO: the `siginfo_t` of the signal the thread holds, as PTRACE_GETSIGINFO
    /// returns it in a signal-delivery-stop.
    pub siginfo: Option<Box<[u8; SIGINFO_SIZE]>>,
}

pub const FPREGS_SIZE: usize = 512;
pub const SIGINFO_SIZE: usize = 128;
/// When CPUID does not say: larger than any XSAVE area of today's CPUs.
const XSAVE_FALLBACK: usize = 16 * 1024;

/// The size of the XSAVE area for the features the OS enabled (CPUID leaf 0xD, subleaf 0,
/// EBX), which is what PTRACE_GETREGSET with NT_X86_XSTATE fills.
pub fn xsave_size() -> usize {
    // CPUID exists on every x86-64 CPU; leaf 0xD is defined wherever XSAVE is, and reads as
    // zeros where it is not (then the fallback is used).
    let r = std::arch::x86_64::__cpuid_count(0xd, 0);
    match r.ebx as usize {
        0 => XSAVE_FALLBACK,
        n => n,
    }
}
