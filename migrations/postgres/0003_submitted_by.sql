-- Who submitted each revision: the API token's name, the collector, or `open` when no
-- tokens are configured. Empty for revisions stored before it was recorded.
ALTER TABLE manifest_revisions ADD COLUMN submitted_by TEXT NOT NULL DEFAULT '';
