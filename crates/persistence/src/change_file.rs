//! On SQLite, the processes that share a database file (the server and the
//! command line) tell each other that users or sessions changed through the
//! modification time of a file beside it: cheap to check before every answer
//! from memory, and nothing to run.

use std::fs::{File, Metadata, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sesame_kernel::{ChangeObserver, OutsideChanges};

/// How often a server looks for what other processes announced.
const POLL: Duration = Duration::from_millis(200);

/// Starts a thread, named `name`, that asks `changed` every [`POLL`] and
/// hands `observer` to `tell` whenever it says yes; the thread ends once
/// `observer` is dropped.
pub(crate) fn poll(
    name: &str,
    observer: Weak<dyn ChangeObserver>,
    changed: impl Fn() -> bool + Send + 'static,
    tell: fn(&dyn ChangeObserver),
) {
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || loop {
            std::thread::sleep(POLL);
            let Some(observer) = observer.upgrade() else {
                return;
            };
            if changed() {
                tell(observer.as_ref());
            }
        });
    if let Err(e) = spawned {
        tracing::error!(thread = name, error = %e, "could not start a change file watcher");
    }
}

/// `<database file>-changes`, touched after every change that matters to
/// authentication (an account changed or deleted, a session revoked).
pub(crate) struct ChangeFile {
    path: PathBuf,
    last_seen: AtomicU64,
    /// The stamp of this process's latest announcement.
    announced: AtomicU64,
    /// Set when this process announced over another's announcement.
    announced_over_another: AtomicBool,
    /// The stamp [`ChangeFile::changed_by_another_process`] saw last.
    watched: AtomicU64,
    /// The file, held open (and made if need be): a check is then one
    /// `fstat`, not a lookup of its path (a twentieth of a cached request's
    /// time).
    held: RwLock<Option<File>>,
    /// Set when the file cannot be made or opened: checks look the path up.
    unholdable: AtomicBool,
}

impl ChangeFile {
    /// The change file of the SQLite database at `database_path`, made if
    /// its folder exists.
    pub(crate) fn beside(database_path: &str) -> ChangeFile {
        let path = PathBuf::from(format!("{database_path}-changes"));
        let held = open_to_watch(&path).ok();
        let last_seen = held.as_ref().and_then(linked_stamp);
        let last_seen = last_seen.unwrap_or_else(|| stamp(&path));
        ChangeFile {
            last_seen: AtomicU64::new(last_seen),
            announced: AtomicU64::new(last_seen),
            announced_over_another: AtomicBool::new(false),
            watched: AtomicU64::new(last_seen),
            path,
            held: RwLock::new(held),
            unholdable: AtomicBool::new(false),
        }
    }

    /// Tells the other processes that something changed.
    pub(crate) fn announce(&self) {
        let touched = open_for_writing(&self.path).and_then(|file| {
            // One announcement at a time, in every process: each knows whose
            // stamp it replaces and which it leaves. Unlocked when closed; a
            // file system that cannot lock still gets the announcement.
            let _ = file.lock();
            let previous = nanos(&file.metadata()?);
            let unseen = previous != self.announced.load(Ordering::Relaxed)
                && previous != self.watched.load(Ordering::Relaxed);
            if unseen {
                self.announced_over_another.store(true, Ordering::Relaxed);
            }
            // Never the same time twice, even on a coarse clock.
            let previous = UNIX_EPOCH + Duration::from_nanos(previous);
            file.set_modified(SystemTime::now().max(previous + Duration::from_micros(1)))?;
            let announced = nanos(&file.metadata()?);
            self.announced.store(announced, Ordering::Relaxed);
            Ok(())
        });
        if let Err(e) = touched {
            tracing::warn!(path = %self.path.display(), error = %e, "could not announce a change to other processes");
        }
    }

    /// Whether another process announced a change since the last call; this
    /// process's own announcements are left out.
    pub(crate) fn changed_by_another_process(&self) -> bool {
        let file = File::open(&self.path).ok();
        if let Some(file) = &file {
            // Not in the middle of one of this process's announcements, whose
            // stamp would be taken for another's. Unlocked when closed.
            let _ = file.lock_shared();
        }
        let metadata = file.as_ref().and_then(|file| file.metadata().ok());
        let now = metadata.map_or(0, |metadata| nanos(&metadata));
        let seen = self.watched.swap(now, Ordering::Relaxed);
        let over_another = self.announced_over_another.swap(false, Ordering::Relaxed);
        over_another || (now != seen && now != self.announced.load(Ordering::Relaxed))
    }
}

