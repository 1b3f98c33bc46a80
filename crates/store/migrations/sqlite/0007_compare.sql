-- Data comparison (信息比对): departments' deliveries of data sets (the feed ledger), the rule
-- library's versions, comparison runs, the risk clues (风险线索) they raise with their routing
-- and verification outcome, and the rows a person must match by hand (the review queue, whose
-- decisions later runs remember).
CREATE TABLE feed_delivery (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    -- The month whose deadline the delivery answers ("2024-04").
    due_month TEXT NOT NULL,
    -- The uploaded file names, one per line.
    files TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    byte_count INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    -- The files, sealed with the data key, under the data directory.
    stored_as TEXT NOT NULL,
    -- The normalisation report, in Chinese.
    report TEXT NOT NULL,
    delivered_by TEXT NOT NULL,
    delivered_at INTEGER NOT NULL
);
CREATE INDEX feed_delivery_kind ON feed_delivery (kind, due_month);

CREATE TABLE compare_ruleset (
    id INTEGER PRIMARY KEY,
    policy_year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    note TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at INTEGER NOT NULL,
    UNIQUE (policy_year, version)
);

CREATE TABLE compare_run (
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,
    -- "2024 年第 1 版" or "内置默认规则".
    ruleset TEXT NOT NULL,
    -- The deliveries read, by id, comma-separated.
    deliveries TEXT NOT NULL,
    summary TEXT NOT NULL,
    clue_count INTEGER NOT NULL,
    review_count INTEGER NOT NULL,
    millis INTEGER NOT NULL,
    started_by TEXT NOT NULL,
    started_at INTEGER NOT NULL
);

CREATE TABLE risk_clue (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES compare_run (id),
    rule TEXT NOT NULL,
    title TEXT NOT NULL,
    -- A risk type code, or eligibility_doubt.
    finding TEXT NOT NULL,
    severity TEXT NOT NULL,
    -- A keyed hash of the rule and the subject (household number or ID number): an open clue
    -- is not raised again, and no clear ID number is stored to find it.
    clue_key TEXT NOT NULL,
    household_id INTEGER REFERENCES household (id),
    township_id INTEGER REFERENCES unit (id),
    -- JSON: each person's name, masked and sealed ID number, match method and confidence.
    subjects TEXT NOT NULL,
    method TEXT NOT NULL,
    -- The lowest confidence of its people, in thousandths.
    confidence INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'dismissed')),
    outcome_by TEXT,
    outcome_at INTEGER,
    outcome_note TEXT,
    warning_id INTEGER REFERENCES warning (id),
    created_at INTEGER NOT NULL
);
CREATE INDEX risk_clue_key ON risk_clue (clue_key, status);
CREATE INDEX risk_clue_rule ON risk_clue (rule, status);
CREATE INDEX risk_clue_township ON risk_clue (township_id, status);

-- The departments a clue goes to.
CREATE TABLE risk_clue_route (
    clue_id INTEGER NOT NULL REFERENCES risk_clue (id),
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    PRIMARY KEY (clue_id, unit_id)
);
CREATE INDEX risk_clue_route_unit ON risk_clue_route (unit_id);

CREATE TABLE match_review (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES compare_run (id),
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    row_no INTEGER NOT NULL,
    -- The ID as the file gives it, masked.
    raw_masked TEXT NOT NULL,
    name TEXT NOT NULL,
    -- A keyed hash of the raw ID text and the name: the same row in next month's file finds
    -- this decision.
    pair_key TEXT NOT NULL,
    -- JSON: each candidate's person id, name, masked ID, household number and confidence.
    candidates TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected')),
    person_id INTEGER REFERENCES person (id),
    decided_by TEXT,
    decided_at INTEGER
);
CREATE INDEX match_review_key ON match_review (pair_key, status);
