//! The data dir holds password hashes, secrets, live reset links and
//! avatars: only the service's own user may read it, whatever the umask.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Files and folders this process creates from now on are its user's only.
pub(crate) fn restrict_new_files() {
    // SAFETY: umask only sets the process's file mode mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Folders under `root` (itself included) become 0700 and files 0600, for
/// data dirs made by an older version under a looser umask. `root` is
/// followed when it is a symbolic link (the operator named it); links
/// below it are left alone.
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
    if metadata.is_dir() {
        restrict(root, &metadata, 0o700)?;
        for entry in fs::read_dir(root)? {
            make_private_below(&entry?.path())?;
        }
    } else if metadata.is_file() {
        restrict(root, &metadata, 0o600)?;
    }
    Ok(())
}

fn restrict(path: &Path, metadata: &fs::Metadata, mode: u32) -> io::Result<()> {
    if metadata.permissions().mode() & 0o777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
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
