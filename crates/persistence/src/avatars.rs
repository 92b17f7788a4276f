//! Avatar images as files in one folder (`<data_dir>/avatars/`), named only
//! by [`AvatarName`], which cannot name anything outside it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use sesame_kernel::StorageError;
use sesame_users::{AvatarName, AvatarStore, UsersError};

/// Avatars in a folder of the file system.
#[derive(Debug, Clone)]
pub struct FileAvatarStore {
    folder: PathBuf,
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> UsersError {
    UsersError::Storage(StorageError(format!(
        "cannot {what} {}: {error}",
        path.display()
    )))
}

impl FileAvatarStore {
    /// A store in `folder`, created if needed.
    ///
    /// # Errors
    /// The I/O error when the folder cannot be created.
    pub fn open(folder: impl Into<PathBuf>) -> std::io::Result<FileAvatarStore> {
        let folder = folder.into();
        std::fs::create_dir_all(&folder)?;
        Ok(FileAvatarStore { folder })
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn path(&self, name: &AvatarName) -> PathBuf {
        self.folder.join(name.as_str())
    }
}

impl AvatarStore for FileAvatarStore {
    fn save(&self, name: &AvatarName, bytes: &[u8]) -> Result<(), UsersError> {
        // Written aside, then renamed: a reader never sees half a file.
        let path = self.path(name);
        let partial = self.folder.join(format!(".{}.partial", name.as_str()));
        std::fs::write(&partial, bytes).map_err(|e| io_error("write", &partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            io_error("store", &path, e)
        })
    }

    fn load(&self, name: &AvatarName) -> Result<Option<Vec<u8>>, UsersError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &path, e)),
        }
    }

    fn remove(&self, name: &AvatarName) -> Result<(), UsersError> {
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_users::ImageKind;

    #[test]
    fn saves_loads_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileAvatarStore::open(dir.path().join("avatars")).unwrap();
        let name = AvatarName::random(ImageKind::Png);
        assert_eq!(store.load(&name).unwrap(), None);
        store.save(&name, b"bytes").unwrap();
        assert_eq!(store.load(&name).unwrap().as_deref(), Some(&b"bytes"[..]));
        let files: Vec<_> = std::fs::read_dir(store.folder())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, [name.as_str()]);
        store.remove(&name).unwrap();
        store.remove(&name).unwrap();
        assert_eq!(store.load(&name).unwrap(), None);
    }
}
