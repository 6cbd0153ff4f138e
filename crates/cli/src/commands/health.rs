//! `pvault profile health …` and `pvault profile accept`: a profile's login health
//! definition, and making a snapshot the logout guard marked current.

use clap::{Args, Subcommand};
use pvault_model::{Expectation, HealthResult, HealthStatus, ProfileInfo};
use pvault_protocol::{
    ErrorCode, ExpiringCookie, ProfileAccept, ProfileCheck, ProfileHealthClear, ProfileHealthSet,
    ProfileHealthShow,
};

use super::Ctx;
use crate::exit::{CliError, CliResult};
use crate::output::format_time;

/// `profile health …`.
#[derive(Debug, Subcommand)]
pub enum HealthCmd {
    /// Define what the profile's login looks like: a page and expectations that must all
    /// hold (at least one). Replaces any definition and forgets the last result.
    Set(HealthSetArgs),
    /// Show the definition, the last check's result and cookies about to expire.
    Show {
        /// Profile name.
        name: String,
    },
    /// Remove the definition (the logout guard is then off for the profile).
    Clear {
        /// Profile name.
        name: String,
    },
}

/// `profile health set`.
#[derive(Debug, Clone, Args)]
pub struct HealthSetArgs {
    /// Profile name.
    pub name: String,
    /// The page a check opens (http or https).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A cookie NAME (on DOMAIN when given) is present and not expired; repeatable.
    #[arg(long = "expect-cookie", value_name = "NAME[@DOMAIN]")]
    pub cookies: Vec<String>,
    /// A localStorage KEY is present at ORIGIN (scheme://host[:port]); repeatable.
    #[arg(long = "expect-local-storage", num_args = 2, value_names = ["ORIGIN", "KEY"])]
    pub local_storage: Vec<String>,
    /// An element matching the CSS selector is in the page after load; repeatable.
    #[arg(long = "expect-selector", value_name = "CSS")]
    pub selectors: Vec<String>,
    /// The final URL after redirects does not match REGEX (e.g. /login); repeatable.
    #[arg(long = "expect-url-not", value_name = "REGEX")]
    pub url_not: Vec<String>,
    /// The page's text contains S; repeatable.
    #[arg(long = "expect-text", value_name = "S")]
    pub texts: Vec<String>,
}

impl HealthSetArgs {
    /// The expectations in a fixed order: cookies, localStorage, selectors, url_not, text.
    fn expectations(&self) -> Vec<Expectation> {
        let mut out: Vec<Expectation> = self
            .cookies
            .iter()
            .map(|c| match c.rsplit_once('@') {
                Some((name, domain)) => Expectation::Cookie {
                    name: name.to_owned(),
                    domain: Some(domain.to_owned()),
                },
                None => Expectation::Cookie {
                    name: c.clone(),
                    domain: None,
                },
            })
            .collect();
        out.extend(
            self.local_storage
                .chunks(2)
                .map(|p| Expectation::LocalStorage {
                    origin: p[0].clone(),
                    key: p.get(1).cloned().unwrap_or_default(),
                }),
        );
        out.extend(
            self.selectors
                .iter()
                .map(|css| Expectation::Selector { css: css.clone() }),
        );
        out.extend(self.url_not.iter().map(|regex| Expectation::UrlNot {
            regex: regex.clone(),
        }));
        out.extend(
            self.texts
                .iter()
                .map(|text| Expectation::Text { text: text.clone() }),
        );
        out
    }
}

/// Dispatches `profile health …`.
pub async fn run(ctx: &Ctx, cmd: HealthCmd) -> CliResult {
    match cmd {
        HealthCmd::Set(a) => {
            let expect = a.expectations();
            if expect.is_empty() {
                return Err(CliError::usage(
                    "a health definition needs at least one expectation: --expect-cookie, \
                     --expect-local-storage, --expect-selector, --expect-url-not or --expect-text",
                ));
            }
            let res = ctx
                .call1(&ProfileHealthSet {
                    name: a.name.clone(),
                    url: a.url,
                    expect,
                })
                .await?;
            if ctx.out.json {
                return ctx.out.json(&res);
            }
            let n = res.profile.health.as_ref().map_or(0, |h| h.expect.len());
            ctx.out.line(format!(
                "health of {} set: {n} expectation(s); `pvault profile check {}` runs it",
                a.name, a.name
            ))
        }
        HealthCmd::Show { name } => {
            let res = ctx.call1(&ProfileHealthShow { name }).await?;
            if ctx.out.json {
                return ctx.out.json(&res);
            }
            let Some(def) = &res.health else {
                return ctx.out.line(format!(
                    "{} has no health definition (`pvault profile health set`)",
                    res.profile
                ));
            };
            let mut l = vec![format!("url:     {}", def.url)];
            for e in &def.expect {
                l.push(format!("expect:  {e}"));
            }
            l.push(format!("health:  {}", status_line(res.result.as_ref())));
            if let Some(r) = &res.result {
                l.extend(evidence(r));
            }
            l.extend(expiry_lines(&res.expiring));
            ctx.out.line(l.join("\n"))
        }
        HealthCmd::Clear { name } => {
            let res = ctx
                .call1(&ProfileHealthClear { name: name.clone() })
                .await?;
            if ctx.out.json {
                return ctx.out.json(&res);
            }
            ctx.out.line(format!("health definition of {name} cleared"))
        }
    }
}

