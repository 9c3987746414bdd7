//! Files that hold secrets, kept private to the user Latchkey runs as: the database (its
//! session ids, its WAL) and the outbox (its `.eml` files carry live links). Directories
//! Latchkey creates are 0700 and the files 0600; a directory that already existed is left
//! as it is (it may be shared, like `/var/lib`), its files are made private. Outbox
//! files older than `LATCHKEY_OUTBOX_RETENTION_MINUTES` are deleted by housekeeping.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Only the owner reads and writes.
pub const FILE_MODE: u32 = 0o600;
/// Only the owner lists and enters.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents as 0700; an existing directory is left alone.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates a new file at `path` (never opening one that exists), readable by its owner
/// only.
fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Writes a new file at `path` (never overwriting one), readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_private(path)?.write_all(bytes)
}

/// Makes the SQLite database at `path` and its companions (`-wal`, `-shm`, `-journal`)
/// private, creating the database as an empty private file when it does not exist yet,
/// so SQLite (which gives its companions the database's mode) never makes a readable one.
pub fn private_database(path: &Path) -> io::Result<()> {
    match create_private(path) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::set_permissions(&name, Permissions::from_mode(FILE_MODE)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Deletes the `.eml` files in `dir` last written more than `retention` ago; answers how
/// many. Other files are left alone.
pub fn prune_outbox(dir: &Path, retention: Duration) -> io::Result<usize> {
    let Some(cutoff) = SystemTime::now().checked_sub(retention) else {
        return Ok(0);
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut pruned = 0;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let metadata = entry.metadata()?;
        if metadata.is_file() && metadata.modified()? < cutoff {
            std::fs::remove_file(&path)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-files-{name}-{}-{:?}",
            std::process::id(),
            SystemTime::now()
        ));
        private_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn created_directories_and_files_are_private() {
        let root = scratch("modes");
        let nested = root.join("a/b");
        private_dir(&nested).unwrap();
        assert_eq!(mode(&root.join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("x.eml");
        write_private(&file, b"hello").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(write_private(&file, b"again").is_err(), "never overwrites");

        let db = nested.join("latchkey.db");
        std::fs::write(nested.join("latchkey.db-wal"), b"").unwrap();
        std::fs::set_permissions(
            nested.join("latchkey.db-wal"),
            Permissions::from_mode(0o644),
        )
        .unwrap();
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&nested.join("latchkey.db-wal")), 0o600);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn outbox_files_past_their_retention_are_pruned() {
        let dir = scratch("prune");
        let old = dir.join("1-old.eml");
        let fresh = dir.join("2-fresh.eml");
        let other = dir.join("notes.txt");
        for path in [&old, &fresh, &other] {
            write_private(path, b"x").unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
        for path in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let pruned = prune_outbox(&dir, Duration::from_secs(7 * 24 * 3600)).unwrap();
        assert_eq!(pruned, 1);
        assert!(!old.exists());
        assert!(fresh.exists());
        assert!(other.exists(), "only .eml files are the outbox's");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
