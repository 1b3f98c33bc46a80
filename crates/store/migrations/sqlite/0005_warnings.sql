-- Early warnings (信息预警): pushed by a department or another system about a household or a
-- person, signed for (签收) by every receiving unit, verified by the township, then ended in
-- assistance or dismissed with a reason.
CREATE TABLE warning (
    id INTEGER PRIMARY KEY,
    household_id INTEGER REFERENCES household (id),
    person_id INTEGER REFERENCES person (id),
    township_id INTEGER NOT NULL REFERENCES unit (id),
    risk_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    evidence TEXT NOT NULL,
    -- The department that raised it; NULL when another system sent it.
    raised_by_unit INTEGER REFERENCES unit (id),
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'verified', 'assisted', 'dismissed')),
    sign_due INTEGER NOT NULL,
    verify_due INTEGER NOT NULL,
    verified_by TEXT,
    verified_at INTEGER,
    verify_note TEXT,
    closed_by TEXT,
    closed_at INTEGER,
    close_reason TEXT,
    event_id INTEGER REFERENCES score_event (id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX warning_township ON warning (township_id, status);

CREATE TABLE warning_receipt (
    warning_id INTEGER NOT NULL REFERENCES warning (id),
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    signed_by TEXT,
    signed_at INTEGER,
    PRIMARY KEY (warning_id, unit_id)
);
CREATE INDEX warning_receipt_unit ON warning_receipt (unit_id, signed_at);

-- Which departments receive warnings of each risk type (a setting, seeded from the duties).
CREATE TABLE warning_route (
    risk_type TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    PRIMARY KEY (risk_type, department_id)
);
