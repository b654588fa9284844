//! Running a child process with captured output and a hard timeout (a hung ssh or foundry
//! must fail its test, not hang the suite).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub struct Output {
    /// Exit code; -1 when killed by a signal (including our timeout).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// A started child whose stdout/stderr are being collected.
pub struct Running {
    child: Child,
    program: String,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    deadline: Instant,
    timeout: Duration,
    /// Kept open until the child exits (see [`spawn_typing`]).
    stdin: Option<ChildStdin>,
}

/// Spawns `cmd` with stdin null, stdout/stderr captured, in its own process group; it must
/// finish within `timeout` of now (see [`Running::wait`]).
pub fn spawn(cmd: Command, timeout: Duration) -> Running {
    start(cmd, None, timeout)
}

/// As [`spawn`], with `input` written to the child's stdin, which then stays open until the
/// child exits (a terminal that closed early would end what reads it).
pub fn spawn_typing(cmd: Command, input: &str, timeout: Duration) -> Running {
    start(cmd, Some(input), timeout)
}

fn start(mut cmd: Command, input: Option<&str>, timeout: Duration) -> Running {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let stdin = input.map(|text| {
        let mut w = child.stdin.take().expect("stdin piped");
        w.write_all(text.as_bytes())
            .expect("write the child's input");
        w
    });
    let stdout = reader(&mut child, true);
    let stderr = reader(&mut child, false);
    Running {
        child,
        program,
        stdout,
        stderr,
        deadline: Instant::now() + timeout,
        timeout,
        stdin,
    }
}

/// [`spawn`] + [`Running::wait`].
pub fn run(cmd: Command, timeout: Duration) -> Output {
    spawn(cmd, timeout).wait()
}

impl Running {
    /// Waits for the exit; past the deadline kills the whole process group (so no grandchild
    /// keeps the pipes open) and reports a timeout.
    pub fn wait(mut self) -> Output {
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for child") {
                break status;
            }
            if Instant::now() >= self.deadline {
                timed_out = true;
                // SAFETY: plain syscall; the group id is our child's pid (process_group(0))
                unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
                break self.child.wait().expect("waiting for killed child");
            }
            thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        let stdout = self.stdout.join().unwrap_or_default();
        let mut stderr = self.stderr.join().unwrap_or_default();
        if timed_out {
            stderr.push_str(&format!(
                "\n[harness] {} killed after {}s timeout\n",
                self.program,
                self.timeout.as_secs()
            ));
        }
        Output {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            timed_out,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
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
