//! Running a child process with captured output and a hard timeout (a hung ssh or foundry
//! must fail its test, not hang the suite).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub struct Output {
    /// Exit code; -1 when killed by a signal (including our timeout).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// Spawns `cmd` with stdin null and stdout/stderr captured; after `timeout` kills its whole
/// process group (so no grandchild keeps the pipes open).
pub fn run(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let stdout = reader(&mut child, true);
    let stderr = reader(&mut child, false);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for child") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: plain syscall; the group id is our child's pid (process_group(0) above)
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break child.wait().expect("waiting for killed child");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let mut stderr = stderr.join().unwrap_or_default();
    if timed_out {
        stderr.push_str(&format!(
            "\n[harness] {program} killed after {}s timeout\n",
            timeout.as_secs()
        ));
    }
    Output {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        timed_out,
    }
}

fn reader(child: &mut Child, stdout: bool) -> thread::JoinHandle<String> {
    let mut pipe: Box<dyn Read + Send> = if stdout {
        Box::new(child.stdout.take().expect("stdout piped"))
    } else {
        Box::new(child.stderr.take().expect("stderr piped"))
    };
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}
