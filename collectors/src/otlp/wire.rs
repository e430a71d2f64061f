//! OTLP/protobuf read straight off the body: one pass over the protobuf wire format that
//! takes what the call graph needs (ids, kind, times, status, links, and the attributes
//! as `&str` slices of the body) and skips the rest unparsed. The generated types would
//! allocate a `String` per attribute key and value and a `Vec` per id, only to be freed
//! a moment later: most of the receiver's cost (see BENCHMARKS.md, "Receiving and
//! pairing traces").
//!
//! Field numbers are those of `opentelemetry/proto/collector/trace/v1` and
//! `opentelemetry/proto/trace/v1`. Unknown fields are skipped, as protobuf requires;
//! anything malformed (a truncated varint or field, a length past the end, an invalid
//! wire type or field number, a string that is not UTF-8) refuses the whole body with
//! its byte offset, as the generated decoder would.

use std::sync::Arc;

use seam_traces::{ResourceBuilder, SpanBuilder, Value};

use super::{link, Decoded, RawHead, RawId};

/// Why a body is not an `ExportTraceServiceRequest`, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protobuf at byte {offset}: {what}")]
pub struct WireError {
    pub offset: usize,
    pub what: &'static str,
}

#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole body, for error messages.
    base: usize,
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Reader<'a> {
        Reader { buf, pos: 0, base }
    }

    fn error(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.base + self.pos,
            what,
        }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let Some(bytes) = self.buf.get(self.pos..self.pos + N) else {
            return Err(self.error("truncated fixed-size field"));
        };
        self.pos += N;
        Ok(bytes.try_into().expect("N bytes"))
    }

    /// A length-delimited field, as a reader of its own.
    fn nested(&mut self) -> Result<Reader<'a>, WireError> {
        let at = self.pos;
        let len = self.varint()?;
        let start = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.buf.len())
            .ok_or(WireError {
                offset: self.base + at,
                what: "length past the end",
            })?;
        self.pos = end;
        Ok(Reader::new(&self.buf[start..end], self.base + start))
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        Ok(self.nested()?.buf)
    }

    fn string(&mut self) -> Result<&'a str, WireError> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| WireError {
            offset: self.base + at,
            what: "string is not UTF-8",
        })
    }

    /// The next field's number and wire type; `None` at the end.
    fn field(&mut self) -> Result<Option<(u64, u8)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(self.error("invalid field number"));
        }
        Ok(Some((number, (key & 7) as u8)))
    }

    fn skip(&mut self, wire: u8) -> Result<(), WireError> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed::<8>().map(drop),
            LEN => self.nested().map(drop),
            FIXED32 => self.fixed::<4>().map(drop),
            // Groups (3, 4) are proto2 only; OTLP has none.
            _ => Err(self.error("invalid wire type")),
        }
    }

    /// Checks that a known field has the wire type its declaration gives.
    fn expect(&self, wire: u8, expected: u8) -> Result<(), WireError> {
        if wire == expected {
            Ok(())
        } else {
            Err(self.error("wire type does not match the field"))
        }
    }
}

/// Decodes an OTLP/protobuf `ExportTraceServiceRequest` body into spans.
pub fn decode(body: &[u8]) -> Result<Decoded, WireError> {
    let mut out = Decoded::default();
    let mut request = Reader::new(body, 0);
    let mut r = 0;
    while let Some((number, wire)) = request.field()? {
        if number == 1 {
            request.expect(wire, LEN)?;
            resource_spans(request.nested()?, r, &mut out)?;
            r += 1;
        } else {
            request.skip(wire)?;
        }
    }
    Ok(out)
}

fn resource_spans(mut rs: Reader<'_>, r: usize, out: &mut Decoded) -> Result<(), WireError> {
    // The resource may come after its spans on the wire: spans are read once it is known.
    let mut resource = ResourceBuilder::default();
    let mut scopes = Vec::new();
    while let Some((number, wire)) = rs.field()? {
        match number {
            1 => {
                rs.expect(wire, LEN)?;
                let mut res = rs.nested()?;
                while let Some((number, wire)) = res.field()? {
                    if number == 1 {
                        res.expect(wire, LEN)?;
                        let (key, value) = key_value(res.nested()?)?;
                        resource.attribute(key, value);
                    } else {
                        res.skip(wire)?;
                    }
                }
            }
            2 => {
                rs.expect(wire, LEN)?;
                scopes.push(rs.nested()?);
            }
            _ => rs.skip(wire)?,
        }
    }
    let resource = Arc::new(resource.build());
    for (s, mut scope) in scopes.into_iter().enumerate() {
        let mut i = 0;
        while let Some((number, wire)) = scope.field()? {
            if number == 2 {
                scope.expect(wire, LEN)?;
                span(scope.nested()?, &resource, out, (r, s, i))?;
                i += 1;
            } else {
                scope.skip(wire)?;
            }
        }
    }
    Ok(())
}

