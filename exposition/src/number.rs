//! Numbers as the text formats write them: sample values, the `le` and `quantile` label
//! values, and timestamps.
//!
//! One grammar serves both formats. It is OpenMetrics' `number`, which is also what
//! Prometheus accepts through Go's `strconv.ParseFloat` once it has refused hexadecimal
//! floats and underscores: an optional sign, decimal digits with an optional fraction
//! and exponent (`1`, `-1.5`, `.5`, `1.`, `1e-3`, leading zeros allowed), `Inf` or
//! `Infinity` with an optional sign, and `NaN`, the last two in any letter case.
//!
//! Parsing is written out by hand because it is on the hot path: most values are short
//! integers or decimals, which the fast path turns into the correctly rounded float
//! without calling the general algorithm of the standard library.

/// Why a token is not a usable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// The token does not follow the grammar.
    Syntax,
    /// The token is a finite number too large for a 64-bit float.
    OutOfRange,
}

impl NumberError {
    /// Says what is wrong with `token`, as the start of an error message.
    pub(crate) fn describe(self, what: &str, token: &str) -> String {
        match self {
            NumberError::Syntax if token.contains('\r') => format!(
                "invalid {what} {token:?}: carriage return before the line feed (lines end with \\n alone)"
            ),
            NumberError::Syntax => format!("invalid {what} {token:?}"),
            NumberError::OutOfRange => format!("{what} {token:?} is out of range"),
        }
    }
}

/// A number in decimal notation as written: `mantissa × 10^exponent`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    negative: bool,
    /// The first 19 significant digits.
    mantissa: u64,
    exponent: i64,
    /// Whether `mantissa` holds every non-zero digit; when it does not, conversions fall
    /// back to the standard library.
    exact: bool,
}

/// Largest integer a 64-bit float holds exactly.
const MAX_EXACT_INT: u64 = 1 << 53;
const MAX_SIGNIFICANT_DIGITS: u32 = 19;
/// Powers of ten that a 64-bit float holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Decimal {
    /// Reads `[sign] digits [. digits] [e [sign] digits]` (at least one digit before the
    /// exponent); `None` when `token` is anything else.
    pub(crate) fn scan(token: &[u8]) -> Option<Decimal> {
        let (negative, body) = split_sign(token);
        let mut decimal = Decimal {
            negative,
            mantissa: 0,
            exponent: 0,
            exact: true,
        };
        let mut significant = 0u32;
        let mut i = 0;
        while let Some(&c) = body.get(i).filter(|c| c.is_ascii_digit()) {
            let digit = u64::from(c - b'0');
            if significant < MAX_SIGNIFICANT_DIGITS {
                decimal.mantissa = decimal.mantissa * 10 + digit;
                significant += u32::from(decimal.mantissa != 0);
            } else {
                decimal.exponent += 1;
                decimal.exact &= digit == 0;
            }
            i += 1;
        }
        let mut digits = i;
        if body.get(i) == Some(&b'.') {
            i += 1;
            let fraction_start = i;
            while let Some(&c) = body.get(i).filter(|c| c.is_ascii_digit()) {
                let digit = u64::from(c - b'0');
                if significant < MAX_SIGNIFICANT_DIGITS {
                    decimal.mantissa = decimal.mantissa * 10 + digit;
                    decimal.exponent -= 1;
                    significant += u32::from(decimal.mantissa != 0);
                } else {
                    decimal.exact &= digit == 0;
                }
                i += 1;
            }
            digits += i - fraction_start;
        }
        if digits == 0 {
            return None;
        }
        if matches!(body.get(i), Some(b'e' | b'E')) {
            i += 1;
            let (exponent_negative, rest) = split_sign(&body[i..]);
            i = body.len() - rest.len();
            let exponent_start = i;
            let mut exponent = 0i64;
            while let Some(&c) = body.get(i).filter(|c| c.is_ascii_digit()) {
                // Far beyond any float's range; saturating keeps the arithmetic safe.
                exponent = (exponent * 10 + i64::from(c - b'0')).min(1 << 40);
                i += 1;
            }
            if i == exponent_start {
                return None;
            }
            decimal.exponent += if exponent_negative {
                -exponent
            } else {
                exponent
            };
        }
        (i == body.len()).then_some(decimal)
    }

    /// The nearest 64-bit float; `token` is the text this was scanned from, used when the
    /// fast path does not apply.
    pub(crate) fn to_f64(self, token: &[u8]) -> Result<f64, NumberError> {
        if self.mantissa == 0 && self.exact {
            return Ok(if self.negative { -0.0 } else { 0.0 });
        }
        let magnitude = if self.exact
            && self.mantissa <= MAX_EXACT_INT
            && self.exponent.unsigned_abs() < EXACT_POWERS_OF_TEN.len() as u64
        {
            // Clinger's fast path: both operands are exact, so one IEEE operation
            // rounds correctly.
            let power = EXACT_POWERS_OF_TEN[self.exponent.unsigned_abs() as usize];
            if self.exponent >= 0 {
                self.mantissa as f64 * power
            } else {
                self.mantissa as f64 / power
            }
        } else {
            let text = std::str::from_utf8(token).map_err(|_| NumberError::Syntax)?;
            text.parse::<f64>().map_err(|_| NumberError::Syntax)?.abs()
        };
        if magnitude.is_infinite() {
            return Err(NumberError::OutOfRange);
        }
        Ok(if self.negative { -magnitude } else { magnitude })
    }

    /// Seconds to whole milliseconds, truncated toward zero; values beyond `i64`
    /// saturate. Exact for every decimal of up to 19 significant digits, so
    /// `1700215884.373` is 1700215884373, not one less.
    pub(crate) fn seconds_to_millis(self, seconds: f64) -> i64 {
        if !self.exact {
            // `as` saturates, which is what we want here.
            return (seconds * 1000.0) as i64;
        }
        let exponent = self.exponent + 3;
        let magnitude: u128 = if exponent >= 0 {
            match 10u128.checked_pow(exponent.min(64) as u32) {
                Some(power) => u128::from(self.mantissa).saturating_mul(power),
                None if self.mantissa == 0 => 0,
                None => u128::MAX,
            }
        } else {
            match 10u128.checked_pow(exponent.unsigned_abs().min(64) as u32) {
                Some(power) => u128::from(self.mantissa) / power,
                None => 0,
            }
        };
        let clamped = i64::try_from(magnitude).unwrap_or(i64::MAX);
        if self.negative {
            // -i64::MAX is in range; the one value below it is not worth a branch.
            -clamped
        } else {
            clamped
        }
    }
}

