//! Throughput floors for `benches/hunt`: what reading a JSON-lines file costs before any
//! detection. Two numbers, each over the whole file read with large reads:
//! * `split` — cutting the bytes into lines with `memchr` (one thread);
//! * `parse` — that, plus parsing every line into a `serde_json::Value` (the parser `hunt`
//!   uses), on one thread and on all cores (line-aligned chunks, rayon, as `hunt` reads).
//!
//! Usage: `cargo run --release -p stormwatch-engine --example floors -- FILE [FILE…]`; prints
//! one JSON object a floor on stdout: `{"floor":…,"lines":…,"bytes":…,"seconds":…}`.
//! Allocation goes through mimalloc, as in the `stormwatch` binary.

use rayon::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fs::File;
use std::io::Read;
use std::time::Instant;

/// Bytes a read asks for, and roughly the size of a parallel chunk.
const BLOCK: usize = 4 << 20;

/// Reads `path` in blocks, handing each run of whole lines to `f`.
fn for_each_block(path: &str, f: &mut dyn FnMut(&[u8])) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0usize;
    let mut total = 0u64;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read(&mut buf[filled..])?;
        total += n as u64;
        filled += n;
        if n == 0 {
            if filled > 0 {
                f(&buf[..filled]);
            }
            return Ok(total);
        }
        if let Some(last) = memchr::memrchr(b'\n', &buf[..filled]) {
            f(&buf[..=last]);
            buf.copy_within(last + 1..filled, 0);
            filled -= last + 1;
        }
    }
}

fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && *l != b"\r")
}

fn count_lines(block: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut start = 0usize;
    for end in memchr::memchr_iter(b'\n', block) {
        if end > start {
            n += 1;
        }
        start = end + 1;
    }
    n + u64::from(start < block.len())
}

fn parse_all(block: &[u8]) -> u64 {
    let mut n = 0u64;
    for line in lines(block) {
        if serde_json::from_slice::<serde_json::Value>(line).is_ok() {
            n += 1;
        }
    }
    n
}

/// Splits a block into about `parts` line-aligned pieces.
fn pieces(block: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let step = (block.len() / parts.max(1)).max(1);
    while start < block.len() {
        let want = (start + step).min(block.len());
        let end = match memchr::memchr(b'\n', &block[want.saturating_sub(1)..]) {
            Some(i) => want.saturating_sub(1) + i + 1,
            None => block.len(),
        };
        out.push(&block[start..end]);
        start = end;
    }
    out
}

fn report(floor: &str, path: &str, lines: u64, bytes: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"floor\":\"{floor}\",\"file\":\"{path}\",\"lines\":{lines},\"bytes\":{bytes},\"seconds\":{seconds:.4},\"lines_per_s\":{:.0},\"mb_per_s\":{:.1}}}",
        lines as f64 / seconds,
        bytes as f64 / seconds / 1e6
    );
}

fn main() -> std::io::Result<()> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: floors FILE [FILE…]");
        std::process::exit(2);
    }
    let threads = rayon::current_num_threads();
    for path in &paths {
        let started = Instant::now();
        let mut n = 0u64;
        let bytes = for_each_block(path, &mut |b| n += count_lines(b))?;
        report("split", path, n, bytes, started);

        let started = Instant::now();
        let mut n = 0u64;
        let bytes = for_each_block(path, &mut |b| n += parse_all(b))?;
        report("parse-1-thread", path, n, bytes, started);

        let started = Instant::now();
        let mut n = 0u64;
        let bytes = for_each_block(path, &mut |b| {
            n += pieces(b, threads * 4)
                .par_iter()
                .map(|p| parse_all(p))
                .sum::<u64>()
        })?;
        report(&format!("parse-{threads}-threads"), path, n, bytes, started);
    }
    Ok(())
}
