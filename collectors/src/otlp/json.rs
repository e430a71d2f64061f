//! OTLP/JSON, read leniently: only the fields Seam uses, each optional.
//!
//! Not opentelemetry-proto's serde types: they refuse input that real exporters send and
//! the protobuf JSON mapping allows (`{"arrayValue":{}}`, a `KeyValue` without `key`,
//! `null` fields, enum names, 32-bit integers as strings). Here every field has a
//! default, `null` is the same as absent, unknown fields are ignored, 64-bit integers
//! are decimal strings or numbers, enums numbers or their names (`SPAN_KIND_SERVER`),
//! field names lowerCamelCase or as the .proto spells them, and ids hex in either case.
//! An id that is not hex refuses its span (a partial success), not the request.
//!
//! The types are plain serde, so they also read the OTLP-JSON-shaped YAML of the
//! OpenTelemetry Collector's test files (through any serde YAML deserializer), and
//! [`ExportRequest::decode`] turns what was read into spans.

use std::fmt;
use std::sync::Arc;

use seam_traces::{ResourceBuilder, SpanBuilder, Value};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;

use super::{link, Decoded, RawHead, RawId};

/// Why an OTLP/JSON body could not be read, with where (line and column).
#[derive(Debug, thiserror::Error)]
#[error("invalid OTLP/JSON: {0}")]
pub struct JsonError(#[from] serde_json::Error);

impl JsonError {
    /// The line (1-based) where reading stopped.
    pub fn line(&self) -> usize {
        self.0.line()
    }

    /// The column (1-based) where reading stopped.
    pub fn column(&self) -> usize {
        self.0.column()
    }
}

/// Reads an OTLP/JSON `ExportTraceServiceRequest` and turns it into spans.
pub fn decode_json(body: &[u8]) -> Result<Decoded, JsonError> {
    let request: ExportRequest = serde_json::from_slice(body)?;
    Ok(request.decode())
}

/// `ExportTraceServiceRequest` (also `TracesData`: the same shape).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportRequest {
    /// The spans, grouped by the resource (service instance) that made them.
    #[serde(alias = "resource_spans", deserialize_with = "nullable")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// The spans of one resource (one service instance).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceSpans {
    /// Who made the spans; absent: `unknown_service`.
    pub resource: Option<Resource>,
    /// The spans, grouped by instrumentation scope.
    #[serde(alias = "scope_spans", deserialize_with = "nullable")]
    pub scope_spans: Vec<ScopeSpans>,
    /// The name `scopeSpans` had before OTLP 0.15; older exporters still send it.
    #[serde(alias = "instrumentation_library_spans", deserialize_with = "nullable")]
    pub instrumentation_library_spans: Vec<ScopeSpans>,
}

/// The attributes that say which service sent the spans.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Resource {
    /// `service.name`, `service.version` and the other identifying attributes.
    #[serde(deserialize_with = "nullable")]
    pub attributes: Vec<KeyValue>,
}

/// The spans of one instrumentation scope (Seam does not read the scope).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ScopeSpans {
    /// The spans of the scope.
    #[serde(deserialize_with = "nullable")]
    pub spans: Vec<Span>,
}

/// A span, as far as Seam reads it. Ids stay text until [`ExportRequest::decode`], so a
/// bad one refuses only its span.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Span {
    /// 32 hex digits.
    #[serde(alias = "trace_id")]
    pub trace_id: Option<String>,
    /// 16 hex digits.
    #[serde(alias = "span_id")]
    pub span_id: Option<String>,
    /// 16 hex digits; empty, absent or all zero for a root span.
    #[serde(alias = "parent_span_id")]
    pub parent_span_id: Option<String>,
    /// `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: Option<EnumValue>,
    /// Start, nanoseconds since the Unix epoch.
    #[serde(alias = "start_time_unix_nano")]
    pub start_time_unix_nano: Option<Uint64>,
    /// End, nanoseconds since the Unix epoch.
    #[serde(alias = "end_time_unix_nano")]
    pub end_time_unix_nano: Option<Uint64>,
    /// Attributes, read by the semantic conventions (`http.route`, `rpc.method`...).
    #[serde(deserialize_with = "nullable")]
    pub attributes: Vec<KeyValue>,
    /// Whether the span failed.
    pub status: Option<Status>,
    /// Spans this one links to.
    #[serde(deserialize_with = "nullable")]
    pub links: Vec<Link>,
}