fn span(
    mut sp: Reader<'_>,
    resource: &Arc<seam_traces::Resource>,
    out: &mut Decoded,
    (r, s, i): (usize, usize, usize),
) -> Result<(), WireError> {
    let mut raw = RawHead {
        trace_id: RawId::Bytes(&[]),
        span_id: RawId::Bytes(&[]),
        parent: RawId::Bytes(&[]),
        kind: 0,
        start_unix_nano: 0,
        end_unix_nano: 0,
        status_code: 0,
    };
    let mut attributes = SpanBuilder::default();
    let mut links = Vec::new();
    while let Some((number, wire)) = sp.field()? {
        match number {
            1 => {
                sp.expect(wire, LEN)?;
                raw.trace_id = RawId::Bytes(sp.bytes()?);
            }
            2 => {
                sp.expect(wire, LEN)?;
                raw.span_id = RawId::Bytes(sp.bytes()?);
            }
            4 => {
                sp.expect(wire, LEN)?;
                raw.parent = RawId::Bytes(sp.bytes()?);
            }
            6 => {
                sp.expect(wire, VARINT)?;
                raw.kind = sp.varint()? as i32;
            }
            7 => {
                sp.expect(wire, FIXED64)?;
                raw.start_unix_nano = u64::from_le_bytes(sp.fixed()?);
            }
            8 => {
                sp.expect(wire, FIXED64)?;
                raw.end_unix_nano = u64::from_le_bytes(sp.fixed()?);
            }
            9 => {
                sp.expect(wire, LEN)?;
                let (key, value) = key_value(sp.nested()?)?;
                attributes.attribute(key, value);
            }
            13 => {
                sp.expect(wire, LEN)?;
                let mut l = sp.nested()?;
                let (mut trace, mut id): (&[u8], &[u8]) = (&[], &[]);
                while let Some((number, wire)) = l.field()? {
                    match number {
                        1 => {
                            l.expect(wire, LEN)?;
                            trace = l.bytes()?;
                        }
                        2 => {
                            l.expect(wire, LEN)?;
                            id = l.bytes()?;
                        }
                        _ => l.skip(wire)?,
                    }
                }
                links.push((trace, id));
            }
            15 => {
                sp.expect(wire, LEN)?;
                let mut status = sp.nested()?;
                while let Some((number, wire)) = status.field()? {
                    if number == 3 {
                        status.expect(wire, VARINT)?;
                        raw.status_code = status.varint()? as i32;
                    } else {
                        status.skip(wire)?;
                    }
                }
            }
            _ => sp.skip(wire)?,
        }
    }
    match raw.head(resource) {
        Ok(mut head) => {
            head.links = links
                .into_iter()
                .filter_map(|(trace, id)| link(RawId::Bytes(trace), RawId::Bytes(id)))
                .collect();
            out.spans.push(attributes.build(head));
        }
        Err(why) => out.reject(
            || format!("resource_spans[{r}].scope_spans[{s}].spans[{i}]"),
            why,
        ),
    }
    Ok(())
}

/// A `KeyValue`: its key and the value as far as Seam reads values (arrays, maps and
/// bytes are checked for framing only).
fn key_value(mut kv: Reader<'_>) -> Result<(&str, Value<'_>), WireError> {
    // A KeyValue whose value field repeats merges like the generated types do: the
    // last value set wins.
    let mut key = "";
    let mut value = Value::Other;
    while let Some((number, wire)) = kv.field()? {
        match number {
            1 => {
                kv.expect(wire, LEN)?;
                key = kv.string()?;
            }
            2 => {
                kv.expect(wire, LEN)?;
                value = any_value(kv.nested()?)?;
            }
            _ => kv.skip(wire)?,
        }
    }
    Ok((key, value))
}