/// `profile check NAME [--timeout SECS]`: prints the result with its evidence; a logged-out
/// result is the error `logged_out` (exit 9), after the evidence (stdout, or the `--json`
/// result).
pub async fn check(ctx: &Ctx, name: String, timeout: Option<u64>) -> CliResult {
    let res = ctx
        .call1(&ProfileCheck {
            name: name.clone(),
            timeout_secs: timeout,
        })
        .await?;
    let r = &res.result;
    if ctx.out.json {
        ctx.out.json(&res)?;
    } else {
        let mut l = vec![format!(
            "{}: {}",
            res.profile,
            r.status.as_str().replace('_', " ")
        )];
        l.extend(evidence(r));
        ctx.out.line(l.join("\n"))?;
    }
    match r.status {
        HealthStatus::Healthy => Ok(()),
        // With --json, stdout holds the one result document (its evidence); the exit code
        // and stderr say logged out.
        HealthStatus::LoggedOut if ctx.out.json => {
            eprintln!("pvault: {} is logged out", res.profile);
            std::process::exit(crate::exit::LOGGED_OUT);
        }
        HealthStatus::LoggedOut => Err(CliError::remote(
            ErrorCode::LoggedOut,
            format!(
                "{} is logged out: {}",
                res.profile,
                r.failed
                    .iter()
                    .map(|f| f.expectation.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint(Some(format!(
            "log in again with `pvault session start --profile {name} --save --headful`"
        )))),
    }
}

/// `profile accept NAME [SNAPSHOT]`.
pub async fn accept(ctx: &Ctx, name: String, snapshot: Option<String>) -> CliResult {
    let res = ctx
        .call1(&ProfileAccept {
            name: name.clone(),
            snapshot,
        })
        .await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "snapshot #{} of {name} accepted: it is current, the next session loads it",
        res.snapshot.seq
    ))
}

/// `healthy 2h ago` / `logged out since 2026-… (checked 5m ago)` / `unchecked`.
pub fn status_line(r: Option<&HealthResult>) -> String {
    match r {
        None => "unchecked".to_owned(),
        Some(r) => match r.status {
            HealthStatus::Healthy => format!("healthy {}", ago(r.checked_at)),
            HealthStatus::LoggedOut => format!(
                "logged out since {} (checked {})",
                format_time(r.since),
                ago(r.checked_at)
            ),
        },
    }
}

/// The profile's health in one phrase for `profile list` / `show`.
pub fn profile_health(p: &ProfileInfo) -> String {
    match &p.health {
        None => "-".to_owned(),
        Some(_) => status_line(p.health_result.as_ref()),
    }
}

/// The evidence of a result: final URL, HTTP status, failed expectations.
pub fn evidence(r: &HealthResult) -> Vec<String> {
    let mut l = Vec::new();
    if let Some(u) = &r.final_url {
        l.push(format!("  final URL:   {u}"));
    }
    if let Some(s) = r.http_status {
        l.push(format!("  HTTP status: {s}"));
    }
    for f in &r.failed {
        l.push(format!("  failed:      {}: {}", f.expectation, f.reason));
    }
    l
}

/// The offline warning lines.
pub fn expiry_lines(expiring: &[ExpiringCookie]) -> Vec<String> {
    expiring
        .iter()
        .map(|c| {
            format!(
                "warning: {} expires {} ({})",
                c.expectation,
                format_time((c.expires * 1000.0) as i64),
                until(c.expires)
            )
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `5m ago`, `2h ago`, `3d ago`.
fn ago(ms: i64) -> String {
    format!("{} ago", span(((now_ms() - ms) / 1000).max(0)))
}

/// `in 2d`.
fn until(secs: f64) -> String {
    format!(
        "in {}",
        span((secs - now_ms() as f64 / 1000.0).max(0.0) as i64)
    )
}

fn span(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