/// A span's status; only its code is read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Status {
    /// `StatusCode`: 0 unset, 1 ok, 2 error.
    pub code: Option<EnumValue>,
}

/// A link to another span (a consumer's to its producer).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Link {
    /// The linked span's trace, 32 hex digits.
    #[serde(alias = "trace_id")]
    pub trace_id: Option<String>,
    /// The linked span, 16 hex digits.
    #[serde(alias = "span_id")]
    pub span_id: Option<String>,
}

/// An attribute. A missing key is the empty key, which no convention reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    /// The attribute's name, as `http.route`.
    #[serde(deserialize_with = "nullable")]
    pub key: String,
    /// Its value; absent reads as a value Seam does not use.
    pub value: Option<AnyValue>,
}

/// An attribute's value. Arrays, maps and bytes are skipped over whatever they hold
/// (no convention Seam reads has them); when several kinds are present the first of
/// string, int, double, bool counts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnyValue {
    /// Text.
    #[serde(alias = "string_value")]
    pub string_value: Option<String>,
    /// A 64-bit integer (a decimal string in OTLP/JSON).
    #[serde(alias = "int_value")]
    pub int_value: Option<Int64>,
    /// A double.
    #[serde(alias = "double_value")]
    pub double_value: Option<Double>,
    /// A boolean.
    #[serde(alias = "bool_value")]
    pub bool_value: Option<bool>,
    /// An array, skipped.
    #[serde(alias = "array_value")]
    pub array_value: Option<Skipped>,
    /// A map, skipped.
    #[serde(alias = "kvlist_value")]
    pub kvlist_value: Option<Skipped>,
    /// Bytes (base64), skipped.
    #[serde(alias = "bytes_value")]
    pub bytes_value: Option<Skipped>,
}

impl AnyValue {
    fn value(&self) -> Value<'_> {
        if let Some(s) = &self.string_value {
            Value::Str(s)
        } else if let Some(Int64(i)) = self.int_value {
            Value::Int(i)
        } else if let Some(Double(d)) = self.double_value {
            Value::Double(d)
        } else if let Some(b) = self.bool_value {
            Value::Bool(b)
        } else {
            Value::Other
        }
    }
}

fn value(kv: &KeyValue) -> Value<'_> {
    kv.value.as_ref().map_or(Value::Other, AnyValue::value)
}

impl ExportRequest {
    /// The spans of the request, with the same rules as OTLP/protobuf: one resource per
    /// `resourceSpans`, spans with unusable ids refused and counted.
    pub fn decode(&self) -> Decoded {
        let mut out = Decoded::default();
        for (r, resource_spans) in self.resource_spans.iter().enumerate() {
            let mut builder = ResourceBuilder::default();
            for kv in resource_spans.resource.iter().flat_map(|r| &r.attributes) {
                builder.attribute(&kv.key, value(kv));
            }
            let resource = Arc::new(builder.build());
            let scopes = [
                ("scopeSpans", &resource_spans.scope_spans),
                (
                    "instrumentationLibrarySpans",
                    &resource_spans.instrumentation_library_spans,
                ),
            ];
            for (field, scopes) in scopes {
                for (s, scope) in scopes.iter().enumerate() {
                    for (i, span) in scope.spans.iter().enumerate() {
                        let raw = RawHead {
                            trace_id: id(&span.trace_id),
                            span_id: id(&span.span_id),
                            parent: id(&span.parent_span_id),
                            kind: span.kind.map_or(0, |k| k.0),
                            start_unix_nano: span.start_time_unix_nano.map_or(0, |t| t.0),
                            end_unix_nano: span.end_time_unix_nano.map_or(0, |t| t.0),
                            status_code: span
                                .status
                                .as_ref()
                                .and_then(|s| s.code)
                                .map_or(0, |c| c.0),
                        };
                        match raw.head(&resource) {
                            Ok(mut head) => {
                                head.links = span
                                    .links
                                    .iter()
                                    .filter_map(|l| link(id(&l.trace_id), id(&l.span_id)))
                                    .collect();
                                let mut builder = SpanBuilder::default();
                                for kv in &span.attributes {
                                    builder.attribute(&kv.key, value(kv));
                                }
                                out.spans.push(builder.build(head));
                            }
                            Err(why) => out.reject(
                                || format!("resourceSpans[{r}].{field}[{s}].spans[{i}]"),
                                why,
                            ),
                        }
                    }
                }
            }
        }
        out
    }
}