fn any_value(mut v: Reader<'_>) -> Result<Value<'_>, WireError> {
    let mut value = Value::Other;
    while let Some((number, wire)) = v.field()? {
        value = match (number, wire) {
            (1, LEN) => Value::Str(v.string()?),
            (2, VARINT) => Value::Bool(v.varint()? != 0),
            (3, VARINT) => Value::Int(v.varint()? as i64),
            (4, FIXED64) => Value::Double(f64::from_le_bytes(v.fixed()?)),
            (1..=4, _) => return Err(v.error("wire type does not match the field")),
            // Arrays, maps and bytes: members of the same oneof, not read.
            (5..=7, LEN) => {
                v.skip(wire)?;
                Value::Other
            }
            (5..=7, _) => return Err(v.error("wire type does not match the field")),
            _ => {
                v.skip(wire)?;
                value
            }
        };
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
    use proptest::prelude::*;
    use prost::Message;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn value() -> impl Strategy<Value = any_value::Value> {
        prop_oneof![
            "[a-z/{}0-9 ]{0,12}".prop_map(any_value::Value::StringValue),
            any::<bool>().prop_map(any_value::Value::BoolValue),
            any::<i64>().prop_map(any_value::Value::IntValue),
            any::<f64>().prop_map(any_value::Value::DoubleValue),
            prop::collection::vec(any::<u8>(), 0..4).prop_map(any_value::Value::BytesValue),
        ]
    }

    const KEYS: [&str; 10] = [
        "service.name",
        "service.version",
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "server.address",
        "server.port",
        "db.system.name",
        "peer.service",
        "other.key",
    ];

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec((0..KEYS.len(), value()), 0..6)
            .prop_map(|kvs| kvs.into_iter().map(|(k, v)| kv(KEYS[k], v)).collect())
    }

    /// An id of one of these lengths (right, wrong, absent), sometimes all zero.
    fn id(lengths: Vec<usize>) -> impl Strategy<Value = Vec<u8>> {
        (prop::sample::select(lengths), any::<bool>()).prop_flat_map(|(n, zero)| {
            prop::collection::vec(
                if zero {
                    Just(0u8).boxed()
                } else {
                    any::<u8>().boxed()
                },
                n,
            )
        })
    }

    fn span_strategy() -> impl Strategy<Value = Span> {
        (
            id(vec![0, 15, 16]),
            id(vec![0, 8, 9]),
            id(vec![0, 8]),
            -1i32..7,
            any::<u64>(),
            any::<u64>(),
            attributes(),
            0i32..3,
            prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 16),
                    prop::collection::vec(any::<u8>(), 8),
                ),
                0..2,
            ),
        )
            .prop_map(
                |(trace_id, span_id, parent_span_id, kind, start, end, attributes, code, links)| {
                    Span {
                        trace_id,
                        span_id,
                        parent_span_id,
                        kind,
                        start_time_unix_nano: start,
                        end_time_unix_nano: end,
                        attributes,
                        status: Some(Status {
                            code,
                            ..Default::default()
                        }),
                        links: links
                            .into_iter()
                            .map(|(trace_id, span_id)| span::Link {
                                trace_id,
                                span_id,
                                ..Default::default()
                            })
                            .collect(),
                        name: "op".into(),
                        ..Default::default()
                    }
                },
            )
    }

    fn request_strategy() -> impl Strategy<Value = ExportTraceServiceRequest> {
        prop::collection::vec(
            (
                attributes(),
                prop::collection::vec(prop::collection::vec(span_strategy(), 0..4), 0..3),
            ),
            0..3,
        )
        .prop_map(|resources| ExportTraceServiceRequest {
            resource_spans: resources
                .into_iter()
                .map(|(attributes, scopes)| ResourceSpans {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_spans: scopes
                        .into_iter()
                        .map(|spans| ScopeSpans {
                            spans,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        })
    }

    proptest! {
        /// The reader and the generated types agree on every request: the same spans,
        /// the same rejections.
        #[test]
        fn agrees_with_the_generated_decoder(request in request_strategy()) {
            let body = request.encode_to_vec();
            let ours = decode(&body).unwrap();
            let theirs = super::super::convert_protobuf(&ExportTraceServiceRequest::decode(body.as_slice()).unwrap());
            prop_assert_eq!(ours.rejected, theirs.rejected);
            prop_assert_eq!(ours.first_rejection, theirs.first_rejection);
            prop_assert_eq!(format!("{:?}", ours.spans), format!("{:?}", theirs.spans));
        }

        /// Damaged bodies: refused or read, never a panic; refused whenever prost refuses
        /// a body it would have to read whole.
        #[test]
        fn damaged_bodies_never_panic(request in request_strategy(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
            let mut body = request.encode_to_vec();
            if !body.is_empty() {
                let at = flip.0.index(body.len());
                body[at] ^= flip.1;
                let end = cut.index(body.len() + 1);
                body.truncate(end);
            }
            let _ = decode(&body);
        }
    }

    #[test]
    fn errors_say_where() {
        let err = decode(&[0x0a, 0x05, 0x01]).unwrap_err();
        assert_eq!(err.what, "length past the end");
        assert_eq!(err.offset, 1);
        assert_eq!(
            decode(&[0x0b]).unwrap_err().what,
            "wire type does not match the field"
        );
        assert_eq!(decode(&[0x13]).unwrap_err().what, "invalid wire type");
        assert_eq!(decode(&[0x00]).unwrap_err().what, "invalid field number");
        assert_eq!(decode(&[0x10, 0xff]).unwrap_err().what, "truncated varint");
        // A string field that is not UTF-8 (a KeyValue key).
        let kv = [0x0a, 0x02, 0xc3, 0x28];
        let mut attrs = vec![0x0a, kv.len() as u8];
        attrs.extend(kv);
        let mut resource = vec![0x0a, attrs.len() as u8];
        resource.extend(attrs);
        let mut body = vec![0x0a, resource.len() as u8];
        body.extend(resource);
        assert_eq!(decode(&body).unwrap_err().what, "string is not UTF-8");
        assert!(decode(&[]).unwrap().spans.is_empty());
    }
}
