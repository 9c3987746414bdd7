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

use app::server::state::AppState;
use axum::Router;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::path::PathBuf;
use tower_http::services::ServeDir;

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

    /// The routes of the front end's files: `/pkg/{version}/…` and every other path of the
    /// site, anything else answered by `not_found`.
    pub fn routes<S>(self, versioned: &str, not_found: S) -> Router<AppState>
    where
        S: tower::Service<
                axum::extract::Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        match self {
            Self::Carried(carried) => {
                // `/pkg/{version}/x` is `/pkg/x`: the version names the only build there is.
                let unversioned = format!("/{versioned}/");
                let pkg = format!("/{}/", versioned.split('/').next().unwrap_or("pkg"));
                Router::new().fallback_service(tower::service_fn(
                    move |request: axum::extract::Request| {
                        let path = request.uri().path();
                        let path = match path.strip_prefix(&unversioned) {
                            Some(rest) => format!("{pkg}{rest}"),
                            None => path.to_owned(),
                        };
                        let file = carried::find(carried, &path);
                        let not_found = not_found.clone();
                        async move {
                            match file {
                                Some(file) => {
                                    Ok(carried::answer(file, request.method(), request.headers()))
                                }
                                None => tower::ServiceExt::oneshot(not_found, request).await,
                            }
                        }
                    },
                ))
            }
            Self::Disk { root, pkg } => {
                // Siblings older than their file (a rebuild since) are deleted before
                // serving, so they are never sent in its place. A release server compresses
                // whatever is still missing on a thread of its own, so shutting down never
                // waits for it (an interrupted file is left under a temporary name and
                // cleared next time). Debug builds do not compress: their unoptimised WASM is
                // several megabytes and brotli would hold a core for minutes.
                if let Err(error) = remove_stale(&pkg) {
                    tracing::warn!(%error, "could not remove stale compressed files");
                }
                if !cfg!(debug_assertions) {
                    let pkg = pkg.clone();
                    std::thread::spawn(move || match precompress(&pkg) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(files = n, "front end compressed (brotli, gzip)"),
                        Err(error) => {
                            tracing::warn!(%error, "could not precompress the front end; serving it as is");
                        }
                    });
                }
                Router::new()
                    .nest_service(
                        &format!("/{versioned}"),
                        ServeDir::new(&pkg).precompressed_br().precompressed_gzip(),
                    )
                    .fallback_service(
                        ServeDir::new(&root)
                            .precompressed_br()
                            .precompressed_gzip()
                            .fallback(not_found),
                    )
            }
        }
    }
}
