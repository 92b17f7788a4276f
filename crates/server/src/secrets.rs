use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sesame_kernel::secrets::{hex, random_bytes};

/// A secret kept in a file of the data dir: read if it exists, otherwise
/// generated (64 random bytes, hex) and written with mode 0600.
///
/// # Errors
/// An I/O error, or an empty file.
pub(crate) fn load_or_generate(path: &Path) -> std::io::Result<String> {
    match fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_owned()),
        Ok(_) => {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                format!("{} is empty", path.display()),
            ))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret = hex(&random_bytes(64));
    // Written whole aside, then linked into place (which fails if the name
    // exists): another process never reads a half-written secret, and a
    // crash leaves no empty file behind.
    let aside = path.with_extension(format!("new-{}", hex(&random_bytes(8))));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&aside)?;
    let written = file
        .write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::hard_link(&aside, path));
    let _ = fs::remove_file(&aside);
    match written {
        Ok(()) => Ok(secret),
        // Another process linked its own first: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => load_or_generate(path),
        Err(e) if no_hard_links(&e) => write_in_place(path, &secret),
        Err(e) => Err(e),
    }
}

/// Whether `error` says the file system has no hard links (vfat, some
/// network and FUSE file systems).
fn no_hard_links(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::Unsupported
        || matches!(
            error.raw_os_error(),
            Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)
        )
}

/// Writes `secret` straight to `path`, made now, where it cannot be written
/// aside and linked: another process starting at that very moment may read
/// it empty (and is refused with the path named) or partly written. A write
/// that fails removes the file, so that the next start makes it again.
fn write_in_place(path: &Path, secret: &str) -> std::io::Result<String> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return load_or_generate(path),
        Err(e) => return Err(e),
    };
    let written = file
        .write_all(secret.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(secret.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_and_private() {
        let dir = std::env::temp_dir().join(format!("sesame-secret-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwt_secret");
        let _ = fs::remove_file(&path);
        let first = load_or_generate(&path).unwrap();
        let second = load_or_generate(&path).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 128);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["jwt_secret"], "a file written aside was left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn processes_starting_at_once_all_read_one_whole_secret() {
        let dir = std::env::temp_dir().join(format!("sesame-secret-race-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mfa_key");
        let read: Vec<String> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_generate(&path)))
                .collect();
            starts
                .into_iter()
                .map(|start| start.join().unwrap().unwrap())
                .collect()
        });
        assert!(read
            .iter()
            .all(|secret| secret == &read[0] && secret.len() == 128));
        fs::remove_dir_all(&dir).unwrap();
    }
}
