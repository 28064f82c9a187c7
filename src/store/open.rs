//! Opening the database without ever resetting it silently: the state directory and its
//! instance lock, creating a new database atomically, and the checks every open runs (a
//! zero-byte, foreign or corrupt file is refused with its path named).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::schema::{APPLICATION_ID, CORE_TABLES, latest_version, migrations};
use super::{Result, StoreError};

/// Name of the database file inside the state directory.
pub const DATABASE_FILE: &str = "digestif.sqlite3";
/// Name of the instance lock file inside the state directory.
pub const LOCK_FILE: &str = "digestif.lock";

/// Why a state directory cannot be used, as a sentence (for `check-config` and errors).
pub fn check_state_dir(dir: &Path) -> std::result::Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err("exists but is not a directory".into()),
        Ok(_) => probe_writable(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // It will be created: the nearest existing ancestor must be a writable directory.
            let mut up = dir.parent();
            while let Some(p) = up {
                match std::fs::metadata(p) {
                    Ok(m) if m.is_dir() => {
                        return probe_writable(p).map_err(|e| {
                            format!(
                                "does not exist and cannot be created in {}: {e}",
                                p.display()
                            )
                        });
                    }
                    Ok(_) => return Err(format!("{} is not a directory", p.display())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => up = p.parent(),
                    Err(e) => return Err(format!("{}: {e}", p.display())),
                }
            }
            Err("does not exist".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn probe_writable(dir: &Path) -> std::result::Result<(), String> {
    let probe = dir.join(format!(".digestif-write-test-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("is not writable: {e}")),
    }
}

/// Creates the state directory if needed; refuses a path that is not a directory.
pub fn ensure_state_dir(dir: &Path) -> Result<()> {
    let err = |message: String| StoreError::StateDir {
        path: dir.to_path_buf(),
        message,
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(err("exists but is not a directory".into())),
        Ok(_) => Ok(()),
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create it: {e}"))),
    }
}

/// An exclusive lock on a state directory, held for the life of the process that writes to it
/// (the daemon, `once`, `fetch`, `digest`). A second writer is refused with the holder's pid;
/// the lock goes away with the process, also on kill -9.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    dir: PathBuf,
}

impl InstanceLock {
    /// Takes the lock of `state_dir` (creating the directory if needed), or says who holds it.
    pub fn acquire(state_dir: &Path) -> Result<InstanceLock> {
        ensure_state_dir(state_dir)?;
        let path = state_dir.join(LOCK_FILE);
        let io = |e: std::io::Error| StoreError::StateDir {
            path: path.clone(),
            message: format!("cannot use the lock file: {e}"),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                writeln!(file, "{}", std::process::id()).map_err(io)?;
                Ok(InstanceLock {
                    _file: file,
                    dir: state_dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Err(StoreError::Locked {
                    dir: state_dir.to_path_buf(),
                    pid: text.trim().parse().ok(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The locked state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens the database at `path`: creates it (atomically) when missing, refuses a zero-byte,
/// foreign or damaged file, runs `PRAGMA quick_check`, then the migrations.
pub(crate) fn open_checked(path: &Path) -> Result<Connection> {
    if std::fs::symlink_metadata(path).is_err() {
        create(path)?;
    }
    check_header(path)?;
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unusable_or(path, "opening", e))?;
    let setup = |conn: &Connection| -> rusqlite::Result<()> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
    };
    setup(&conn).map_err(|e| unusable_or(path, "setting up the connection", e))?;
    quick_check(&conn, path)?;
    check_application(&conn, path)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// A new database is built under a temporary name and renamed into place, so a crash during
/// creation never leaves a zero-byte or half-made file under the real name.
fn create(path: &Path) -> Result<()> {
    let tmp = path.with_extension(format!("sqlite3.new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let sql = |cause: rusqlite::Error| StoreError::Sql {
        path: path.to_path_buf(),
        what: "creating a new database".into(),
        cause,
    };
    let build = || -> Result<()> {
        let mut conn = Connection::open(&tmp).map_err(sql)?;
        // Incremental vacuum must be chosen before the first table exists.
        let setup = |c: &Connection| -> rusqlite::Result<()> {
            c.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
            c.pragma_update(None, "application_id", APPLICATION_ID)?;
            c.pragma_update(None, "foreign_keys", "ON")
        };
        setup(&conn).map_err(sql)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|cause| StoreError::Migration {
                path: path.to_path_buf(),
                cause,
            })?;
        conn.close().map_err(|(_, e)| sql(e))
    };
    if let Err(e) = build() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let io = |e: std::io::Error| StoreError::StateDir {
        path: path.to_path_buf(),
        message: format!("cannot create the database: {e}"),
    };
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
    // Another process may have created it meanwhile: never replace an existing database.
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
    }
    let _ = std::fs::remove_file(&tmp);
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

fn unusable(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unusable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A zero-byte file or one that does not start with the SQLite header is not ours to overwrite.
fn check_header(path: &Path) -> Result<()> {
    let mut head = Vec::with_capacity(100);
    let read = File::open(path).and_then(|f| f.take(100).read_to_end(&mut head));
    if let Err(e) = read {
        return Err(StoreError::StateDir {
            path: path.to_path_buf(),
            message: format!("cannot read the database: {e}"),
        });
    }
    if head.is_empty() {
        return Err(unusable(
            path,
            "the file is empty (0 bytes), not a digestif database; refusing to start afresh \
             over it (move it away to start with a new database)",
        ));
    }
    if head.len() < 100 || !head.starts_with(SQLITE_HEADER) {
        return Err(unusable(
            path,
            "not an SQLite database (foreign or damaged file); refusing to use or overwrite it",
        ));
    }
    Ok(())
}

/// SQLite errors that mean the file is damaged or not a database become [`StoreError::Unusable`].
fn unusable_or(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => unusable(
            path,
            format!("not an SQLite database (foreign or damaged file): {e}"),
        ),
        Some(ErrorCode::DatabaseCorrupt) => unusable(
            path,
            format!("the database is damaged: {e}; restore a backup or move it away"),
        ),
        _ => StoreError::Sql {
            path: path.to_path_buf(),
            what: what.to_string(),
            cause: e,
        },
    }
}

fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let run = || -> rusqlite::Result<Vec<String>> {
        let mut st = conn.prepare("PRAGMA quick_check(5)")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    };
    let rows = run().map_err(|e| unusable_or(path, "checking the database (quick_check)", e))?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    Err(unusable(
        path,
        format!(
            "the database is damaged (PRAGMA quick_check: {}); restore a backup or move it away",
            rows.join("; ")
        ),
    ))
}

/// The file must be a digestif database: our application id, or (written before the id was
/// set) our tables; an SQLite database with no tables at all is initialised.
fn check_application(conn: &Connection, path: &Path) -> Result<()> {
    let sql = |e| unusable_or(path, "reading the database header", e);
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sql)?;
    if app == APPLICATION_ID {
        return Ok(());
    }
    let tables: Vec<String> = {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .map_err(sql)?;
        st.query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sql)?
    };
    let ours = CORE_TABLES.iter().all(|t| tables.iter().any(|n| n == t));
    if app == 0 && (tables.is_empty() || ours) {
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| unusable_or(path, "marking the database as digestif's", e))?;
        return Ok(());
    }
    let shown: Vec<&str> = tables.iter().take(8).map(String::as_str).collect();
    Err(unusable(
        path,
        format!(
            "an SQLite database of another program (application id {app:#x}, tables: {}); \
             refusing to use it",
            if shown.is_empty() {
                "none".to_string()
            } else {
                shown.join(", ")
            }
        ),
    ))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: Option<i64> = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .optional()
        .map_err(|e| unusable_or(path, "reading the schema version", e))?;
    if let Some(v) = version
        && v > latest_version() as i64
    {
        return Err(unusable(
            path,
            format!(
                "written by a newer digestif (schema version {v}; this one knows up to {})",
                latest_version()
            ),
        ));
    }
    migrations()
        .to_latest(conn)
        .map_err(|cause| StoreError::Migration {
            path: path.to_path_buf(),
            cause,
        })
}
