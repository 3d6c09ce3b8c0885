//! The router's limits as command-line flags, derived from
//! [`Config::LIMITS`]: one flag per limit, named after its field in kebab
//! case, with its help text, its value's syntax and its default (the core's,
//! but for what the server derives from the machine: [`machine::defaults`]).
//! A limit added to the core is a flag here with no change to this file.

use std::time::Duration;

use bytesize::ByteSize;
use clap::builder::ValueParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use router_core::{Config, Limit, LimitKind, LimitValue, OverflowPolicy};

use crate::machine;

/// Every limit's flag, parsed into a [`Config`] (not yet validated: that is
/// [`Router::new`](router_core::Router::new)'s job), and the names of the
/// limits given on the command line rather than left to their default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitFlags(pub(crate) Config, pub(crate) Vec<&'static str>);

/// A limit's flag: its field's name in kebab case.
pub(crate) fn flag(limit: &Limit) -> String {
    limit.name.replace('_', "-")
}

impl Args for LimitFlags {
    fn augment_args(command: Command) -> Command {
        let defaults = machine::defaults();
        Config::LIMITS.iter().fold(command, |command, limit| {
            command.arg(
                Arg::new(limit.name)
                    .long(flag(limit))
                    .value_name(value_name(limit.kind))
                    .help(
                        format!("{} {}", limit.help, syntax(limit.kind))
                            .trim_end()
                            .to_owned(),
                    )
                    .value_parser(value_parser(limit.kind))
                    .default_value(shown(limit.get(&defaults))),
            )
        })
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for LimitFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = LimitFlags(machine::defaults(), Vec::new());
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for limit in Config::LIMITS {
            if matches.value_source(limit.name) == Some(ValueSource::CommandLine) {
                self.1.push(limit.name);
            }
            if let Some(value) = matches.get_one::<LimitValue>(limit.name) {
                limit.set(&mut self.0, *value).map_err(|wrong| {
                    clap::Error::raw(clap::error::ErrorKind::ValueValidation, wrong)
                })?;
            }
        }
        Ok(())
    }
}

fn value_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Bytes => "SIZE",
        LimitKind::Count => "COUNT",
        LimitKind::Duration => "DURATION",
        LimitKind::OptionalDuration => "DURATION|off",
        LimitKind::Policy => "pause|drop",
    }
}

fn syntax(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Bytes => "Sizes take 1048576, 1024KiB or 1MiB (KB and MB are powers of 1000).",
        LimitKind::Duration | LimitKind::OptionalDuration => "Durations take 500ms, 2s, 1m 30s.",
        LimitKind::Count | LimitKind::Policy => "",
    }
}

/// A default as the flag itself would take it.
fn shown(value: LimitValue) -> String {
    match value {
        LimitValue::Bytes(bytes) => match bytes {
            0 => "0".to_owned(),
            _ if bytes % (1 << 30) == 0 => format!("{}GiB", bytes >> 30),
            _ if bytes % (1 << 20) == 0 => format!("{}MiB", bytes >> 20),
            _ if bytes % (1 << 10) == 0 => format!("{}KiB", bytes >> 10),
            _ => bytes.to_string(),
        },
        LimitValue::Duration(duration) | LimitValue::OptionalDuration(Some(duration)) => {
            humantime::format_duration(duration).to_string()
        }
        other => other.to_string(),
    }
}

fn value_parser(kind: LimitKind) -> ValueParser {
    match kind {
        LimitKind::Bytes => ValueParser::new(|text: &str| parse_size(text).map(LimitValue::Bytes)),
        LimitKind::Count => ValueParser::new(|text: &str| {
            text.parse()
                .map(LimitValue::Count)
                .map_err(|_| format!("{text:?} is not a whole number"))
        }),
        LimitKind::Duration => {
            ValueParser::new(|text: &str| parse_duration(text).map(LimitValue::Duration))
        }
        LimitKind::OptionalDuration => ValueParser::new(|text: &str| match text {
            "off" => Ok(LimitValue::OptionalDuration(None)),
            _ => parse_duration(text).map(|d| LimitValue::OptionalDuration(Some(d))),
        }),
        LimitKind::Policy => ValueParser::new(|text: &str| match text {
            "pause" => Ok(LimitValue::Policy(OverflowPolicy::Pause)),
            "drop" => Ok(LimitValue::Policy(OverflowPolicy::Drop)),
            _ => Err(format!("{text:?} is not a policy: pause or drop")),
        }),
    }
}

pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let size = text
        .parse::<ByteSize>()
        .map_err(|_| format!("{text:?} is not a size such as 65536, 64KiB or 1MiB"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("{text} is too large"))
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration such as 500ms or 2s ({error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_iec_and_si_units() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("2").is_err(), "a unit is required");
        assert!(parse_duration("soon").is_err());
    }
}
