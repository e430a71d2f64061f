//! Who may write: the API tokens of the configuration, each with a name that is recorded
//! with every revision it submits. The REST API and the web forms' server functions use
//! the same check ([`Tokens::check`]); the forms reach it through the Leptos context as a
//! [`WriteAccess`], and refuse when it is missing (fail closed).

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
    fn open_without_tokens() {
        let tokens = Tokens::parse(&[]);
        assert_eq!(tokens.check(None), Ok(OPEN.to_owned()));
        assert!(!tokens.write_access().required);
    }
}
