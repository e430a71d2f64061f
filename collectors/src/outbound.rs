//! The outbound-URL policy: every fetch Seam makes from a URL someone else supplied (a
//! manifest's instance URL for discovery today; scrape targets and webhook receivers
//! later) goes through one [`OutboundPolicy`]. It allows or denies by scheme and by
//! address range, with cloud metadata and link-local addresses denied by default, and
//! checks the addresses a name resolves to (so a DNS name cannot point at a denied
//! address) and every redirect.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use serde::Deserialize;

/// Most redirects one fetch follows.
const MAX_REDIRECTS: usize = 5;

/// `[outbound]`: which URLs Seam may fetch when a manifest or configuration names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// URL schemes Seam may fetch.
    #[serde(default = "default_schemes")]
    pub schemes: Vec<String>,
    /// Address ranges (CIDR, e.g. `10.0.0.0/8`) Seam may fetch from; empty allows every
    /// address that is not denied.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Address ranges Seam never fetches from, in addition to the built-in ones
    /// (link-local, cloud metadata, unspecified, multicast).
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            schemes: default_schemes(),
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

fn default_schemes() -> Vec<String> {
    vec!["http".to_owned(), "https".to_owned()]
}

/// Ranges denied whatever the configuration says: link-local (cloud metadata services
/// such as 169.254.169.254 and fd00:ec2::254 live there or nearby), unspecified,
/// multicast and broadcast addresses.
const BUILT_IN_DENY: &[&str] = &[
    "0.0.0.0/8",
    "169.254.0.0/16",
    "100.100.100.200/32",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "fe80::/10",
    "fd00:ec2::254/128",
    // 169.254.0.0/16 reached through NAT64.
    "64:ff9b::a9fe:0/112",
    "ff00::/8",
];

/// Why a URL may not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("{url}: scheme {scheme:?} is not allowed (allowed: {allowed})")]
    Scheme {
        url: String,
        scheme: String,
        allowed: String,
    },
    #[error("{url}: address {addr} is refused by the outbound policy")]
    Address { url: String, addr: IpAddr },
    #[error("{url}: {reason}")]
    Invalid { url: String, reason: String },
    #[error("invalid CIDR range {0:?} in the outbound policy")]
    BadRange(String),
}

