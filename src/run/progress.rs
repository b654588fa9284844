//! Progress while a run works: an indicatif spinner per host on a TTY, plain lines when stdout
//! is not a terminal, JSON events (one object per line on stderr) with `-o json`, nothing with -q.
//! Every line is scrubbed of secrets.

use crate::cli::{GlobalOpts, OutputFormat};
use crate::redact::scrub;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tty,
    Plain,
    Json,
    Quiet,
}

pub struct Progress {
    mode: Mode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub fn new(g: &GlobalOpts) -> Arc<Progress> {
        let mode = if g.quiet {
            Mode::Quiet
        } else if g.output == OutputFormat::Json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Tty
        } else {
            Mode::Plain
        };
        Arc::new(Progress {
            mode,
            multi: (mode == Mode::Tty).then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        })
    }

    pub fn silent() -> Arc<Progress> {
        Arc::new(Progress {
            mode: Mode::Quiet,
            multi: None,
            bars: Mutex::new(HashMap::new()),
        })
    }

    fn json(&self, v: serde_json::Value) {
        eprintln!("{}", scrub(&v.to_string()));
    }

    pub fn component_start(&self, component: &str, hosts: usize, verb: &str) {
        match self.mode {
            Mode::Tty | Mode::Plain => eprintln!("==> {verb} {component} on {hosts} host(s)"),
            Mode::Json => self.json(serde_json::json!({"event":"component_start","component":component,"hosts":hosts,"verb":verb})),
            Mode::Quiet => {}
        }
    }

    pub fn step(&self, component: &str, host: &str, index: usize, total: usize, what: &str) {
        let what = scrub(what);
        match self.mode {
            Mode::Tty => {
                let key = format!("{component}/{host}");
                let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                let bar = bars.entry(key).or_insert_with(|| {
                    let b = self.multi.as_ref().map(|m| m.add(ProgressBar::new_spinner())).unwrap_or_else(ProgressBar::hidden);
                    b.set_style(ProgressStyle::with_template("  {spinner} {prefix:.bold} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
                    b.set_prefix(host.to_string());
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                });
                bar.set_message(format!("({index}/{total}) {what}"));
            }
            Mode::Plain => eprintln!("    {host}: ({index}/{total}) {what}"),
            Mode::Json => self.json(serde_json::json!({"event":"step","component":component,"host":host,"index":index,"total":total,"step":what})),
            Mode::Quiet => {}
        }
    }

    /// A host finished this component: `ok` false means failed; `summary` is one line.
    pub fn host_done(&self, component: &str, host: &str, ok: bool, summary: &str) {
        let summary = scrub(summary);
        let mark = if ok { "ok" } else { "FAILED" };
        match self.mode {
            Mode::Tty => {
                let key = format!("{component}/{host}");
                let bar = self.bars.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                match bar {
                    Some(b) => b.finish_with_message(format!("{mark}: {summary}")),
                    None => {
                        let line = format!("  {host}: {mark}: {summary}");
                        match &self.multi {
                            Some(m) => {
                                let _ = m.println(line);
                            }
                            None => eprintln!("{line}"),
                        }
                    }
                }
            }
            Mode::Plain => eprintln!("    {host}: {mark}: {summary}"),
            Mode::Json => self.json(serde_json::json!({"event":"host_done","component":component,"host":host,"ok":ok,"summary":summary})),
            Mode::Quiet => {}
        }
    }

    pub fn note(&self, text: &str) {
        let text = scrub(text);
        match self.mode {
            Mode::Tty | Mode::Plain => eprintln!("    {text}"),
            Mode::Json => self.json(serde_json::json!({"event":"note","text":text})),
            Mode::Quiet => {}
        }
    }
}
