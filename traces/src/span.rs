//! A span as the call graph needs it, and the semantic conventions that fill it: the
//! receivers hand every attribute to [`SpanBuilder::attribute`] (old and new key names
//! alike) and get a [`Span`] with only what pairing, edges and health read.

use std::sync::Arc;

/// W3C trace id, 16 bytes; all zero is invalid.
pub type TraceId = [u8; 16];
/// Span id, 8 bytes; all zero is invalid.
pub type SpanId = [u8; 8];

/// Longest operation, version or peer name kept; longer ones are cut at a character
/// boundary (bounded cardinality and memory, whatever a client sends).
pub const MAX_VALUE_BYTES: usize = 128;
/// Longest service name kept.
pub const MAX_SERVICE_BYTES: usize = 256;

/// OTLP's span kinds (`kind` 0..5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// From OTLP's enum number; unknown numbers are unspecified.
    pub fn from_otlp(kind: i32) -> SpanKind {
        match kind {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// Client and producer spans start a call to another service.
    pub fn is_outgoing(self) -> bool {
        matches!(self, SpanKind::Client | SpanKind::Producer)
    }

    /// Server and consumer spans serve a call from another service.
    pub fn is_incoming(self) -> bool {
        matches!(self, SpanKind::Server | SpanKind::Consumer)
    }
}

/// Who sent a batch of spans: the resource attributes that identify a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resource {
    /// `service.name`; OTLP's `unknown_service` when absent.
    pub service: Arc<str>,
    pub namespace: Option<Arc<str>>,
    pub version: Option<Arc<str>>,
    pub instance: Option<Arc<str>>,
    /// `deployment.environment.name`, or the older `deployment.environment`.
    pub environment: Option<Arc<str>>,
}

/// A resource attribute's or span attribute's value, as far as Seam reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes: no convention Seam reads has them.
    Other,
}

/// A span attribute's text, borrowed from the request where it is a string.
type Text<'a> = std::borrow::Cow<'a, str>;

impl<'a> Value<'a> {
    fn borrowed(&self) -> Option<Text<'a>> {
        match *self {
            Value::Str(s) if !s.is_empty() => Some(Text::Borrowed(s)),
            Value::Int(i) => Some(Text::Owned(i.to_string())),
            _ => None,
        }
    }
}

impl Value<'_> {
    fn text(&self) -> Option<String> {
        match *self {
            Value::Str(s) if !s.is_empty() => Some(s.to_owned()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => Some(d as i64),
            _ => None,
        }
    }
}

/// Builds a [`Resource`] from resource attributes.
#[derive(Debug, Default)]
pub struct ResourceBuilder {
    service: Option<String>,
    namespace: Option<String>,
    version: Option<String>,
    instance: Option<String>,
    environment: Option<String>,
    environment_old: Option<String>,
}

impl ResourceBuilder {
    pub fn attribute(&mut self, key: &str, value: Value<'_>) {
        let slot = match key {
            "service.name" => &mut self.service,
            "service.namespace" => &mut self.namespace,
            "service.version" => &mut self.version,
            "service.instance.id" => &mut self.instance,
            "deployment.environment.name" => &mut self.environment,
            "deployment.environment" => &mut self.environment_old,
            _ => return,
        };
        *slot = value.text();
    }

    pub fn build(self) -> Resource {
        let bounded = |s: Option<String>| s.map(|s| Arc::from(cut(&s, MAX_VALUE_BYTES)));
        Resource {
            service: Arc::from(cut(
                self.service.as_deref().unwrap_or("unknown_service"),
                MAX_SERVICE_BYTES,
            )),
            namespace: bounded(self.namespace),
            version: bounded(self.version),
            instance: bounded(self.instance),
            environment: bounded(self.environment.or(self.environment_old)),
        }
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The protocol a call speaks, from the span's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Grpc,
    /// `messaging.system`, as `kafka` or `rabbitmq`.
    Messaging(Box<str>),
    /// `db.system.name` (or `db.system`), as `postgresql`.
    Database(Box<str>),
    /// Another `rpc.system`, as `connect_rpc` or `dotnet_wcf`.
    Rpc(Box<str>),
    Unknown,
}

impl Protocol {
    /// The name in the API and the store: `http`, `grpc`, or the messaging, database or
    /// RPC system's name; `unknown` when the span says nothing.
    pub fn name(&self) -> &str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Messaging(s) | Protocol::Database(s) | Protocol::Rpc(s) => s,
            Protocol::Unknown => "unknown",
        }
    }
}

