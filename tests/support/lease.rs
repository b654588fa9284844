//! IDX leases: which 10.214.0.<IDX> a test host may use. One file per IDX under
//! `<state>/run/leases/`, holding "NAME PID STARTTIME" of the owning test process; all changes
//! happen under an flock on `<state>/.leases.lock`, so threads, test binaries and parallel
//! `cargo test` runs never pick the same IDX. A lease whose owner process is gone (a crashed or
//! killed test) is reclaimed: its host is removed first.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const FIRST_IDX: u8 = 11;
pub const LAST_IDX: u8 = 250;

pub struct Lease {
    pub idx: u8,
    pub name: String,
    file: PathBuf,
}

/// Takes the lowest free IDX and names the host `t-<tag>-<idx>`.
pub fn acquire(state: &Path, tag: &str) -> Lease {
    let dir = state.join("run/leases");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let _lock = FileLock::exclusive(&state.join(".leases.lock"));
    let in_use_by_hosts = host_dirs_idx(state);
    for idx in FIRST_IDX..=LAST_IDX {
        let file = dir.join(idx.to_string());
        match fs::read_to_string(&file) {
            Ok(content) => {
                let mut it = content.split_whitespace();
                let (name, pid, start) = (it.next(), it.next(), it.next());
                if owner_alive(pid, start) {
                    continue;
                }
                // stale: its test died without dropping the host
                if let Some(name) = name {
                    if let Err(e) = super::bed_sh(&["host-down", name]) {
                        eprintln!("[harness] reclaiming IDX {idx}: {e}");
                        continue;
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // a host started by hand (bed.sh host-up) may hold it without a lease
                if in_use_by_hosts.contains(&idx) {
                    continue;
                }
            }
            Err(e) => panic!("cannot read lease {}: {e}", file.display()),
        }
        let name = format!("t-{}-{idx}", sanitize(tag));
        let me = std::process::id();
        let content = format!("{name} {me} {}\n", start_time(me).unwrap_or_default());
        fs::write(&file, content)
            .unwrap_or_else(|e| panic!("cannot write lease {}: {e}", file.display()));
        return Lease { idx, name, file };
    }
    panic!(
        "no free host IDX in {FIRST_IDX}..={LAST_IDX} (leases in {})",
        dir.display()
    );
}

impl Lease {
    pub fn release(&self, state: &Path) {
        let _lock = FileLock::exclusive(&state.join(".leases.lock"));
        let _ = fs::remove_file(&self.file);
    }
}

/// `tag` as part of a host name: lowercase letters, digits and '-', at most 40 chars.
fn sanitize(tag: &str) -> String {
    let s: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "host".into()
    } else {
        s
    }
}

/// IDXs recorded by bed.sh in `<state>/run/hosts/*/idx`.
fn host_dirs_idx(state: &Path) -> Vec<u8> {
    let Ok(rd) = fs::read_dir(state.join("run/hosts")) else {
        return vec![];
    };
    rd.filter_map(|e| fs::read_to_string(e.ok()?.path().join("idx")).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn owner_alive(pid: Option<&str>, start: Option<&str>) -> bool {
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    // the start time tells a live owner from a reused PID
    match (start_time(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot); None when the process
/// is gone or a zombie (killed, not yet reaped: it holds nothing any more).
fn start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) may contain spaces; fields after it follow the last ')'
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18).map(str::to_string)
}

/// An exclusive flock, released on drop.
struct FileLock(File);

impl FileLock {
    fn exclusive(path: &Path) -> FileLock {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open lock {}: {e}", path.display()));
        // SAFETY: flock on a descriptor we own
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        FileLock(f)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: as above
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}