/// An address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Result<Cidr, OutboundError> {
        let bad = || OutboundError::BadRange(text.to_owned());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        // `::ffff:a.b.c.d/120` is the IPv4 range, as addresses are judged as IPv4.
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped().filter(|_| prefix >= 96) {
                return Ok(Cidr {
                    addr: IpAddr::V4(v4),
                    prefix: prefix - 96,
                });
            }
        }
        Ok(Cidr { addr, prefix })
    }

    fn contains(&self, addr: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, canonical(addr)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                masked(u32::from(net) as u128, self.prefix, 32)
                    == masked(u32::from(a) as u128, self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                masked(u128::from(net), self.prefix, 128) == masked(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:169.254.169.254`) are judged as the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The policy, ready to check URLs and addresses.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    schemes: Vec<String>,
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy::new(&OutboundConfig::default()).expect("built-in ranges parse")
    }
}

impl OutboundPolicy {
    pub fn new(config: &OutboundConfig) -> Result<OutboundPolicy, OutboundError> {
        let parse = |list: &[String]| -> Result<Vec<Cidr>, OutboundError> {
            list.iter().map(|c| Cidr::parse(c)).collect()
        };
        let mut deny = parse(&config.deny)?;
        for range in BUILT_IN_DENY {
            deny.push(Cidr::parse(range)?);
        }
        Ok(OutboundPolicy {
            schemes: config
                .schemes
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            allow: parse(&config.allow)?,
            deny,
        })
    }

    /// Whether Seam may connect to `addr`.
    pub fn allows_addr(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        if self.deny.iter().any(|range| range.contains(addr)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|range| range.contains(addr))
    }

    /// Checks what can be checked of a URL before resolving it: its scheme, and its host
    /// when that is an address.
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        let scheme = url.scheme();
        if !self.schemes.iter().any(|s| s == scheme) {
            return Err(OutboundError::Scheme {
                url: url.to_string(),
                scheme: scheme.to_owned(),
                allowed: self.schemes.join(", "),
            });
        }
        let Some(host) = url.host_str() else {
            return Err(OutboundError::Invalid {
                url: url.to_string(),
                reason: "the URL has no host".to_owned(),
            });
        };
        // The URL parser normalises addresses (`0x7f.1` is `127.0.0.1`); names are
        // checked when they resolve.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(addr) = literal.parse::<IpAddr>() else {
            return Ok(());
        };
        if self.allows_addr(addr) {
            Ok(())
        } else {
            Err(OutboundError::Address {
                url: url.to_string(),
                addr,
            })
        }
    }

    /// Parses and checks a URL.
    pub fn check(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|err| OutboundError::Invalid {
            url: url.to_owned(),
            reason: err.to_string(),
        })?;
        self.check_url(&parsed)?;
        Ok(parsed)
    }

    /// An HTTP client builder whose every connection and redirect obeys this policy:
    /// names resolve only to allowed addresses, and a redirect to a refused URL fails.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let policy = Arc::new(self.clone());
        let redirects = policy.clone();
        reqwest::Client::builder()
            // A proxy would resolve names itself, out of the policy's sight.
            .no_proxy()
            .dns_resolver(PolicyResolver { policy })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(err) => attempt.error(err),
                }
            }))
    }
}

/// An error and its causes as one message: an HTTP client's own message is only the
/// outermost ("error sending request"), the reason (refused, timed out, a policy) is in
/// its sources.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Resolves names with the system resolver and keeps only the addresses the policy
/// allows; a name with none left fails to resolve, with the reason.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| policy.allows_addr(a.ip()))
                .collect();
            if allowed.is_empty() {
                let refused = resolved
                    .first()
                    .map(|a| a.ip())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                return Err(Box::new(OutboundError::Address {
                    url: host,
                    addr: refused,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&OutboundConfig {
            schemes: default_schemes(),
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn denies_metadata_and_link_local_by_default() {
        let p = OutboundPolicy::default();
        for refused in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0.0.0.0:8080/",
            "http://[fd00:ec2::254]/",
            "http://[64:ff9b::169.254.169.254]/",
        ] {
            assert!(
                matches!(p.check(refused), Err(OutboundError::Address { .. })),
                "{refused}"
            );
        }
        for allowed in [
            "http://127.0.0.1:8080/metrics",
            "https://10.1.2.3/",
            "http://[::1]:9000/",
            "http://orders.internal/",
        ] {
            assert!(p.check(allowed).is_ok(), "{allowed}");
        }
        assert!(matches!(
            p.check("file:///etc/passwd"),
            Err(OutboundError::Scheme { .. })
        ));
        assert!(matches!(
            p.check("gopher://x/"),
            Err(OutboundError::Scheme { .. })
        ));
    }

    #[test]
    fn allow_and_deny_lists_apply_by_range() {
        let p = policy(&["10.0.0.0/8", "127.0.0.1"], &["10.9.0.0/16"]);
        assert!(p.allows_addr("10.1.2.3".parse().unwrap()));
        assert!(!p.allows_addr("10.9.1.1".parse().unwrap()));
        assert!(p.allows_addr("127.0.0.1".parse().unwrap()));
        assert!(!p.allows_addr("127.0.0.2".parse().unwrap()));
        assert!(!p.allows_addr("192.168.1.1".parse().unwrap()));
        assert!(OutboundPolicy::new(&OutboundConfig {
            deny: vec!["10.0.0.0/33".into()],
            ..OutboundConfig::default()
        })
        .is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_and_redirects_there_fail() {
        // A loopback server that redirects to the metadata address.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                axum::response::Redirect::temporary("http://169.254.169.254/latest/meta-data/")
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = OutboundPolicy::default().client_builder().build().unwrap();
        let err = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{err:?}");
        assert!(
            error_chain(&err).contains("refused by the outbound policy"),
            "{err:?}"
        );
        // `localhost` resolves, but only to addresses a deny list can refuse.
        let strict = policy(&[], &["127.0.0.0/8", "::1/128"])
            .client_builder()
            .build()
            .unwrap();
        let err = strict
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect() || err.is_request(), "{err:?}");
        assert!(
            error_chain(&err).contains("refused by the outbound policy"),
            "{err:?}"
        );
    }
}
