-- Manifests: the catalog's fields on services, every accepted manifest revision with its
-- validity interval, and the other catalog entities (APIs, systems, domains, teams,
-- resources).
ALTER TABLE services
    ALTER COLUMN version DROP NOT NULL,
    ADD COLUMN domain      TEXT,
    ADD COLUMN system      TEXT,
    ADD COLUMN lifecycle   TEXT   NOT NULL DEFAULT 'unspecified',
    ADD COLUMN kind        TEXT   NOT NULL DEFAULT 'service',
    ADD COLUMN description TEXT,
    ADD COLUMN source      TEXT   NOT NULL DEFAULT 'api',
    ADD COLUMN manifest    TEXT   NOT NULL DEFAULT '{}',
    ADD COLUMN revision    BIGINT NOT NULL DEFAULT 1;
CREATE INDEX services_domain ON services (domain);
CREATE INDEX services_system ON services (system);

CREATE TABLE manifest_revisions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service      TEXT        NOT NULL,
    revision     BIGINT      NOT NULL,
    manifest     TEXT        NOT NULL,
    source       TEXT        NOT NULL,
    valid_from   TIMESTAMPTZ NOT NULL,
    valid_to     TIMESTAMPTZ,
    UNIQUE (service, revision)
);
INSERT INTO manifest_revisions (service, revision, manifest, source, valid_from)
    SELECT name, 1, manifest, source, registered_at FROM services;

CREATE TABLE entities (
    kind       TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    owner      TEXT,
    spec       TEXT        NOT NULL,
    source     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, name)
);
