//! The command line of `warden-controlplane`, parsed with `lexopt`: `--flag value` and
//! `--flag=value`, `-h`/`--help` and `-V`/`--version` (stdout, exit 0).

use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: warden-controlplane --config FILE                    serve the admin API and dashboard
       warden-controlplane check --config FILE              check a config without starting
       warden-controlplane rotate-master-key --config FILE  ask the running control plane to
                                                           re-wrap every provider key
       warden-controlplane user add --config FILE --name NAME [--tenant ID] --role ROLE
                                                           a dashboard user (ROLE: operator
                                                           without --tenant, owner or member
                                                           with one); prints its password once

options:
  -c, --config FILE   the control plane's TOML config
  -h, --help          this text
  -V, --version       the version

environment: WARDEN_LOG sets the log filter (tracing EnvFilter syntax: `info`, `warn`,
`warden_controlplane=debug`).";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve(PathBuf),
    Check(PathBuf),
    Rotate(PathBuf),
    UserAdd {
        config: PathBuf,
        name: String,
        tenant: Option<String>,
        role: String,
    },
    Help,
    Version,
}

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let (mut config, mut verb) = (None, None);
    let (mut name, mut tenant, mut role) = (None, None, None);
    let value = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|v| format!("{v:?} is not UTF-8"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('c') | Long("config") => {
                config = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("name") if verb.as_deref() == Some("user add") => name = Some(value(&mut parser)?),
            Long("tenant") if verb.as_deref() == Some("user add") => {
                tenant = Some(value(&mut parser)?)
            }
            Long("role") if verb.as_deref() == Some("user add") => role = Some(value(&mut parser)?),
            Value(word) => match (verb.as_deref(), word.to_str()) {
                (None, Some(w @ ("check" | "rotate-master-key" | "user"))) => {
                    verb = Some(w.to_owned())
                }
                (Some("user"), Some("add")) => verb = Some("user add".to_owned()),
                _ => return Err(format!("unknown command {word:?}")),
            },
            other => return Err(other.unexpected().to_string()),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(match verb.as_deref() {
        Some("check") => Command::Check(config),
        Some("rotate-master-key") => Command::Rotate(config),
        Some("user add") => Command::UserAdd {
            config,
            name: name.ok_or("user add: --name NAME is required")?,
            tenant,
            role: role.ok_or("user add: --role ROLE is required")?,
        },
        Some(_) => return Err("user: the command is `user add`".into()),
        None => Command::Serve(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands_and_spellings() {
        assert_eq!(p(&["--config=c.toml"]), Ok(Command::Serve("c.toml".into())));
        assert_eq!(p(&["-c", "c.toml"]), Ok(Command::Serve("c.toml".into())));
        assert_eq!(
            p(&["check", "--config", "c.toml"]),
            Ok(Command::Check("c.toml".into()))
        );
        assert_eq!(
            p(&["rotate-master-key", "--config=c.toml"]),
            Ok(Command::Rotate("c.toml".into()))
        );
        assert_eq!(p(&["check", "--help"]), Ok(Command::Help));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert!(p(&[]).unwrap_err().contains("--config"));
        assert!(p(&["start"]).unwrap_err().contains("start"));
        assert!(p(&["--cfg", "x"]).unwrap_err().contains("--cfg"));
        assert_eq!(
            p(&[
                "user",
                "add",
                "-c",
                "c.toml",
                "--name=ana",
                "--tenant",
                "t1",
                "--role",
                "owner"
            ]),
            Ok(Command::UserAdd {
                config: "c.toml".into(),
                name: "ana".into(),
                tenant: Some("t1".into()),
                role: "owner".into(),
            })
        );
        assert!(p(&["user", "-c", "c.toml"])
            .unwrap_err()
            .contains("user add"));
        assert!(p(&["user", "add", "-c", "c.toml", "--role", "operator"])
            .unwrap_err()
            .contains("--name"));
        assert!(p(&["check", "-c", "c.toml", "--name", "x"]).is_err());
    }
}
