-- Services registered in the catalog. Times are UTC, RFC 3339 text (sqlx's chrono mapping).
CREATE TABLE services (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    version       TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    registered_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE INDEX services_owner ON services (owner);
