//! Atomic file replacement: write a temporary file beside the target, fsync, rename.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Replace stack.yaml (or another kept file) with an edited text: atomic, its permission bits
/// kept (0600 for a new file), the previous file kept as `PATH.bak`.
pub fn save_edited(path: &Path, text: &str) -> io::Result<()> {
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    write_atomic(path, text.as_bytes(), mode, true)
}

/// Replace `path` with `content` atomically (readers see the old or the new file, never half of
/// one), with permission bits `mode`. A missing parent directory is created with mode 0700. With
/// `backup`, the previous file (if any) is first copied to `PATH.bak`.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32, backup: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        crate::paths::private_dir(&dir)?;
    }
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have removed bits from `mode`; set exactly what was asked.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(content)?;
        f.sync_all()?;
        if backup && path.exists() {
            let mut bak = path.as_os_str().to_owned();
            bak.push(".bak");
            fs::copy(path, &bak)?;
        }
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_mode_creates_parent_and_keeps_backup() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("sub/stack.yaml");
        write_atomic(&p, b"one\n", 0o600, true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(t.path().join("sub"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert!(!t.path().join("sub/stack.yaml.bak").exists());
        write_atomic(&p, b"two\n", 0o640, true).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
        assert_eq!(
            fs::read_to_string(t.path().join("sub/stack.yaml.bak")).unwrap(),
            "one\n"
        );
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = fs::read_dir(t.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
