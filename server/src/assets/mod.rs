//! The built front end (JS, WASM, CSS and public/'s files) and how it is served.
//!
//! A release binary carries the site inside itself ([`carried`], put there by
//! `server/build.rs` when `LATCHKEY_EMBED_SITE` names the built site), compressed once at
//! build time: copied alone to an empty directory, it serves every page. A binary built
//! without it (`cargo leptos watch`, `cargo leptos end-to-end`) serves the site from disk
//! (`LEPTOS_SITE_ROOT`), so a rebuilt stylesheet is served without a restart. Either way
//! the same rules hold: brotli or gzip to browsers that accept them, with
//! `Vary: Accept-Encoding`, and the caching the security-headers middleware adds.

pub mod carried;
pub mod compress;

pub use compress::{precompress, remove_stale};

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::path::PathBuf;

/// Where this server's front end comes from.
pub enum Site {
    /// Inside the binary.
    Carried(&'static [carried::File]),
    /// Files under `root`, the versioned ones in `pkg`.
    Disk { root: PathBuf, pkg: PathBuf },
}

impl Site {
    /// The site this binary carries, else the one the Leptos options name on disk.
    pub fn of(options: &leptos::config::LeptosOptions) -> Self {
        if let Some(files) = carried::files() {
            return Self::Carried(files);
        }
        let root = PathBuf::from(&*options.site_root);
        let pkg = root.join(&*options.site_pkg_dir);
        Self::Disk { root, pkg }
    }

    /// A name for this build of the front end: the start of the SHA-256 of its JS, WASM
    /// and CSS. Pages load the files under `/pkg/{version}/`, which can then be cached for
    /// good: a new build has a new version, so no browser keeps an old file for a new page.
    pub fn version(&self, pkg_dir: &str, output_name: &str) -> String {
        let mut hash = Sha256::new();
        for extension in ["js", "wasm", "css"] {
            let name = format!("{output_name}.{extension}");
            // Carried files are hashed where they lie; only files on disk are read.
            let bytes: Option<Cow<'static, [u8]>> = match self {
                Self::Carried(files) => carried::find(files, &format!("/{pkg_dir}/{name}"))
                    .map(|file| Cow::Borrowed(file.raw)),
                Self::Disk { pkg, .. } => std::fs::read(pkg.join(name)).ok().map(Cow::Owned),
            };
            if let Some(bytes) = bytes {
                hash.update(extension.as_bytes());
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(&bytes);
            }
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