/// Parses a sample value (or an exemplar's, or a number in a label value).
pub(crate) fn parse_value(token: &[u8]) -> Result<f64, NumberError> {
    // Integers of up to 15 digits are the common case (counts, bytes, seconds since
    // the epoch): convert them directly.
    if (1..=15).contains(&token.len()) && token.iter().all(u8::is_ascii_digit) {
        let integer = token
            .iter()
            .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
        return Ok(integer as f64);
    }
    if let Some(special) = parse_special(token) {
        return Ok(special);
    }
    Decimal::scan(token)
        .ok_or(NumberError::Syntax)?
        .to_f64(token)
}

/// `[+-]Inf`, `[+-]Infinity` and `NaN` in any letter case.
fn parse_special(token: &[u8]) -> Option<f64> {
    if token.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    let (negative, body) = split_sign(token);
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    None
}

/// A Prometheus text timestamp: milliseconds since the epoch, digits only (the Prometheus
/// lexer reads `[0-9]+`, so no sign).
pub(crate) fn parse_millis(token: &[u8]) -> Result<i64, NumberError> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return Err(NumberError::Syntax);
    }
    token.iter().try_fold(0i64, |acc, &c| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .ok_or(NumberError::OutOfRange)
    })
}

/// An OpenMetrics timestamp: seconds since the epoch as a decimal number (no `Inf`, no
/// `NaN`). Returns the seconds, for ordering checks that need the full precision, and
/// the milliseconds that [`crate::Sample`] carries.
pub(crate) fn parse_seconds(token: &[u8]) -> Result<(f64, i64), NumberError> {
    let decimal = Decimal::scan(token).ok_or(NumberError::Syntax)?;
    let seconds = decimal.to_f64(token)?;
    Ok((seconds, decimal.seconds_to_millis(seconds)))
}