/// A span, reduced to what the call graph reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub resource: Arc<Resource>,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` for a root span (OTLP's empty or all-zero parent id).
    pub parent: Option<SpanId>,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// The span's status is ERROR.
    pub status_error: bool,
    pub protocol: Protocol,
    /// `http.response.status_code` (or `http.status_code`).
    pub http_status: Option<i64>,
    /// `rpc.grpc.status_code` (or `rpc.response.status_code`), as a number.
    pub grpc_status: Option<i64>,
    /// Route template (`GET /users/{id}`), RPC method (`shop.Cart/Add`), messaging
    /// destination or database operation; never a raw URL.
    pub operation: Option<Box<str>>,
    /// The peer this span calls, named by the first of `service.peer.name`,
    /// `peer.service`, `server.address` (with `server.port`), `network.peer.address`.
    pub peer: Option<Box<str>>,
    /// The remote service by name only (`service.peer.name`, or `peer.service`): on a
    /// server span, the caller; `server.address` there is the server itself.
    pub peer_service: Option<Box<str>>,
    /// `db.namespace` (or `db.name`) of a database call.
    pub db_namespace: Option<Box<str>>,
    /// Spans this one links to (a consumer's link to the producer), as trace and span id.
    pub links: Vec<(TraceId, SpanId)>,
}

impl Span {
    /// Duration in seconds; zero when the end is before the start.
    pub fn duration_seconds(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e9
    }

    /// Whether the span is a failed request, by FORMATS.md's rules: status ERROR; HTTP
    /// 5xx; on client and producer spans also 4xx; gRPC's server-fault codes.
    pub fn is_error(&self) -> bool {
        if self.status_error {
            return true;
        }
        if let Some(status) = self.http_status {
            if status >= 500 || (self.kind.is_outgoing() && status >= 400) {
                return true;
            }
        }
        matches!(self.grpc_status, Some(code) if GRPC_SERVER_ERRORS.contains(&code))
    }

    /// A database call: a client span naming a database system.
    pub fn is_database_call(&self) -> bool {
        self.kind == SpanKind::Client && matches!(self.protocol, Protocol::Database(_))
    }
}

/// gRPC codes that count as errors: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS (the semantic conventions' list for servers).
pub const GRPC_SERVER_ERRORS: [i64; 6] = [2, 4, 12, 13, 14, 15];

fn grpc_code(name: &str) -> Option<i64> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .map(|i| i as i64)
}

/// What a span says besides its attributes.
#[derive(Debug, Clone)]
pub struct SpanHead {
    pub resource: Arc<Resource>,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub status_error: bool,
    pub links: Vec<(TraceId, SpanId)>,
}

impl SpanHead {
    /// A head with the given ids and kind, no times, status or links (tests, tools).
    pub fn new(
        resource: Arc<Resource>,
        trace_id: TraceId,
        span_id: SpanId,
        parent: Option<SpanId>,
        kind: SpanKind,
    ) -> SpanHead {
        SpanHead {
            resource,
            trace_id,
            span_id,
            parent,
            kind,
            start_unix_nano: 0,
            end_unix_nano: 0,
            status_error: false,
            links: Vec::new(),
        }
    }
}

/// Collects a span's attributes (any order, old and new convention names) into the
/// fields of a [`Span`].
#[derive(Debug, Default)]
pub struct SpanBuilder<'a> {
    http_method: Option<Text<'a>>,
    http_route: Option<Text<'a>>,
    url_template: Option<Text<'a>>,
    http_status: Option<i64>,
    rpc_system: Option<Text<'a>>,
    rpc_service: Option<Text<'a>>,
    rpc_method: Option<Text<'a>>,
    grpc_status: Option<i64>,
    db_system: Option<Text<'a>>,
    db_namespace: Option<Text<'a>>,
    db_operation: Option<Text<'a>>,
    messaging_system: Option<Text<'a>>,
    messaging_destination: Option<Text<'a>>,
    peer_service: Option<Text<'a>>,
    server_address: Option<Text<'a>>,
    server_port: Option<i64>,
    network_peer: Option<Text<'a>>,
}

