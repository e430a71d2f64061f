-- Manifests: the catalog's fields on services, every accepted manifest revision with its
-- validity interval, and the other catalog entities (APIs, systems, domains, teams,
-- resources). SQLite cannot drop NOT NULL, so `services` is rebuilt.
CREATE TABLE services_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    version       TEXT,
    owner         TEXT    NOT NULL,
    domain        TEXT,
    system        TEXT,
    lifecycle     TEXT    NOT NULL DEFAULT 'unspecified',
    kind          TEXT    NOT NULL DEFAULT 'service',
    description   TEXT,
    source        TEXT    NOT NULL DEFAULT 'api',
    manifest      TEXT    NOT NULL DEFAULT '{}',
    revision      INTEGER NOT NULL DEFAULT 1,
    registered_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
INSERT INTO services_new (id, name, version, owner, registered_at, updated_at)
    SELECT id, name, version, owner, registered_at, updated_at FROM services;
DROP TABLE services;
ALTER TABLE services_new RENAME TO services;
CREATE INDEX services_owner ON services (owner);
CREATE INDEX services_domain ON services (domain);
CREATE INDEX services_system ON services (system);

CREATE TABLE manifest_revisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service      TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    manifest     TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    valid_from   TEXT    NOT NULL,
    valid_to     TEXT,
    UNIQUE (service, revision)
);
INSERT INTO manifest_revisions (service, revision, manifest, source, valid_from)
    SELECT name, 1, manifest, source, registered_at FROM services;

CREATE TABLE entities (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    owner      TEXT,
    spec       TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
