//! The command line of `warden-dataplane`: what to do, parsed with `lexopt` (`--flag value` and
//! `--flag=value`, `-h`/`--help` and `-V`/`--version` everywhere, help on stdout with exit 0).
//! The `audit`, `guard`, `cache` and `route` tools keep their own argument lists; this only
//! routes to them.

use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: warden-dataplane --config FILE        serve (see README: Configuration)
       warden-dataplane check --config FILE  check a config as a start would, without serving
       warden-dataplane audit verify|export|tail DIR ...   (audit --help)
       warden-dataplane guard scan [--repeat N] FILE        (guard --help)
       warden-dataplane cache compare --model DIR FILE      (cache --help)
       warden-dataplane route score FILE                    (route --help)

options:
  -c, --config FILE   the data plane's TOML config
  -h, --help          this text
  -V, --version       the version

environment: WARDEN_LOG sets the log filter (tracing EnvFilter syntax: `info`, `warn`,
`warden_dataplane::proxy=debug,info`); MONOIO_FORCE_LEGACY_DRIVER=1 forces the epoll driver.";

pub const CHECK_USAGE: &str = "\
usage: warden-dataplane check --config FILE

Reads the config and does everything a start does short of binding ports and serving: parses
every key, loads the master key and the control plane's public key, compiles the guardrail
detectors and every project's custom patterns, checks the phone regions, and (standalone)
builds the snapshot. Exit 0 and `FILE: ok` when it would start; else exit 1 naming the problem.";

/// A tool's subcommand, run the way every tool runs: `-h`/`--help` anywhere prints `usage` on
/// `out` (exit 0); otherwise `dispatch` decides the exit code, and its error goes to `err` (exit 2).
pub fn run_tool<O: std::io::Write, E: std::io::Write>(
    args: &[String],
    usage: &str,
    out: &mut O,
    err: &mut E,
    dispatch: impl FnOnce(&mut O, &mut E) -> Result<u8, String>,
) -> u8 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(out, "{usage}");
        return 0;
    }
    match dispatch(out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "{e}");
            2
        }
    }
}

/// A tool's input: the file's text, or stdin's for `-`.
pub fn read_input(file: &str) -> Result<String, String> {
    use std::io::Read;
    let mut input = String::new();
    if file == "-" {
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| format!("reading stdin: {e}"))?;
        Ok(input)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))
    }
}

/// Each non-blank JSON line of `file` (`-`: stdin), with its line number.
pub fn json_lines(file: &str) -> Result<Vec<(usize, serde_json::Value)>, String> {
    read_input(file)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map(|v| (n + 1, v))
                .map_err(|e| format!("line {}: {e}", n + 1))
        })
        .collect()
}

/// The `"text"` of each JSON line of `file` (`-`: stdin).
pub fn read_texts(file: &str) -> Result<Vec<String>, String> {
    json_lines(file)?
        .into_iter()
        .map(|(n, v)| {
            v.get("text")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
                .ok_or_else(|| format!("line {n}: no \"text\" string"))
        })
        .collect()
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run {
        config: PathBuf,
    },
    Check {
        config: PathBuf,
    },
    /// `audit ARGS`: the arguments after `audit`.
    Audit(Vec<String>),
    /// `guard ARGS`: the arguments after `guard`.
    Guard(Vec<String>),
    /// `cache ARGS`: the arguments after `cache`.
    Cache(Vec<String>),
    /// `route ARGS`: the arguments after `route`.
    Route(Vec<String>),
    /// Print this text on stdout and exit 0.
    Help(&'static str),
    Version,
}

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut config = None;
    let mut check = false;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Command::Help(if check { CHECK_USAGE } else { USAGE }))
            }
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('c') | Long("config") => {
                config = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Value(word) if config.is_none() && !check => {
                let word = word
                    .into_string()
                    .map_err(|w| format!("unexpected {w:?}"))?;
                let mut rest = || -> Result<Vec<String>, String> {
                    parser
                        .raw_args()
                        .map_err(|e| e.to_string())?
                        .map(|a| a.into_string().map_err(|a| format!("not UTF-8: {a:?}")))
                        .collect()
                };
                match word.as_str() {
                    "check" => check = true,
                    "audit" => return Ok(Command::Audit(rest()?)),
                    "guard" => return Ok(Command::Guard(rest()?)),
                    "cache" => return Ok(Command::Cache(rest()?)),
                    "route" => return Ok(Command::Route(rest()?)),
                    other => return Err(format!("unknown command {other:?}")),
                }
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(if check {
        Command::Check { config }
    } else {
        Command::Run { config }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn every_spelling_of_the_options() {
        let run = Ok(Command::Run {
            config: "w.toml".into(),
        });
        assert_eq!(p(&["--config", "w.toml"]), run);
        assert_eq!(p(&["--config=w.toml"]), run);
        assert_eq!(p(&["-c", "w.toml"]), run);
        assert_eq!(
            p(&["check", "--config=w.toml"]),
            Ok(Command::Check {
                config: "w.toml".into()
            })
        );
        assert_eq!(p(&["--help"]), Ok(Command::Help(USAGE)));
        assert_eq!(p(&["check", "-h"]), Ok(Command::Help(CHECK_USAGE)));
        assert_eq!(p(&["-V"]), Ok(Command::Version));
        assert_eq!(
            p(&["audit", "export", "d", "--from", "1"]),
            Ok(Command::Audit(
                ["export", "d", "--from", "1"].map(String::from).to_vec()
            ))
        );
        assert_eq!(
            p(&["guard", "--help"]),
            Ok(Command::Guard(vec!["--help".into()]))
        );
        assert_eq!(
            p(&["route", "score", "-"]),
            Ok(Command::Route(vec!["score".into(), "-".into()]))
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert!(p(&[]).unwrap_err().contains("--config"));
        assert!(p(&["--conf", "x"]).unwrap_err().contains("--conf"));
        assert!(p(&["serve"]).unwrap_err().contains("serve"));
        assert!(p(&["--config"]).unwrap_err().contains("--config"));
    }
}
