-- Where each catalog entry came from (a file path, `api`, a discovery URL), so that a
-- source can remove what it alone declared; when discovery stopped finding a service;
-- and a revision history for every entity, not only services.
ALTER TABLE services ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN stale_since TEXT;
ALTER TABLE manifest_revisions ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE entities ADD COLUMN origin TEXT NOT NULL DEFAULT '';

CREATE TABLE entity_revisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    spec         TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    submitted_by TEXT    NOT NULL DEFAULT '',
    origin       TEXT    NOT NULL DEFAULT '',
    valid_from   TEXT    NOT NULL,
    valid_to     TEXT,
    UNIQUE (kind, name, revision)
);
INSERT INTO entity_revisions (kind, name, revision, spec, source, valid_from)
    SELECT kind, name, 1, spec, source, updated_at FROM entities;
CREATE INDEX services_origin ON services (origin);
CREATE INDEX entities_origin ON entities (origin);
