-- The rule table of attachment 4 as versioned data (评分细则): an event keeps its version.
CREATE TABLE rule_version (
    id INTEGER PRIMARY KEY,
    effective_from TEXT NOT NULL UNIQUE,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Magnitudes in half points; level is '' for rules without levels.
CREATE TABLE rule_point (
    version_id INTEGER NOT NULL REFERENCES rule_version (id),
    rule TEXT NOT NULL,
    level TEXT NOT NULL,
    halves INTEGER NOT NULL CHECK (halves > 0),
    PRIMARY KEY (version_id, rule, level)
);

-- Score events (加减分事项). Never edited: a withdrawal is a new entry that cancels one.
CREATE TABLE score_event (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    month TEXT NOT NULL,
    rule TEXT NOT NULL,
    level TEXT,
    count INTEGER NOT NULL CHECK (count >= 1),
    points_halves INTEGER NOT NULL,
    rule_version_id INTEGER NOT NULL REFERENCES rule_version (id),
    note TEXT NOT NULL,
    doc_no TEXT,
    occurred_on TEXT,
    withdraws INTEGER REFERENCES score_event (id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Events the platform proposes from facts it knows wait for the office: only confirmed
    -- events count. `fact` names what the proposal rests on.
    status TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('proposed', 'confirmed', 'rejected')),
    fact TEXT,
    decided_by TEXT,
    decided_at INTEGER,
    decision_note TEXT
);
CREATE INDEX score_event_month ON score_event (month, department_id);
CREATE UNIQUE INDEX score_event_withdrawn_once ON score_event (withdraws);

-- The task-force office's extended evaluation (延伸评价) and the external evaluations that rank
-- 县乡村振兴局 and 县财政局, per quarter, as exact decimal text.
CREATE TABLE evaluation (
    quarter TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    kind TEXT NOT NULL CHECK (kind IN ('extended', 'external')),
    score TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    entered_at INTEGER NOT NULL,
    PRIMARY KEY (quarter, department_id, kind)
);

-- The workflow of a quarter's ranking: draft -> submitted -> approved -> published.
CREATE TABLE ranking_period (
    quarter TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'published')),
    submitted_by TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    appeal_deadline INTEGER NOT NULL,
    approved_by TEXT,
    approved_at INTEGER,
    published_by TEXT,
    published_at INTEGER
);

-- Appeals (申诉) of a department against one event of a submitted quarter.
CREATE TABLE appeal (
    id INTEGER PRIMARY KEY,
    quarter TEXT NOT NULL,
    event_id INTEGER NOT NULL REFERENCES score_event (id),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'upheld', 'rejected')),
    filed_by TEXT NOT NULL,
    filed_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    decision_reason TEXT
);
CREATE UNIQUE INDEX appeal_one_per_event ON appeal (event_id);

-- Delivery of a published ranking to each department's principal (送达), and its acknowledgement.
CREATE TABLE ranking_ack (
    quarter TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    acknowledged_by TEXT NOT NULL,
    acknowledged_at INTEGER NOT NULL,
    PRIMARY KEY (quarter, department_id)
);

-- Departments the office flags by hand for the county-wide bulletin (因工作疏忽造成严重影响).
CREATE TABLE lapse_flag (
    quarter TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    reason TEXT NOT NULL,
    flagged_by TEXT NOT NULL,
    flagged_at INTEGER NOT NULL,
    PRIMARY KEY (quarter, department_id)
);

-- Files imported (by content hash), so that uploading the same file again changes nothing.
CREATE TABLE import_batch (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    rows INTEGER NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    UNIQUE (kind, file_hash)
);

-- Files attached to records (the evidence of a score event, for example). The content lives
-- under the data directory, named by its SHA-256.
CREATE TABLE attachment (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL
);
CREATE INDEX attachment_owner ON attachment (owner);
