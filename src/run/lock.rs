//! One run per stack at a time: an exclusive `flock` on a file derived from the stack file's
//! canonical path. The lock dies with the process, so a crash never leaves a stale lock.

use crate::error::{fail, ExitClass};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub struct StackLock {
    _file: File,
}

pub fn acquire(config: &Path, command: &str) -> anyhow::Result<StackLock> {
    let canon = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    let dir = crate::paths::foundry_home().join("locks");
    crate::paths::private_dir(&dir)?;
    let id = hex::encode(&Sha256::digest(canon.to_string_lossy().as_bytes())[..8]);
    let path = dir.join(format!("{id}.lock"));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    // SAFETY: flock on a file descriptor we own; no memory is shared with the kernel.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let mut holder = String::new();
        let _ = f.read_to_string(&mut holder);
        return Err(fail(
            ExitClass::Locked,
            format!(
                "another foundry run holds the lock on {} ({}); wait for it to finish",
                canon.display(),
                holder.trim()
            ),
        ));
    }
    f.set_len(0)?;
    f.rewind()?;
    let _ = write!(
        f,
        "pid {} running `{command}` since {}",
        std::process::id(),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    Ok(StackLock { _file: f })
}
