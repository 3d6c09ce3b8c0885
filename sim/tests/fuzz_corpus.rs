//! Replays the fuzz corpus and every regression through the fuzz targets' own
//! code (`router_sim::fuzz`), on the stable toolchain: CI runs the fuzzer's
//! checks on every input that ever mattered, without nightly or libFuzzer.
//!
//! A failing input prints its path; `cargo +nightly fuzz fmt <target> <path>`
//! (in `fuzz/`) shows it as the operations it stands for.

use std::fs;
use std::path::{Path, PathBuf};

/// Prints the input's path if its replay panics.
struct InputReporter<'a>(&'a Path);

impl Drop for InputReporter<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("fuzz input failed: {}", self.0.display());
        }
    }
}

/// The input files in `dir`, in name order; none if it does not exist.
/// Hidden files (`.gitkeep`) are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.is_file())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn every_target_replays_its_corpus_and_regressions() {
    for (name, target) in router_sim::fuzz::TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "no corpus checked in for {name}");
        let regressions = inputs(&fuzz_dir().join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            let _reporter = InputReporter(path);
            target(&fs::read(path).expect("readable input"));
        }
    }
}

/// A target added to `fuzz/` but not to `router_sim::fuzz::TARGETS` would
/// never be replayed.
#[test]
fn every_cargo_fuzz_target_is_replayed() {
    let mut on_disk: Vec<String> = inputs(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let replayed: Vec<&str> = router_sim::fuzz::TARGETS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(on_disk, replayed);
}
