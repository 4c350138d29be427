//! `trilink schema`: print, write or check against the common schema.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use trilink_schema::{Envelope, ValidationContext};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink schema [write <dir> | check <files>…]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SchemaArgs {
    /// What to do; without one, print the JSON Schema to standard output.
    #[command(subcommand)]
    pub action: Option<SchemaAction>,
}

/// Schema actions.
#[derive(Debug, Subcommand)]
pub enum SchemaAction {
    /// Write the JSON Schema to `<dir>/envelope.schema.json` (the committed copy is `schemas/json/`).
    Write {
        /// Output directory.
        dir: PathBuf,
    },
    /// Check envelope JSON files against the JSON Schema and trilink's validation rules.
    /// Prints one line per file; exits 1 if any file is invalid.
    Check {
        /// Validate timestamps as of this instant (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
        /// Envelope JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The outcome of checking one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Valid against the JSON Schema and every validation rule.
    Valid,
    /// Not JSON at all.
    NotJson(String),
    /// Rejected by the JSON Schema (first error's path and message).
    SchemaRejects(String),
    /// Accepted by the JSON Schema, rejected by trilink's validation; the reason code and message.
    RuleRejects {
        /// Stable reason code.
        code: &'static str,
        /// Full message.
        message: String,
    },
}

/// A compiled JSON Schema checker plus the Rust validation rules.
#[derive(Debug)]
pub struct Checker {
    validator: jsonschema::Validator,
}

impl Checker {
    /// Compile the schema generated from the Rust types.
    pub fn new() -> anyhow::Result<Self> {
        let schema = trilink_schema::json_schema();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| anyhow::anyhow!("the generated JSON Schema does not compile: {e}"))?;
        Ok(Self { validator })
    }

