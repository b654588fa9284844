//! Reading a secret from the terminal: the one place that turns echo off.

use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;

/// Print `prompt` on stderr and read one line from standard input with echo off (restored
/// afterwards, also on error). The trailing newline is removed.
pub fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let fd = std::io::stdin().as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd (checked by its result).
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have_tty = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_tty {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        // Echo the newline the user types, so the next output starts on a fresh line.
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: fd is a terminal (tcgetattr succeeded); `quiet` is a valid termios.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        // SAFETY: restores the settings read above on the same fd.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    r?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
