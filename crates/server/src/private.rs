//! The data dir holds password hashes, secrets, live reset links and
//! avatars: only the service's own user may read it, whatever the umask.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Files and folders this process creates from now on are its user's only.
pub(crate) fn restrict_new_files() {
    // SAFETY: umask only sets the process's file mode mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Folders and files under `root` (itself included) lose every permission
/// of group and others, for data dirs made by an older version under a
/// looser umask. Only what the process's user owns is changed (everything,
/// when that user is root), and a folder with the sticky bit (a shared one,
/// such as `/tmp`) is neither changed nor entered: an operator may name a
/// folder that holds more than Sesame's files. What is left open to others
/// is logged. `root` is followed when it is a symbolic link (the operator
/// named it); links below it are left alone.
///
/// # Errors
/// An I/O error on the way.
pub(crate) fn make_private(root: &Path) -> io::Result<()> {
    match fs::canonicalize(root) {
        Ok(target) => make_private_below(&target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn make_private_below(root: &Path) -> io::Result<()> {
    let metadata = match fs::symlink_metadata(root) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: geteuid only reads the process's effective user id.
    let me = unsafe { libc::geteuid() };
    let mine = me == 0 || metadata.uid() == me;
    let mode = metadata.permissions().mode();
    let shared = metadata.is_dir() && mode & STICKY != 0;
    if !(metadata.is_dir() || metadata.is_file()) {
        return Ok(());
    }
    if mine && !shared {
        restrict(root, mode)?;
    } else if mode & 0o077 != 0 {
        tracing::warn!(
            path = %root.display(),
            "left open to others: {}",
            if shared { "a shared folder" } else { "another user's" }
        );
    }
    if metadata.is_dir() && !shared {
        for entry in fs::read_dir(root)? {
            make_private_below(&entry?.path())?;
        }
    }
    Ok(())
}

const STICKY: u32 = 0o1000;

/// Takes every permission of group and others from `path`, keeping the owner's.
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o077))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_data_dir_becomes_private() {
        let data = std::env::temp_dir().join(format!("sesame-private-{}", std::process::id()));
        fs::create_dir_all(data.join("outbox")).unwrap();
        fs::write(data.join("outbox/1.eml"), "link").unwrap();
        fs::write(data.join("sesame.db"), "").unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(data.join("sesame.db"), fs::Permissions::from_mode(0o644)).unwrap();
        make_private(&data).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("outbox")), 0o700);
        assert_eq!(mode(&data.join("outbox/1.eml")), 0o600);
        assert_eq!(mode(&data.join("sesame.db")), 0o600);
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn the_owner_keeps_its_permissions_and_a_shared_folder_is_left_alone() {
        let data = std::env::temp_dir().join(format!("sesame-shared-{}", std::process::id()));
        fs::create_dir_all(data.join("bin")).unwrap();
        fs::create_dir_all(data.join("shared")).unwrap();
        fs::write(data.join("bin/tool"), "#!/bin/sh").unwrap();
        fs::write(data.join("shared/other"), "").unwrap();
        fs::set_permissions(data.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(data.join("shared/other"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(data.join("shared"), fs::Permissions::from_mode(0o1777)).unwrap();
        make_private(&data).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(
            mode(&data.join("bin/tool")),
            0o700,
            "the owner lost a permission"
        );
        assert_eq!(
            mode(&data.join("shared")),
            0o1777,
            "a shared folder was changed"
        );
        assert_eq!(
            mode(&data.join("shared/other")),
            0o644,
            "a shared folder was entered"
        );
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn a_data_dir_named_through_a_link_is_made_private_but_links_inside_are_not_followed() {
        let base = std::env::temp_dir().join(format!("sesame-linked-{}", std::process::id()));
        let (real, elsewhere) = (base.join("real"), base.join("elsewhere"));
        fs::create_dir_all(&real).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(real.join("sesame.db"), "").unwrap();
        for path in [&real, &elsewhere] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(real.join("sesame.db"), fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&real, base.join("data")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, real.join("link")).unwrap();
        make_private(&base.join("data")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&real), 0o700);
        assert_eq!(mode(&real.join("sesame.db")), 0o600);
        assert_eq!(mode(&elsewhere), 0o755, "a link inside was followed");
        fs::remove_dir_all(&base).unwrap();
    }
}
