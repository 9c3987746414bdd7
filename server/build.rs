//! Puts the built front end inside the binary when `LATCHKEY_EMBED_SITE` names the built
//! site (`make build-release`, `make test` and `make dist` do), so the binary is the one
//! file to deploy. Each file is carried as it is and, where `compress::compressible`
//! says so, in brotli and gzip, made here once rather than by every server at start-up.
//! Without the variable the binary carries nothing and serves the site from disk
//! (`LEPTOS_SITE_ROOT`), which `cargo leptos watch` needs.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/assets/compress.rs"]
mod compress;

fn main() {
    println!("cargo::rerun-if-env-changed=LATCHKEY_EMBED_SITE");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut code = String::from("&[\n");
    if let Some(site) = std::env::var_os("LATCHKEY_EMBED_SITE").filter(|s| !s.is_empty()) {
        // A relative path is read from the workspace's root, where make runs.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(site);
        assert!(
            root.join("pkg").is_dir(),
            "LATCHKEY_EMBED_SITE names {}, which holds no built front end (pkg/): \
             build it first (cargo leptos build --release --frontend-only)",
            root.display()
        );
        println!("cargo::rerun-if-changed={}", root.display());
        let carried = out.join("site");
        let _ = std::fs::remove_dir_all(&carried);
        std::fs::create_dir_all(&carried).expect("creating OUT_DIR/site");
        let mut files = Vec::new();
        walk(&root, &mut files);
        files.sort();
        for (n, path) in files.iter().enumerate() {
            let name = path
                .strip_prefix(&root)
                .expect("walked under root")
                .to_str()
                .expect("the site's file names are UTF-8");
            let raw = std::fs::read(path).expect("reading a file of the site");
            let hash: String = Sha256::digest(&raw)[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let content_type = mime_guess::from_path(path)
                .first_raw()
                .unwrap_or("application/octet-stream");
            // Copied, so the bytes carried and their hash are of the same moment.
            let keep = |suffix: &str, bytes: &[u8]| {
                let kept = carried.join(format!("{n}{suffix}"));
                std::fs::write(&kept, bytes).expect("writing to OUT_DIR");
                format!("include_bytes!({:?})", kept.display().to_string())
            };
            let (br, gz) = if compress::compressible(path) {
                let br = compress::brotli(&raw, 11).expect("brotli");
                let gz = compress::gzip(&raw).expect("gzip");
                (
                    format!("Some({})", keep(".br", &br)),
                    format!("Some({})", keep(".gz", &gz)),
                )
            } else {
                ("None".to_owned(), "None".to_owned())
            };
            writeln!(
                code,
                "File {{ path: {:?}, content_type: {content_type:?}, hash: {hash:?}, \
                 raw: {}, br: {br}, gz: {gz} }},",
                format!("/{name}"),
                keep("", &raw),
            )
            .expect("writing to a String");
        }
    }
    code.push_str("]\n");
    std::fs::write(out.join("site.rs"), code).expect("writing OUT_DIR/site.rs");
}

/// Every file under `dir`, but compressed siblings and interrupted writes that a server
/// serving this directory from disk may have left.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading the site") {
        let path = entry.expect("reading the site").path();
        let name = path.to_string_lossy();
        if path.is_dir() {
            walk(&path, files);
        } else if !(name.ends_with(".br") || name.ends_with(".gz") || name.contains(".partial-")) {
            files.push(path);
        }
    }
}
