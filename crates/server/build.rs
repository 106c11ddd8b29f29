//! Embeds the web UI's chart library (Chart.js from the npm registry, installed by
//! `npm ci --prefix crates/server/ui`) into the binary. Without it the build still succeeds:
//! the UI then shows a note where the charts would be, and says how to add them.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let source = manifest.join("ui/node_modules/chart.js/dist/chart.umd.js");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("chart.umd.js");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed=ui/package-lock.json");
    let bytes = std::fs::read(&source).unwrap_or_default();
    if bytes.is_empty() {
        println!(
            "cargo:warning=web UI charts not embedded: run `npm ci --prefix crates/server/ui` and rebuild"
        );
    }
    std::fs::write(&out, bytes).expect("OUT_DIR is writable");
}