impl OutsideChanges for ChangeFile {
    fn changed_since_last_check(&self) -> bool {
        let now = self.held_stamp().unwrap_or_else(|| stamp(&self.path));
        self.last_seen.swap(now, Ordering::Relaxed) != now
    }
}

impl ChangeFile {
    /// The stamp of the held file, opened first if need be; `None` when it
    /// cannot be held.
    fn held_stamp(&self) -> Option<u64> {
        if self.unholdable.load(Ordering::Relaxed) {
            return None;
        }
        let held = self.held.read().unwrap_or_else(|p| p.into_inner());
        if let Some(stamp) = held.as_ref().and_then(linked_stamp) {
            return Some(stamp);
        }
        drop(held);
        // Not made yet, or removed since: hold the file at the path now (a
        // file made here reads as a change, which only empties a cache).
        let Ok(file) = open_to_watch(&self.path) else {
            self.unholdable.store(true, Ordering::Relaxed);
            return None;
        };
        let stamp = linked_stamp(&file);
        *self.held.write().unwrap_or_else(|p| p.into_inner()) = Some(file);
        stamp
    }
}

/// The file at `path`, read-only if it exists (another user's process may
/// have made it), else made.
fn open_to_watch(path: &PathBuf) -> std::io::Result<File> {
    File::open(path).or_else(|_| open_for_writing(path))
}

/// The file at `path` for writing, made if it is missing, its content kept.
fn open_for_writing(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// The open file's modification time, unless it has been removed (then the
/// path may name a new file, and the open one would never change again).
fn linked_stamp(file: &File) -> Option<u64> {
    let metadata = file.metadata().ok()?;
    #[cfg(unix)]
    let linked = std::os::unix::fs::MetadataExt::nlink(&metadata) > 0;
    // Elsewhere a removal cannot be told from the open file: look the path up.
    #[cfg(not(unix))]
    let linked = false;
    linked.then(|| nanos(&metadata))
}

/// The file's modification time in nanoseconds, 0 when it does not exist.
fn stamp(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| nanos(&metadata))
}

fn nanos(metadata: &Metadata) -> u64 {
    metadata
        .modified()
        .ok()
        .and_then(|modified| modified.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database folder, and the change files of a server and of a
    /// command line on it.
    fn server_and_command_line() -> (tempfile::TempDir, ChangeFile, ChangeFile) {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("sesame.db");
        let database = database.to_str().unwrap();
        let (server, command_line) = (ChangeFile::beside(database), ChangeFile::beside(database));
        (dir, server, command_line)
    }

    #[test]
    fn a_change_announced_by_one_process_is_seen_once_by_another() {
        let (_dir, server, command_line) = server_and_command_line();
        assert!(!server.changed_since_last_check());
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(!server.changed_since_last_check());
        command_line.announce();
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(!server.changed_since_last_check());
    }

    #[test]
    fn a_server_tells_another_process_announcements_from_its_own() {
        let (_dir, server, command_line) = server_and_command_line();
        assert!(!server.changed_by_another_process());
        server.announce();
        assert!(!server.changed_by_another_process(), "its own");
        command_line.announce();
        assert!(server.changed_by_another_process());
        assert!(!server.changed_by_another_process(), "seen once");
        // Another's announcement, announced over before the server looked.
        command_line.announce();
        server.announce();
        assert!(server.changed_by_another_process());
        assert!(!server.changed_by_another_process());
        // ... but not when it had looked already.
        command_line.announce();
        assert!(server.changed_by_another_process());
        server.announce();
        assert!(!server.changed_by_another_process());
        // The file removed, then announced again by another process.
        std::fs::remove_file(&server.path).unwrap();
        command_line.announce();
        assert!(server.changed_by_another_process());
        server.announce();
        assert!(!server.changed_by_another_process());
        // The cache's check is a reader of its own.
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(server.changed_by_another_process());
    }

    #[test]
    fn a_change_file_removed_and_made_again_is_still_watched() {
        let (_dir, server, command_line) = server_and_command_line();
        command_line.announce();
        assert!(server.changed_since_last_check());
        std::fs::remove_file(&server.path).unwrap();
        assert!(server.changed_since_last_check(), "the removal itself");
        assert!(!server.changed_since_last_check());
        command_line.announce();
        assert!(server.changed_since_last_check());
        command_line.announce();
        assert!(server.changed_since_last_check());
        assert!(!server.changed_since_last_check());
    }
}
