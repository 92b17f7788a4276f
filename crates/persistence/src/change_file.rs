//! On SQLite, the processes that share a database file (the server and the
//! command line) tell each other that users or sessions changed through the
//! modification time of a file beside it: cheap to check before every answer
//! from memory, and nothing to run.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sesame_kernel::OutsideChanges;

/// `<database file>-changes`, touched after every change that matters to
/// authentication (an account changed or deleted, a session revoked).
pub(crate) struct ChangeFile {
    path: PathBuf,
    last_seen: AtomicU64,
}

impl ChangeFile {
    /// The change file of the SQLite database at `database_path`.
    pub(crate) fn beside(database_path: &str) -> ChangeFile {
        let path = PathBuf::from(format!("{database_path}-changes"));
        let last_seen = AtomicU64::new(stamp(&path));
        ChangeFile { path, last_seen }
    }

    /// Tells the other processes that something changed.
    pub(crate) fn announce(&self) {
        let touched = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.path)
            .and_then(|file| {
                // Never the same time twice, even on a coarse clock.
                let previous = UNIX_EPOCH + Duration::from_nanos(stamp(&self.path));
                let now = SystemTime::now().max(previous + Duration::from_micros(1));
                file.set_modified(now)
            });
        if let Err(e) = touched {
            tracing::warn!(path = %self.path.display(), error = %e, "could not announce a change to other processes");
        }
    }
}

impl OutsideChanges for ChangeFile {
    fn changed_since_last_check(&self) -> bool {
        let now = stamp(&self.path);
        self.last_seen.swap(now, Ordering::Relaxed) != now
    }
}

/// The file's modification time in nanoseconds, 0 when it does not exist.
fn stamp(path: &PathBuf) -> u64 {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|modified| modified.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_announced_by_one_process_is_seen_once_by_another() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("sesame.db");
        let database = database.to_str().unwrap();
        let server = ChangeFile::beside(database);
        let command_line = ChangeFile::beside(database);
        assert!(!server.changed_since_last_check());
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(!server.changed_since_last_check());
        command_line.announce();
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(!server.changed_since_last_check());
    }
}
