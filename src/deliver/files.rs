//! Writing a rendered digest to a folder, atomically and without ever overwriting.
//!
//! Names are `<dir>/<digest>-<YYYY-MM-DD>.<ext>`; when any format's name is taken, all formats
//! of this digest move together to `<digest>-<YYYY-MM-DD>-<HHMMSS>.<ext>`, then
//! `...-<HHMMSS>-2`, `-3`... Each file is written to a temporary file in the same folder,
//! fsynced, then hard-linked to its final name (which fails instead of replacing an existing
//! file) and the temporary removed; the folder is fsynced at the end. On file systems without
//! hard links it falls back to checking for the name and renaming.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::digest::Format;

use super::DeliverError;

/// How many `-HHMMSS-N` candidates are tried before giving up.
const MAX_CANDIDATES: u32 = 1000;

/// `<digest>-<YYYY-MM-DD>`: the first-choice name of a digest's files, without extension.
fn file_stem(digest_name: &str, local_date_time: jiff::civil::DateTime) -> String {
    format!(
        "{}-{}",
        safe_file_part(digest_name),
        local_date_time.strftime("%Y-%m-%d")
    )
}

/// Where [`write_files`] puts a digest's file of `format` when the name is free (the usual
/// case): `<dir>/<digest>-<YYYY-MM-DD>.<ext>`.
pub fn file_path(
    dir: &Path,
    digest_name: &str,
    local_date_time: jiff::civil::DateTime,
    format: Format,
) -> PathBuf {
    dir.join(format!(
        "{}.{}",
        file_stem(digest_name, local_date_time),
        format.extension()
    ))
}

/// Writes each `(format, content)` as `<dir>/<stem>.<ext>` sharing one stem (see the module
/// docs) and returns the written paths in the order given. Creates `dir` if missing.
pub fn write_files(
    dir: &Path,
    digest_name: &str,
    local_date_time: jiff::civil::DateTime,
    outputs: &[(Format, String)],
) -> Result<Vec<PathBuf>, DeliverError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DeliverError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    if outputs.is_empty() {
        return Ok(Vec::new());
    }
    for (i, (f, _)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(g, _)| g == f) {
            return Err(DeliverError::Io {
                path: dir.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("format {f} given twice for digest {digest_name:?}"),
                ),
            });
        }
    }
    let base = file_stem(digest_name, local_date_time);
    let hms = local_date_time.strftime("%H%M%S").to_string();

    // Write all temporaries first so the final step is only links/renames.
    let pid = std::process::id();
    let mut temps: Vec<PathBuf> = Vec::with_capacity(outputs.len());
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = fs::remove_file(t);
        }
    };
    for (i, (format, content)) in outputs.iter().enumerate() {
        let tmp = dir.join(format!(".{base}.{pid}.{i}.{}.tmp", format.extension()));
        if let Err(e) = write_synced(&tmp, content.as_bytes()) {
            cleanup(&temps);
            let _ = fs::remove_file(&tmp);
            return Err(DeliverError::Io {
                path: tmp,
                source: e,
            });
        }
        temps.push(tmp);
    }

    let result = place_all(dir, &base, &hms, outputs, &temps);
    cleanup(&temps);
    let paths = result?;
    if let Ok(d) = File::open(dir) {
        // Persist the new directory entries; not all platforms allow syncing a directory.
        let _ = d.sync_all();
    }
    Ok(paths)
}

fn place_all(
    dir: &Path,
    base: &str,
    hms: &str,
    outputs: &[(Format, String)],
    temps: &[PathBuf],
) -> Result<Vec<PathBuf>, DeliverError> {
    for n in 0..MAX_CANDIDATES {
        let stem = match n {
            0 => base.to_string(),
            1 => format!("{base}-{hms}"),
            n => format!("{base}-{hms}-{n}"),
        };
        let finals: Vec<PathBuf> = outputs
            .iter()
            .map(|(f, _)| dir.join(format!("{stem}.{}", f.extension())))
            .collect();
        if finals.iter().any(|p| p.symlink_metadata().is_ok()) {
            continue;
        }
        let mut placed: Vec<&PathBuf> = Vec::new();
        let mut taken = false;
        for (tmp, fin) in temps.iter().zip(&finals) {
            match place_no_replace(tmp, fin) {
                Ok(()) => placed.push(fin),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    taken = true;
                    break;
                }
                Err(e) => {
                    for p in &placed {
                        let _ = fs::remove_file(p);
                    }
                    return Err(DeliverError::Io {
                        path: fin.clone(),
                        source: e,
                    });
                }
            }
        }
        if taken {
            // Someone else took a name meanwhile: undo ours (they are ours) and move on.
            for p in &placed {
                let _ = fs::remove_file(p);
            }
            continue;
        }
        return Ok(finals);
    }
    Err(DeliverError::Io {
        path: dir.join(format!("{base}-{hms}-*")),
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("all {MAX_CANDIDATES} candidate names are taken"),
        ),
    })
}

/// Moves `tmp` to `fin` unless `fin` exists (then `AlreadyExists`). Uses a hard link, which
/// never replaces; falls back to check-then-rename where links are unsupported.
fn place_no_replace(tmp: &Path, fin: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, fin) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if fin.symlink_metadata().is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "destination exists",
                ));
            }
            fs::rename(tmp, fin)
        }
    }
}

/// Where the Atom feed of a digest's last builds lives: `<dir>/<digest>.atom` (one file,
/// rewritten after each build).
pub fn feed_path(dir: &Path, digest_name: &str) -> PathBuf {
    dir.join(format!("{}.atom", safe_file_part(digest_name)))
}

/// Replaces `path` with `data` atomically: a synced temporary in the same folder is renamed over
/// it and the folder synced, so a reader sees the old file or the new one, never a part of one.
pub fn replace_file(path: &Path, data: &[u8]) -> Result<(), DeliverError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DeliverError::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let written = write_synced(&tmp, data).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Makes a digest name usable as a file name part: path separators, control characters and
/// characters unsafe on common file systems become `_`; leading dots are dropped.
fn safe_file_part(name: &str) -> String {
    let s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else if c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "digest".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_part_is_sanitised() {
        assert_eq!(safe_file_part("daily"), "daily");
        assert_eq!(safe_file_part("../etc/x"), "_etc_x");
        assert_eq!(safe_file_part("Morning news"), "Morning-news");
        assert_eq!(safe_file_part(".."), "digest");
    }
}
