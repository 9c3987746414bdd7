//! `sqlx::migrate!` embeds the migrations at compile time; Cargo learns here that the
//! crate must be compiled again when one of them changes or a new one appears.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