fn id(text: &Option<String>) -> RawId<'_> {
    RawId::Hex(text.as_deref().unwrap_or(""))
}

/// `null` reads as the type's default, like an absent field.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A value that is read over and dropped, whatever its shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Skipped)
    }
}

/// A `fixed64`/`uint64`: a decimal string (the protobuf JSON mapping) or a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uint64(pub u64);

/// An `int64`: a decimal string or a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Int64(pub i64);

/// A `double`: a number, or a string (`"NaN"`, `"Infinity"`, `"-Infinity"`, `"1.5"`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Double(pub f64);

/// An enum (span kind, status code): its number, as a number or a string, or its name.
/// Unknown names read as 0, unspecified, like unknown numbers do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnumValue(pub i32);

/// The names of the enums Seam reads, with their numbers.
const ENUM_NAMES: [(&str, i32); 9] = [
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

/// Reads numbers given as numbers or as text, into `T`.
struct NumberVisitor<T> {
    expecting: &'static str,
    from_i128: fn(i128) -> Option<T>,
    from_f64: fn(f64) -> Option<T>,
    from_str: fn(&str) -> Option<T>,
}

impl<T> NumberVisitor<T> {
    fn invalid<E: de::Error>(&self, unexpected: de::Unexpected<'_>) -> E {
        E::invalid_value(unexpected, &self.expecting)
    }
}

impl<'de, T> Visitor<'de> for NumberVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.from_i128)(v.into()).ok_or_else(|| self.invalid(de::Unexpected::Signed(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.from_i128)(v.into()).ok_or_else(|| self.invalid(de::Unexpected::Unsigned(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<T, E> {
        (self.from_i128)(v).ok_or_else(|| self.invalid(de::Unexpected::Other("a large integer")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<T, E> {
        i128::try_from(v)
            .ok()
            .and_then(self.from_i128)
            .ok_or_else(|| self.invalid(de::Unexpected::Other("a large integer")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.from_f64)(v).ok_or_else(|| self.invalid(de::Unexpected::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_str)(v.trim()).ok_or_else(|| self.invalid(de::Unexpected::Str(v)))
    }
}

/// A float that is a whole number within `i128`, as one.
fn whole(v: f64) -> Option<i128> {
    (v.fract() == 0.0 && v.abs() < 1.7e38).then_some(v as i128)
}

impl<'de> Deserialize<'de> for Uint64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor {
            expecting: "an unsigned 64-bit integer, as a number or a decimal string",
            from_i128: |v| u64::try_from(v).ok().map(Uint64),
            from_f64: |v| whole(v).and_then(|v| u64::try_from(v).ok()).map(Uint64),
            from_str: |s| s.parse().ok().map(Uint64),
        })
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor {
            expecting: "a 64-bit integer, as a number or a decimal string",
            from_i128: |v| i64::try_from(v).ok().map(Int64),
            from_f64: |v| whole(v).and_then(|v| i64::try_from(v).ok()).map(Int64),
            from_str: |s| s.parse().ok().map(Int64),
        })
    }
}

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor {
            expecting: "a number, or a string holding one",
            from_i128: |v| Some(Double(v as f64)),
            from_f64: |v| Some(Double(v)),
            from_str: |s| match s {
                "Infinity" => Some(Double(f64::INFINITY)),
                "-Infinity" => Some(Double(f64::NEG_INFINITY)),
                _ => s.parse().ok().map(Double),
            },
        })
    }
}

impl<'de> Deserialize<'de> for EnumValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberVisitor {
            expecting: "an enum, as its number or its name",
            from_i128: |v| Some(EnumValue(i32::try_from(v).unwrap_or(0))),
            from_f64: |v| {
                Some(EnumValue(
                    whole(v).and_then(|v| i32::try_from(v).ok()).unwrap_or(0),
                ))
            },
            from_str: |s| {
                let number = s.parse().ok().or_else(|| {
                    ENUM_NAMES
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(s))
                        .map(|&(_, n)| n)
                });
                Some(EnumValue(number.unwrap_or(0)))
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seam_traces::SpanKind;

    const TRACE: &str = "5B8EFFF798038103D269B633813FC60C";

    fn span_json(extra: &str) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},
            "scopeSpans":[{{"spans":[{{"traceId":"{TRACE}","spanId":"eee19b7ec3c1b174"{extra}}}]}}]}}]}}"#
        )
    }

    #[test]
    fn what_opentelemetry_protos_serde_refuses() {
        let body = span_json(
            r#","parentSpanId":null,"kind":"SPAN_KIND_CLIENT","startTimeUnixNano":1000,
            "endTimeUnixNano":"2000","status":{"code":"STATUS_CODE_ERROR","message":null},
            "attributes":[{"value":{"stringValue":"no key"}},{"key":"a","value":{"arrayValue":{}}},
              {"key":"b","value":{"kvlistValue":{"values":[{"key":"x","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}}},
              {"key":"http.response.status_code","value":{"intValue":"503"}},
              {"key":"c","value":null},{"key":"d","value":{"doubleValue":"NaN"}},
              {"key":"e","value":{"bytesValue":"AAAwOQ=="}}],
            "droppedAttributesCount":"3","links":null,"events":null,"unknownField":{"x":[1,2]}"#,
        );
        let decoded = decode_json(body.as_bytes()).unwrap();
        assert_eq!(decoded.rejected, 0);
        let span = &decoded.spans[0];
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.parent, None);
        assert!(span.status_error);
        assert_eq!(span.http_status, Some(503));
        assert_eq!((span.start_unix_nano, span.end_unix_nano), (1000, 2000));
        assert_eq!(&*span.resource.service, "shop");
    }

    #[test]
    fn bad_hex_refuses_the_span_only() {
        let body = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
              {{"traceId":"{TRACE}","spanId":"eee19b7ec3c1b174"}},
              {{"traceId":"W46P95gDgQPSabYzgT/GDA==","spanId":"eee19b7ec3c1b174"}},
              {{"traceId":"{TRACE}","spanId":"0000000000000000"}}]}}]}}]}}"#
        );
        let decoded = decode_json(body.as_bytes()).unwrap();
        assert_eq!(decoded.spans.len(), 1);
        assert_eq!(decoded.rejected, 2);
        let message = decoded.error_message().unwrap();
        assert!(
            message.contains("resourceSpans[0].scopeSpans[0].spans[1]: traceId"),
            "{message}"
        );
    }

    #[test]
    fn old_and_snake_case_names() {
        let body = format!(
            r#"{{"resource_spans":[{{"instrumentationLibrarySpans":[{{"spans":[
              {{"trace_id":"{TRACE}","span_id":"eee19b7ec3c1b174","kind":"3"}}]}}]}}]}}"#
        );
        let decoded = decode_json(body.as_bytes()).unwrap();
        assert_eq!(decoded.spans.len(), 1);
        assert_eq!(decoded.spans[0].kind, SpanKind::Client);
    }

    #[test]
    fn errors_say_where() {
        let err = decode_json(b"{\n \"resourceSpans\": [\n  {\"scopeSpans\": 7}]}").unwrap_err();
        assert_eq!(err.line(), 3);
        assert!(err.to_string().contains("line 3"), "{err}");
        let err =
            decode_json(&span_json(r#","startTimeUnixNano":"soon""#).into_bytes()).unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
        assert!(decode_json(b"7").is_err());
        assert!(decode_json(b"").is_err());
    }
}
