//! The data folder's own permissions: the database, its WAL and shared-memory files and the
//! development outbox hold password hashes, logs and texted codes, so only the service's user
//! may read them (0700 for the folder, 0600 for the files), whatever the umask.

use std::path::{Path, PathBuf};

use domain::StorageError;

/// The folder's mode: its owner alone.
#[cfg(unix)]
const FOLDER_MODE: u32 = 0o700;
/// Each file's mode: its owner reads and writes.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// The files of the data folder that hold secrets, besides the database's own.
const PRIVATE_FILES: &[&str] = &["outbox.jsonl"];

/// The database file a `sqlite:` URL names, if it is a file (not `:memory:`).
pub(super) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Creates the data folder (and the SQLite database file, when there is one) private to this
/// user, and takes group and other access away from those made before this rule. SQLite gives
/// a database's `-wal` and `-shm` files the database file's own mode, so creating the database
/// file 0600 first makes them 0600 too.
pub(super) fn make_private(data_dir: &Path, database: Option<&Path>) -> Result<(), StorageError> {
    let failed = |what: &Path, e: std::io::Error| {
        StorageError::Unavailable(format!("cannot secure {}: {e}", what.display()))
    };
    create_folder(data_dir).map_err(|e| failed(data_dir, e))?;
    tighten(data_dir, true).map_err(|e| failed(data_dir, e))?;
    let mut files: Vec<PathBuf> = PRIVATE_FILES.iter().map(|f| data_dir.join(f)).collect();
    if let Some(db) = database {
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_folder(parent).map_err(|e| failed(parent, e))?;
        }
        create_file(db).map_err(|e| failed(db, e))?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
    }
    for file in files {
        if file.exists() {
            tighten(&file, false).map_err(|e| failed(&file, e))?;
        }
    }
    Ok(())
}

fn create_folder(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(FOLDER_MODE);
    }
    builder.create(path)
}

fn create_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path).map(drop)
}

/// Removes group and other access, leaving the owner's as it is.
#[cfg(unix)]
fn tighten(path: &Path, folder: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    let wanted = if folder { FOLDER_MODE } else { FILE_MODE };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _folder: bool) -> std::io::Result<()> {
    Ok(())
}

/// The mode new files in the data folder are created with (the outbox).
#[cfg(unix)]
pub fn private_file_mode() -> u32 {
    FILE_MODE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://./d/nhsmal.db?mode=rwc"),
            Some(PathBuf::from("./d/nhsmal.db"))
        );
        assert_eq!(sqlite_path("sqlite:x.db"), Some(PathBuf::from("x.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_folder_and_files_are_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("folder");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("mode");
        let outbox = data.join("outbox.jsonl");
        std::fs::write(&outbox, "").expect("outbox");
        std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o644)).expect("mode");
        let db = data.join("nhsmal.db");
        make_private(&data, Some(&db)).expect("secured");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&outbox), 0o600);
        assert_eq!(mode(&db), 0o600);
    }
}
