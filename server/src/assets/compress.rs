//! Brotli and gzip for the front end: which files are compressed, and how.
//!
//! A site on disk gets siblings (`.br`, `.gz`) written next to each compressible file
//! under `pkg/`, which `ServeDir` serves to browsers that accept them. The same rule and
//! the same settings compress the site a release binary carries (`server/build.rs`
//! includes this file).
//!
//! On disk, the siblings are written in the background when a release server starts,
//! only when missing or older than their file, so a fresh build is compressed once;
//! until then files go out as they are.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Compresses every `.wasm`, `.js` and `.css` file in `dir` that needs it. Returns how
/// many files it compressed.
pub fn precompress(dir: &Path) -> std::io::Result<usize> {
    sweep(dir, true)
}

/// Deletes compressed siblings older than their file, so they are never served in its
/// place; for servers that do not compress (debug builds).
pub fn remove_stale(dir: &Path) -> std::io::Result<usize> {
    sweep(dir, false)
}

fn sweep(dir: &Path, compress: bool) -> std::io::Result<usize> {
    let mut done = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let path = entry?.path();
        if path.to_string_lossy().contains(".partial-") {
            // Left by an interrupted run.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !compressible(&path) || !stale(&path, "br") && !stale(&path, "gz") {
            continue;
        }
        if !compress {
            for suffix in ["br", "gz"] {
                match std::fs::remove_file(sibling(&path, suffix)) {
                    Ok(()) => done += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        let raw = std::fs::read(&path)?;
        write_atomically(&sibling(&path, "gz"), &gzip(&raw)?)?;
        write_atomically(&sibling(&path, "br"), &brotli(&raw, 11)?)?;
        done += 1;
    }
    Ok(done)
}

/// Whether a file is worth compressing: the WASM, JS and CSS (public/'s few small files
/// are not).
pub fn compressible(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "wasm" | "js" | "css"))
}

/// `raw` gzipped at the best level, as served for `Accept-Encoding: gzip`.
pub fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(raw)?;
    gzip.finish()
}

/// `raw` in brotli at `quality` (11, the best, is what is served).
pub fn brotli(raw: &[u8], quality: i32) -> std::io::Result<Vec<u8>> {
    let mut compressed = Vec::new();
    brotli::BrotliCompress(
        &mut &raw[..],
        &mut compressed,
        &brotli::enc::BrotliEncoderParams {
            quality,
            lgwin: 22,
            ..Default::default()
        },
    )?;
    Ok(compressed)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    name.into()
}

/// Whether `path.suffix` is missing or older than `path`.
fn stale(path: &Path, suffix: &str) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(path), modified(&sibling(path, suffix))) {
        (Some(file), Some(compressed)) => compressed < file,
        _ => true,
    }
}

/// Writes through a temporary name of its own, so a request never sees half a file and
/// two writers never share one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = sibling(path, &format!("partial-{}-{n}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_siblings_once_and_again_only_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("app.wasm");
        std::fs::write(&wasm, b"\0asm".repeat(1000)).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an asset").unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 1);
        assert_eq!(precompress(dir.path()).unwrap(), 0, "nothing is stale");

        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&std::fs::read(sibling(&wasm, "gz")).unwrap()[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, b"\0asm".repeat(1000));
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(
            &mut &std::fs::read(sibling(&wasm, "br")).unwrap()[..],
            &mut unbrotlied,
        )
        .unwrap();
        assert_eq!(unbrotlied, b"\0asm".repeat(1000));
        assert!(!dir.path().join("notes.txt.gz").exists());

        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&wasm, b"changed").unwrap();
        // A server that does not compress must not serve the old siblings for it.
        assert_eq!(remove_stale(dir.path()).unwrap(), 2);
        assert!(!sibling(&wasm, "br").exists() && !sibling(&wasm, "gz").exists());
        assert_eq!(precompress(dir.path()).unwrap(), 1);
    }
}