impl<'a> SpanBuilder<'a> {
    /// Reads one span attribute; keys no convention here names are ignored. Where an old
    /// and a new name both appear, the new one wins.
    pub fn attribute(&mut self, key: &str, value: Value<'a>) {
        match key {
            "http.request.method" => self.http_method = value.borrowed(),
            "http.method" => set_if_none(&mut self.http_method, value.borrowed()),
            "http.route" => self.http_route = value.borrowed(),
            "url.template" => self.url_template = value.borrowed(),
            "http.response.status_code" => self.http_status = value.int(),
            "http.status_code" if self.http_status.is_none() => self.http_status = value.int(),
            "rpc.system" | "rpc.system.name" => self.rpc_system = value.borrowed(),
            "rpc.service" => self.rpc_service = value.borrowed(),
            "rpc.method" => self.rpc_method = value.borrowed(),
            "rpc.grpc.status_code" => self.grpc_status = value.int(),
            "rpc.response.status_code" if self.grpc_status.is_none() => {
                self.grpc_status = match value {
                    Value::Str(s) => grpc_code(s).or_else(|| s.parse().ok()),
                    other => other.int(),
                }
            }
            "db.system.name" => self.db_system = value.borrowed(),
            "db.system" => set_if_none(&mut self.db_system, value.borrowed()),
            "db.namespace" => self.db_namespace = value.borrowed(),
            "db.name" => set_if_none(&mut self.db_namespace, value.borrowed()),
            "db.operation.name" => self.db_operation = value.borrowed(),
            "db.operation" => set_if_none(&mut self.db_operation, value.borrowed()),
            "messaging.system" => self.messaging_system = value.borrowed(),
            "messaging.destination.name" => self.messaging_destination = value.borrowed(),
            "messaging.destination" => {
                set_if_none(&mut self.messaging_destination, value.borrowed())
            }
            "service.peer.name" => self.peer_service = value.borrowed(),
            "peer.service" => set_if_none(&mut self.peer_service, value.borrowed()),
            "server.address" => self.server_address = value.borrowed(),
            "net.peer.name" => set_if_none(&mut self.server_address, value.borrowed()),
            "server.port" => self.server_port = value.int(),
            "net.peer.port" if self.server_port.is_none() => self.server_port = value.int(),
            "network.peer.address" => self.network_peer = value.borrowed(),
            "net.sock.peer.addr" => set_if_none(&mut self.network_peer, value.borrowed()),
            _ => {}
        }
    }

    /// The span: its head as sent, its protocol, operation and peer from the
    /// attributes read.
    pub fn build(self, head: SpanHead) -> Span {
        let kind = head.kind;
        let boxed = |s: &str| Box::<str>::from(cut(s, MAX_VALUE_BYTES));
        let lower = |s: &str| boxed(&s.to_ascii_lowercase());
        let protocol = if let Some(system) = &self.db_system {
            Protocol::Database(lower(system))
        } else if let Some(system) = &self.messaging_system {
            Protocol::Messaging(lower(system))
        } else if let Some(system) = &self.rpc_system {
            if system.eq_ignore_ascii_case("grpc") {
                Protocol::Grpc
            } else {
                Protocol::Rpc(lower(system))
            }
        } else if self.http_method.is_some() || self.http_status.is_some() {
            Protocol::Http
        } else {
            Protocol::Unknown
        };
        let operation: Option<Text<'_>> = match &protocol {
            Protocol::Database(_) => self.db_operation.clone(),
            Protocol::Messaging(_) => self.messaging_destination.clone(),
            Protocol::Grpc | Protocol::Rpc(_) => match (&self.rpc_service, &self.rpc_method) {
                // Newer conventions put the fully qualified method in `rpc.method`.
                (Some(service), Some(method)) if !method.contains('/') => {
                    Some(Text::Owned(format!("{service}/{method}")))
                }
                (_, Some(method)) => Some(method.clone()),
                (Some(service), None) => Some(service.clone()),
                (None, None) => None,
            },
            Protocol::Http | Protocol::Unknown => {
                // A route template on servers, a URL template on clients; never the path.
                let template = if kind.is_incoming() {
                    self.http_route.as_ref().or(self.url_template.as_ref())
                } else {
                    self.url_template.as_ref().or(self.http_route.as_ref())
                };
                match (&self.http_method, template) {
                    (Some(method), Some(route)) => Some(Text::Owned(format!("{method} {route}"))),
                    (Some(method), None) => Some(method.clone()),
                    (None, route) => route.cloned(),
                }
            }
        };
        let peer = match (&self.peer_service, &self.server_address, &self.network_peer) {
            (Some(name), _, _) => Some(boxed(name)),
            (None, Some(host), _) => Some(match self.server_port {
                Some(port) => boxed(&format!("{host}:{port}")),
                None => boxed(host),
            }),
            (None, None, address) => address.as_deref().map(boxed),
        };
        Span {
            resource: head.resource,
            trace_id: head.trace_id,
            span_id: head.span_id,
            parent: head.parent,
            kind,
            start_unix_nano: head.start_unix_nano,
            end_unix_nano: head.end_unix_nano,
            status_error: head.status_error,
            protocol,
            http_status: self.http_status,
            grpc_status: self.grpc_status,
            operation: operation.as_deref().map(boxed),
            peer,
            peer_service: self.peer_service.as_deref().map(boxed),
            db_namespace: self.db_namespace.as_deref().map(boxed),
            links: head.links,
        }
    }
}

