-- Each revision keeps the document that declared it, as normalised YAML in the author's
-- own field names; revision diffs compare these. Empty for revisions stored before.
ALTER TABLE manifest_revisions ADD COLUMN document TEXT NOT NULL DEFAULT '';
