//! `--domain` / `--exclude-domain`: filters by registrable domain (eTLD+1 by the public
//! suffix list), so a cookie for `.example.com`, one for `www.example.com` and the origin
//! `https://app.example.com` all belong to `example.com`, and `example.co.uk` is not
//! `co.uk`. An IP address, a single-label host (`localhost`) or a public suffix itself stands
//! for itself.

use std::collections::BTreeSet;

use crate::ImportError;

/// The registrable domain of `host` (a cookie's `host_key`, with or without its leading
/// dot, or an origin's host), lowercased.
pub fn registrable(host: &str) -> String {
    let h = host
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if h.starts_with('[') || h.parse::<std::net::IpAddr>().is_ok() || !h.contains('.') {
        return h;
    }
    match psl::domain_str(&h) {
        Some(d) => d.to_owned(),
        None => h,
    }
}

/// The host of an origin `scheme://host[:port]`.
pub fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    if rest.starts_with('[') {
        return rest.find(']').map_or(rest, |i| &rest[..=i]);
    }
    rest.split(':').next().unwrap_or(rest)
}

/// The compiled filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep only these registrable domains (empty: all).
    include: BTreeSet<String>,
    /// Drop these.
    exclude: BTreeSet<String>,
}

impl Filter {
    /// Compiles the command line's domains: each is reduced to its registrable domain.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, ImportError> {
        let compile = |list: &[String]| -> Result<BTreeSet<String>, ImportError> {
            list.iter()
                .map(|d| {
                    let t = d.trim();
                    let bare = t.trim_start_matches('.');
                    if bare.is_empty()
                        || t.contains("://")
                        || t.contains('/')
                        || t.contains(char::is_whitespace)
                    {
                        return Err(ImportError::InvalidFilter {
                            value: d.clone(),
                            reason: "give a domain name like example.com (no scheme, no path)",
                        });
                    }
                    Ok(registrable(bare))
                })
                .collect()
        };
        Ok(Filter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// Whether filters were given at all.
    pub fn is_active(&self) -> bool {
        !self.include.is_empty() || !self.exclude.is_empty()
    }

    /// Whether the registrable domain `site` is kept.
    pub fn keeps(&self, site: &str) -> bool {
        (self.include.is_empty() || self.include.contains(site)) && !self.exclude.contains(site)
    }

    /// The filters as the command line would say them, for messages.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .include
            .iter()
            .map(|d| format!("--domain {d}"))
            .collect();
        parts.extend(self.exclude.iter().map(|d| format!("--exclude-domain {d}")));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable(".example.com"), "example.com");
        assert_eq!(registrable("www.Example.com"), "example.com");
        assert_eq!(registrable("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("127.0.0.1"), "127.0.0.1");
        assert_eq!(registrable("localhost"), "localhost");
        assert_eq!(registrable("[::1]"), "[::1]");
        assert_eq!(
            origin_host("https://app.example.com:8443"),
            "app.example.com"
        );
        assert_eq!(origin_host("http://[::1]:80"), "[::1]");
    }

    #[test]
    fn include_and_exclude() {
        let f = Filter::new(&["www.example.com".into()], &[]).unwrap();
        assert!(f.keeps("example.com"));
        assert!(!f.keeps("other.com"));
        let f = Filter::new(&[], &[".tracker.net".into()]).unwrap();
        assert!(f.keeps("example.com") && !f.keeps("tracker.net"));
        assert!(Filter::new(&["https://x.com".into()], &[]).is_err());
    }
}