    /// Check one document.
    pub fn check(&self, bytes: &[u8], ctx: &ValidationContext) -> CheckOutcome {
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return CheckOutcome::NotJson(e.to_string()),
        };
        let mut errors: Vec<String> = self
            .validator
            .iter_errors(&value)
            .map(|e| explain(&e))
            .collect();
        if !errors.is_empty() {
            const SHOWN: usize = 5;
            if errors.len() > SHOWN {
                let more = errors.len() - SHOWN;
                errors.truncate(SHOWN);
                errors.push(format!("and {more} more"));
            }
            return CheckOutcome::SchemaRejects(errors.join("; "));
        }
        let env: Envelope = match serde_json::from_value(value) {
            Ok(e) => e,
            // The schema accepted what serde rejects: the two have drifted apart.
            Err(e) => return CheckOutcome::SchemaRejects(format!("(serde) {e}")),
        };
        match env.validate(ctx) {
            Ok(()) => CheckOutcome::Valid,
            Err(e) => CheckOutcome::RuleRejects {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

/// Instances longer than this (as JSON) are not quoted in messages: a message names the field,
/// it does not repeat the document.
const QUOTE_MAX: usize = 60;

/// One JSON Schema error as `<path>: <what is wrong>`, naming the innermost field at fault.
///
/// A `oneOf`/`anyOf` failure ("not valid under any of the schemas") is explained by the branch
/// that was meant: tagged unions (the payload, by `kind`) are resolved by the branch whose tag
/// matched; when no branch's tag or constant matches, the message lists the allowed values.
fn explain(err: &ValidationError<'_>) -> String {
    let path = location(err);
    let (ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context }) =
        err.kind()
    else {
        return leaf(err);
    };
    // A branch's tag mismatch: a const/enum error one level below (`/payload/kind`), or at the
    // value itself for a union of constants (`mode`).
    let tag_errors = |branch: &[ValidationError<'static>]| -> Vec<(String, Vec<Value>)> {
        branch
            .iter()
            .filter_map(|e| {
                let at = location(e);
                let is_tag = at == path
                    || at
                        .strip_prefix(path.trim_end_matches('/'))
                        .is_some_and(|rest| rest.matches('/').count() == 1);
                match e.kind() {
                    ValidationErrorKind::Constant { expected_value } if is_tag => {
                        Some((at, vec![expected_value.as_ref().clone()]))
                    }
                    ValidationErrorKind::Enum { options } if is_tag => {
                        Some((at, options.as_array().cloned().unwrap_or_default()))
                    }
                    _ => None,
                }
            })
            .collect()
    };
    let mut untagged: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|b| !b.is_empty() && tag_errors(b).is_empty())
        .collect();
    if untagged.is_empty() {
        // No branch's tag matched: say which values the tag may take.
        let mut at = path.clone();
        let mut allowed: Vec<String> = Vec::new();
        for b in context {
            for (p, values) in tag_errors(b) {
                at = p;
                for v in values {
                    let v = v.to_string();
                    if !allowed.contains(&v) {
                        allowed.push(v);
                    }
                }
            }
        }
        let actual = value_at(err.instance(), &path, &at);
        return match actual {
            Some(v) if !allowed.is_empty() => {
                format!("{at}: {} is not one of {}", quote(&v), allowed.join(", "))
            }
            _ => leaf(err),
        };
    }
    untagged.sort_by_key(|b| b.len());
    match untagged.first() {
        Some(branch) => branch
            .iter()
            .take(3)
            .map(explain)
            .collect::<Vec<_>>()
            .join("; "),
        None => leaf(err),
    }
}

/// A plain error with its location, the value quoted only when short.
fn leaf(err: &ValidationError<'_>) -> String {
    let path = location(err);
    if err.instance().to_string().len() <= QUOTE_MAX {
        format!("{path}: {err}")
    } else {
        format!("{path}: {}", err.masked_with("the value"))
    }
}

/// The JSON Pointer of the error's instance; `/` for the document itself.
fn location(err: &ValidationError<'_>) -> String {
    let p = err.instance_path().to_string();
    if p.is_empty() { "/".to_owned() } else { p }
}

/// The value at pointer `at`, given the `instance` found at pointer `base`.
fn value_at(instance: &Value, base: &str, at: &str) -> Option<Value> {
    let rest = at.strip_prefix(base.trim_end_matches('/')).unwrap_or("");
    instance.pointer(rest).cloned()
}

fn quote(v: &Value) -> String {
    let t = v.to_string();
    if t.len() <= QUOTE_MAX {
        t
    } else {
        "the value".to_owned()
    }
}

pub fn run(args: &SchemaArgs) -> ExitCode {
    match &args.action {
        None => {
            print!("{}", trilink_schema::json_schema_pretty());
            ExitCode::SUCCESS
        }
        Some(SchemaAction::Write { dir }) => match write(dir) {
            Ok(path) => {
                eprintln!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("trilink schema write: {e:#}");
                ExitCode::from(EXIT_PROBLEM)
            }
        },
        Some(SchemaAction::Check { now, files }) => check_files(*now, files),
    }
}

fn write(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("envelope.schema.json");
    std::fs::write(&path, trilink_schema::json_schema_pretty())?;
    Ok(path)
}

fn check_files(now: Option<DateTime<Utc>>, files: &[PathBuf]) -> ExitCode {
    let checker = match Checker::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trilink schema check: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let ctx = ValidationContext::at(now.unwrap_or_else(Utc::now));
    let mut bad = 0usize;
    let mut unreadable = 0usize;
    for f in files {
        let outcome = match std::fs::read(f) {
            Ok(bytes) => checker.check(&bytes, &ctx),
            Err(e) => {
                // Not a finding about the file's content: a usage error (exit 2).
                unreadable += 1;
                eprintln!("trilink schema check: {}: cannot read: {e}", f.display());
                continue;
            }
        };
        match outcome {
            CheckOutcome::Valid => println!("{}: valid", f.display()),
            CheckOutcome::NotJson(m) => {
                bad += 1;
                println!("{}: invalid (not_json): {m}", f.display());
            }
            CheckOutcome::SchemaRejects(m) => {
                bad += 1;
                println!("{}: invalid (json_schema): {m}", f.display());
            }
            CheckOutcome::RuleRejects { code, message } => {
                bad += 1;
                println!("{}: invalid ({code}): {message}", f.display());
            }
        }
    }
    if unreadable > 0 {
        ExitCode::from(EXIT_USAGE)
    } else if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    }
}