fn set_if_none<'a>(slot: &mut Option<Text<'a>>, value: Option<Text<'a>>) {
    if slot.is_none() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(kind: SpanKind) -> SpanHead {
        let resource = Arc::new(ResourceBuilder::default().build());
        SpanHead::new(resource, [1; 16], [1; 8], None, kind)
    }

    #[test]
    fn new_names_win_over_old_ones_in_any_order() {
        let mut b = SpanBuilder::default();
        b.attribute("http.method", Value::Str("POST"));
        b.attribute("http.request.method", Value::Str("GET"));
        b.attribute("http.route", Value::Str("/users/{id}"));
        b.attribute("http.status_code", Value::Int(404));
        b.attribute("http.response.status_code", Value::Int(503));
        b.attribute("url.full", Value::Str("http://x/users/42"));
        let span = b.build(head(SpanKind::Server));
        assert_eq!(span.protocol, Protocol::Http);
        assert_eq!(span.http_status, Some(503));
        assert_eq!(span.operation.as_deref(), Some("GET /users/{id}"));
    }

    #[test]
    fn grpc_methods_old_and_new() {
        let mut b = SpanBuilder::default();
        b.attribute("rpc.system", Value::Str("grpc"));
        b.attribute("rpc.service", Value::Str("shop.Cart"));
        b.attribute("rpc.method", Value::Str("Add"));
        b.attribute("rpc.grpc.status_code", Value::Int(14));
        let span = b.build(head(SpanKind::Server));
        assert_eq!(span.protocol, Protocol::Grpc);
        assert_eq!(span.grpc_status, Some(14));
        assert_eq!(span.operation.as_deref(), Some("shop.Cart/Add"));

        let mut b = SpanBuilder::default();
        b.attribute("rpc.system.name", Value::Str("grpc"));
        b.attribute("rpc.method", Value::Str("shop.Cart/Add"));
        b.attribute("rpc.response.status_code", Value::Str("DATA_LOSS"));
        let span = b.build(head(SpanKind::Client));
        assert_eq!(span.grpc_status, Some(15));
        assert_eq!(span.operation.as_deref(), Some("shop.Cart/Add"));
    }

    #[test]
    fn peers_by_priority_and_databases() {
        let mut b = SpanBuilder::default();
        b.attribute("server.address", Value::Str("db.internal"));
        b.attribute("server.port", Value::Int(5432));
        b.attribute("db.system", Value::Str("PostgreSQL"));
        b.attribute("db.name", Value::Str("orders"));
        b.attribute("db.operation.name", Value::Str("SELECT"));
        let span = b.build(head(SpanKind::Client));
        assert_eq!(span.protocol, Protocol::Database("postgresql".into()));
        assert!(span.is_database_call());
        assert_eq!(span.operation.as_deref(), Some("SELECT"));
        assert_eq!(span.peer.as_deref(), Some("db.internal:5432"));
        assert_eq!(span.db_namespace.as_deref(), Some("orders"));

        let mut b = SpanBuilder::default();
        b.attribute("server.address", Value::Str("10.0.0.1"));
        b.attribute("peer.service", Value::Str("external-platform"));
        let span = b.build(head(SpanKind::Client));
        assert_eq!(span.peer.as_deref(), Some("external-platform"));
    }

    #[test]
    fn errors_follow_the_kind() {
        assert_eq!(&*head(SpanKind::Server).resource.service, "unknown_service");
        let span = |kind, http: Option<i64>, grpc: Option<i64>| {
            let mut b = SpanBuilder::default();
            if let Some(status) = http {
                b.attribute("http.response.status_code", Value::Int(status));
            }
            if let Some(code) = grpc {
                b.attribute("rpc.grpc.status_code", Value::Int(code));
            }
            b.build(head(kind))
        };
        assert!(!span(SpanKind::Server, Some(404), None).is_error());
        assert!(span(SpanKind::Client, Some(404), None).is_error());
        assert!(span(SpanKind::Server, Some(500), None).is_error());
        assert!(span(SpanKind::Server, None, Some(14)).is_error());
        assert!(!span(SpanKind::Server, None, Some(5)).is_error());
    }

    #[test]
    fn long_values_are_cut_at_character_boundaries() {
        let s = "é".repeat(100);
        let c = cut(&s, 129);
        assert_eq!(c.len(), 128);
        assert!(s.starts_with(c));
    }
}
