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

/// The confirmation of a destructive command: `--yes` (`assume_yes`), or `word` typed on a
/// terminal after `question`. Without a terminal and without `--yes` it refuses with
/// `no_terminal` (exit 2) before anything is contacted; a wrong word refuses with `declined`.
pub fn confirm_typed(
    assume_yes: bool,
    word: &str,
    question: &str,
    no_terminal: String,
    declined: String,
) -> anyhow::Result<()> {
    use crate::error::{fail, ExitClass};
    use std::io::IsTerminal;
    if assume_yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(ExitClass::Usage, no_terminal));
    }
    eprint!("{question} Type `{word}` to go on: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != word {
        return Err(fail(ExitClass::Usage, declined));
    }
    Ok(())
}
