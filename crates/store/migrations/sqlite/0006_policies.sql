-- Policy sharing (政策共享): policies departments post, with the county's follow-up, and the
-- terms each is found under (Han bigrams and Latin words) for full-text search in Chinese.
CREATE TABLE policy (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    level TEXT NOT NULL CHECK (level IN ('national', 'province', 'city', 'county')),
    issuer TEXT NOT NULL,
    doc_no TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    follow_up TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX policy_department ON policy (department_id, created_at);

CREATE TABLE policy_term (
    term TEXT NOT NULL,
    policy_id INTEGER NOT NULL REFERENCES policy (id),
    PRIMARY KEY (term, policy_id)
);
