//! Links `sesame` with packed relative relocations (DT_RELR) where the C
//! library that will load it understands them (glibc 2.36 and later). A PIE
//! binary of this size carries some 60,000 relative relocations: 1.4 MB of
//! `.rela.dyn` that the loader reads at every start and that stays resident.
//! Packed, they take a few kilobytes. The binary stays position independent.

use std::process::Command;

/// The first glibc whose loader reads DT_RELR.
const GLIBC_WITH_RELR: (u32, u32) = (2, 36);

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    // Only the build machine's glibc can be asked, so only a native build is packed.
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if linux_gnu && native && host_glibc().is_some_and(|version| version >= GLIBC_WITH_RELR) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The build machine's glibc version, as `getconf` reports it ("glibc 2.36").
fn host_glibc() -> Option<(u32, u32)> {
    let output = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor = minor.split('.').next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
