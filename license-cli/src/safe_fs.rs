//! Writing files where someone else may have planted links: `coder-license` often runs as
//! root on a directory other users can write to. Everything here works relative to a
//! directory opened once, refusing a symbolic link ([`Dir::open`]); files are opened with
//! `O_NOFOLLOW`, temporary files are created new (`O_EXCL`) under an unpredictable name, and
//! permissions are set on the open file (`fchmod`), never through a path.

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// An open directory that was not a symbolic link when it was opened.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Why a file could not be read or written; the message names the path.
fn named(path: &Path, what: &str, error: impl Into<io::Error>) -> io::Error {
    let error: io::Error = error.into();
    let why = match error.raw_os_error() {
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
            "it is a symbolic link, and coder-license does not write or read through links here"
                .to_owned()
        }
        _ => error.to_string(),
    };
    io::Error::new(
        error.kind(),
        format!("cannot {what} {}: {why}", path.display()),
    )
}

impl Dir {
    /// Opens `path` as a directory; a symbolic link (as the last component) or anything that
    /// is not a directory is refused.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(CWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Dir {
                fd,
                path: path.to_owned(),
            }),
            // O_DIRECTORY | O_NOFOLLOW on a link: ELOOP or ENOTDIR depending on the system.
            Err(e) if e == rustix::io::Errno::NOTDIR && is_link(path) => {
                Err(named(path, "open the directory", rustix::io::Errno::LOOP))
            }
            Err(e) => Err(named(path, "open the directory", e)),
        }
    }

    /// The directory `path` with its missing parents created (mode `mode`), then opened as
    /// [`Dir::open`] does.
    pub fn create(path: &Path, mode: u32) -> io::Result<Dir> {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
            .map_err(|e| named(path, "create the directory", e))?;
        Dir::open(path)
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the regular file `name` (at most `limit + 1` bytes, so that the caller can tell
    /// a file that is too large); `None` when there is none. A link is refused.
    pub fn read(&self, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(named(&path, "read", e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| named(&path, "read", e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot read {}: it is not a regular file", path.display()),
            ));
        }
        let mut bytes = Vec::new();
        File::from(fd)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| named(&path, "read", e))?;
        Ok(Some(bytes))
    }

    /// Replaces `name` with `bytes`, mode `mode`, atomically: a new temporary file with an
    /// unpredictable name (created, never opened if it exists, never through a link), written,
    /// `fchmod`ed and synced, then renamed over `name`. A link at `name` is replaced, never
    /// followed.
    pub fn write_atomically(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let path = self.path.join(name);
        let temp = format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple());
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(mode);
        let fd = rustix::fs::openat(&self.fd, temp.as_str(), flags, mode)
            .map_err(|e| named(&self.path.join(&temp), "create", e))?;
        let result = (|| -> io::Result<()> {
            // The umask may have narrowed the mode; set it on the open file.
            rustix::fs::fchmod(&fd, mode)?;
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()?;
            rustix::fs::renameat(&self.fd, temp.as_str(), &self.fd, name)?;
            Ok(())
        })();
        if let Err(error) = result {
            let _ = rustix::fs::unlinkat(&self.fd, temp.as_str(), AtFlags::empty());
            return Err(named(&path, "write", error));
        }
        Ok(())
    }

    /// Removes `name` (a link is removed, not followed); a missing one is not an error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(named(&self.path.join(name), "remove", e)),
        }
    }

    /// Makes the directory's entries durable (after renames and removals).
    pub fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd).map_err(|e| named(&self.path, "sync", e))
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn writes_atomically_with_the_mode_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::create(&tmp.path().join("a/b"), 0o755).unwrap();
        dir.write_atomically("x", b"one", 0o644).unwrap();
        dir.write_atomically("x", b"two", 0o644).unwrap();
        assert_eq!(dir.read("x", 10).unwrap().unwrap(), b"two");
        let mode = std::fs::metadata(tmp.path().join("a/b/x"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(dir.read("missing", 10).unwrap(), None);
        // Only the file: no temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x"]);
        dir.remove("x").unwrap();
        dir.remove("x").unwrap();
        dir.sync().unwrap();
    }

    #[test]
    fn links_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "secret").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let store = tmp.path().join("store");
        let dir = Dir::create(&store, 0o755).unwrap();
        std::os::unix::fs::symlink(&victim, store.join("entry")).unwrap();
        // Reading through the link is refused, and says why.
        let err = dir.read("entry", 100).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // Writing replaces the link; the file it pointed at is untouched.
        dir.write_atomically("entry", b"new", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            !std::fs::symlink_metadata(store.join("entry"))
                .unwrap()
                .is_symlink()
        );
        // A directory that is a link is refused.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&store, &link).unwrap();
        let err = Dir::open(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