fn split_sign(token: &[u8]) -> (bool, &[u8]) {
    match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Result<f64, NumberError> {
        parse_value(text.as_bytes())
    }

    #[test]
    fn values_follow_the_grammar() {
        for (text, expected) in [
            ("0", 0.0),
            ("1", 1.0),
            ("-1", -1.0),
            ("+1", 1.0),
            ("1.5", 1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("-.5", -0.5),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("1e+3", 1000.0),
            ("1.5e-3", 0.0015),
            ("0000000000000000000000000000000000000000001.2e-1", 0.12),
            ("9223372036854775808", 9_223_372_036_854_775_808.0),
            ("1.7976931348623157e308", f64::MAX),
            ("5e-324", 5e-324),
            ("1e-400", 0.0),
            ("3.141592653589793238462643383279", std::f64::consts::PI),
        ] {
            assert_eq!(value(text), Ok(expected), "{text}");
        }
        for text in ["+Inf", "inf", "Infinity", "+INFINITY"] {
            assert_eq!(value(text), Ok(f64::INFINITY), "{text}");
        }
        for text in ["-Inf", "-inf", "-Infinity"] {
            assert_eq!(value(text), Ok(f64::NEG_INFINITY), "{text}");
        }
        for text in ["NaN", "nan", "NAN"] {
            assert!(value(text).unwrap().is_nan(), "{text}");
        }
    }

    #[test]
    fn malformed_values_are_rejected() {
        for text in [
            "", "+", "-", ".", "e3", "1e", "1e+", "1.1.1", "1_2", "0x1", "0x1p-3", "0b1", "0o1",
            "1 ", " 1", "1\t", "a", "+NaN", "-nan", "Inff", "in", "1,5", "١",
        ] {
            assert_eq!(value(text), Err(NumberError::Syntax), "{text:?}");
        }
        assert_eq!(value("1e400"), Err(NumberError::OutOfRange));
        assert_eq!(value("-1e309"), Err(NumberError::OutOfRange));
    }

    #[test]
    fn the_fast_path_rounds_like_the_standard_library() {
        for text in [
            "0.1",
            "0.2",
            "0.3",
            "123.456",
            "1.0267820369e+10",
            "0.013300656000000001",
            "2.478268416e+09",
            "1.7268398142239082e+09",
            "-0.0003825067330956884",
            "8.999999999999979e-05",
            "1e22",
            "1e23",
            "123456789012345678",
            "0.000001",
        ] {
            assert_eq!(value(text), Ok(text.parse::<f64>().unwrap()), "{text}");
        }
    }

    #[test]
    fn millisecond_timestamps_are_digits_only() {
        assert_eq!(parse_millis(b"0"), Ok(0));
        assert_eq!(parse_millis(b"1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_millis(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(
            parse_millis(b"9223372036854775808"),
            Err(NumberError::OutOfRange)
        );
        for text in ["", "-1", "+1", "1.5", "1e3"] {
            assert_eq!(parse_millis(text.as_bytes()), Err(NumberError::Syntax));
        }
    }

    #[test]
    fn second_timestamps_become_milliseconds_exactly() {
        let millis = |text: &str| parse_seconds(text.as_bytes()).map(|(_, ms)| ms);
        assert_eq!(millis("1700215884.373"), Ok(1_700_215_884_373));
        assert_eq!(millis("1.001"), Ok(1001));
        assert_eq!(millis("1.5e3"), Ok(1_500_000));
        assert_eq!(millis("0.0000000001"), Ok(0));
        assert_eq!(millis("-1"), Ok(-1000));
        assert_eq!(millis("-1.0009"), Ok(-1000));
        assert_eq!(millis("000"), Ok(0));
        assert_eq!(millis("1."), Ok(1000));
        assert_eq!(
            millis("12345678901234567890.1234567890"),
            Ok(i64::MAX),
            "saturates"
        );
        assert_eq!(millis("-1e30"), Ok(-i64::MAX));
        assert_eq!(millis("1e-30"), Ok(0));
        for text in ["NaN", "Inf", "-Inf", "+Inf", "1z", "1_2", "0x1p-3", ""] {
            assert!(parse_seconds(text.as_bytes()).is_err(), "{text}");
        }
    }
}
