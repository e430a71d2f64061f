//! Who may write and who may read.
//!
//! Writes: the API tokens of the configuration, each with a name that is recorded with
//! every revision it submits. The REST API and the web forms' server functions use the
//! same check ([`Tokens::check`]); the forms reach it through the Leptos context as a
//! [`WriteAccess`], and refuse when it is missing (fail closed).
//!
//! Reads are open unless read tokens are configured ([`ReadAccess`]); then the API needs
//! a bearer token and the pages a session cookie, which the sign-in page sets. The cookie
//! is signed with the token's own secret (`name.expiry.HMAC`), so it needs no server
//! state, holds across restarts and replicas, and dies with its token.

use std::sync::Arc;

use seam_app::api::WriteAccess;
use seam_app::dto::TokenError;

/// The name revisions record when no tokens are configured and writes are open.
pub const OPEN: &str = "open";

/// One configured token.
#[derive(Clone)]
struct Token {
    name: String,
    secret: String,
}

/// The configured API tokens; none means writes are open.
#[derive(Clone, Default)]
pub struct Tokens(Arc<[Token]>);

impl Tokens {
    /// Reads `name:secret` entries; an entry without a name is named `token-N` (its
    /// 1-based position), so older configurations keep working.
    pub fn parse(entries: &[String]) -> Tokens {
        let tokens: Vec<Token> = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| match entry.split_once(':') {
                Some((name, secret))
                    if seam_catalog::is_entity_name(name.trim()) && !secret.is_empty() =>
                {
                    Token {
                        name: name.trim().to_owned(),
                        secret: secret.to_owned(),
                    }
                }
                _ => Token {
                    name: format!("token-{}", i + 1),
                    secret: entry.clone(),
                },
            })
            .collect();
        Tokens(tokens.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the name of the token `presented` is, or why it may not write. With no
    /// tokens configured every write is allowed and recorded as [`OPEN`].
    pub fn check(&self, presented: Option<&str>) -> Result<String, TokenError> {
        if self.0.is_empty() {
            return Ok(OPEN.to_owned());
        }
        let Some(presented) = presented.map(str::trim).filter(|p| !p.is_empty()) else {
            return Err(TokenError::Missing);
        };
        // Every token is compared, in constant time each, so timing tells nothing.
        let mut found = None;
        for token in self.0.iter() {
            if constant_time_eq(token.secret.as_bytes(), presented.as_bytes()) {
                found = Some(token.name.clone());
            }
        }
        found.ok_or(TokenError::Wrong)
    }

    /// The check as the web forms' server functions reach it.
    pub fn write_access(&self) -> WriteAccess {
        let tokens = self.clone();
        WriteAccess {
            required: !self.is_empty(),
            check: Arc::new(move |presented| tokens.check(presented)),
        }
    }
}

/// How long a sign-in lasts.
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "seam_session";

/// Who may read: nobody needs to when no read token is configured.
#[derive(Clone, Default)]
pub struct ReadAccess {
    /// Read tokens and API tokens together: writers may read.
    tokens: Tokens,
    required: bool,
}

impl ReadAccess {
    pub fn new(read: &[String], write: &Tokens) -> ReadAccess {
        let read = Tokens::parse(read);
        if read.is_empty() {
            return ReadAccess::default();
        }
        let mut all: Vec<Token> = read.0.iter().cloned().collect();
        all.extend(write.0.iter().cloned());
        ReadAccess {
            tokens: Tokens(all.into()),
            required: true,
        }
    }

    /// Whether reads need a token at all.
    pub fn required(&self) -> bool {
        self.required
    }

    /// The name of the token `presented` is, if it may read.
    pub fn check(&self, presented: Option<&str>) -> Option<String> {
        if !self.required {
            return Some(OPEN.to_owned());
        }
        self.tokens.check(presented).ok()
    }

    /// A session cookie value for the token named `name`, valid until `now` plus
    /// [`SESSION_SECONDS`].
    pub fn session(&self, name: &str, now: i64) -> Option<String> {
        let token = self.tokens.0.iter().find(|t| t.name == name)?;
        let expiry = now + SESSION_SECONDS;
        Some(format!(
            "{name}.{expiry}.{}",
            sign(&token.secret, name, expiry)
        ))
    }

    /// The token name a session cookie value stands for, if it is genuine and current.
    pub fn verify_session(&self, value: &str, now: i64) -> Option<String> {
        let mut parts = value.rsplitn(3, '.');
        let (signature, expiry, name) = (parts.next()?, parts.next()?, parts.next()?);
        let expiry: i64 = expiry.parse().ok()?;
        if expiry <= now {
            return None;
        }
        let token = self.tokens.0.iter().find(|t| t.name == name)?;
        let expected = sign(&token.secret, name, expiry);
        constant_time_eq(expected.as_bytes(), signature.as_bytes()).then(|| name.to_owned())
    }
}

fn sign(secret: &str, name: &str, expiry: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("seam-session.{name}.{expiry}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tokens_and_tells_missing_from_wrong() {
        let tokens = Tokens::parse(&["ci:s3cret".into(), "plain".into()]);
        assert_eq!(tokens.check(Some("s3cret")), Ok("ci".to_owned()));
        assert_eq!(tokens.check(Some(" plain ")), Ok("token-2".to_owned()));
        assert_eq!(tokens.check(Some("ci:s3cret")), Err(TokenError::Wrong));
        assert_eq!(tokens.check(Some("nope")), Err(TokenError::Wrong));
        assert_eq!(tokens.check(None), Err(TokenError::Missing));
        assert_eq!(tokens.check(Some("")), Err(TokenError::Missing));
    }

    #[test]
    fn sessions_are_signed_expire_and_die_with_their_token() {
        let write = Tokens::parse(&["ci:w".into()]);
        let access = ReadAccess::new(&["viewer:r3ad".into()], &write);
        assert!(access.required());
        assert_eq!(access.check(Some("r3ad")), Some("viewer".to_owned()));
        assert_eq!(
            access.check(Some("w")),
            Some("ci".to_owned()),
            "writers read"
        );
        assert_eq!(access.check(None), None);
        let cookie = access.session("viewer", 1000).unwrap();
        assert_eq!(access.verify_session(&cookie, 1001), Some("viewer".into()));
        assert_eq!(access.verify_session(&cookie, 1000 + SESSION_SECONDS), None);
        assert_eq!(
            access.verify_session(&cookie.replace("viewer", "ci"), 1001),
            None
        );
        let last = if cookie.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
        assert_eq!(access.verify_session(&forged, 1001), None);
        let rotated = ReadAccess::new(&["viewer:new-secret".into()], &write);
        assert_eq!(rotated.verify_session(&cookie, 1001), None);
        assert!(!ReadAccess::new(&[], &write).required());
    }

    #[test]
    fn open_without_tokens() {
        let tokens = Tokens::parse(&[]);
        assert_eq!(tokens.check(None), Ok(OPEN.to_owned()));
        assert!(!tokens.write_access().required);
    }
}
