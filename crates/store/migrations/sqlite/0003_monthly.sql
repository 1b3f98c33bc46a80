-- The monthly activities (五个一 items 1-3): self-inspection, the rectification ledger,
-- township scoring, meetings, verification, assignments and required submissions.

-- 自查方案和评分细则 of a department: every save is a new version, the latest is current.
CREATE TABLE inspection_plan (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
CREATE INDEX inspection_plan_department ON inspection_plan (department_id, id);

-- A department's monthly reports: the self-inspection report (月自查) and the summary (月小结).
-- Whether it was on time is judged by the first submission.
CREATE TABLE monthly_report (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    month TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('inspection', 'summary')),
    body TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (department_id, month, kind)
);

-- The problem list and rectification ledger (问题清单、整改台账). The duty is kept as its
-- number and text at the time, so later edits of the duty list do not rewrite history.
CREATE TABLE problem (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES unit (id),
    month TEXT NOT NULL,
    duty_no INTEGER NOT NULL,
    duty_text TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('self', 'verification')),
    description TEXT NOT NULL,
    measure TEXT NOT NULL,
    responsible TEXT NOT NULL,
    deadline TEXT NOT NULL,
    long_term INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('open', 'rectified', 'closed')),
    evidence TEXT,
    rectified_by TEXT,
    rectified_at INTEGER,
    closed_by TEXT,
    closed_at INTEGER,
    reopened INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX problem_department ON problem (department_id, month);
CREATE INDEX problem_deadline ON problem (deadline);

-- A close-type department's monthly score of each township (紧密型部门对乡镇评分排名).
CREATE TABLE township_score (
    department_id INTEGER NOT NULL REFERENCES unit (id),
    month TEXT NOT NULL,
    township_id INTEGER NOT NULL REFERENCES unit (id),
    score TEXT NOT NULL,
    note TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    entered_at INTEGER NOT NULL,
    PRIMARY KEY (department_id, month, township_id)
);

-- The office's meetings (交流会、推进会、观摩会) with attendance per department.
CREATE TABLE meeting (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('exchange', 'progress', 'observation')),
    held_on TEXT NOT NULL,
    title TEXT NOT NULL,
    agenda TEXT NOT NULL,
    minutes TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE meeting_attendance (
    meeting_id INTEGER NOT NULL REFERENCES meeting (id),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    attendance TEXT NOT NULL CHECK (attendance IN ('present', 'absent', 'improper')),
    note TEXT NOT NULL,
    PRIMARY KEY (meeting_id, department_id)
);

-- Follow-up tasks of a meeting's decisions, each with an owner and a deadline.
CREATE TABLE follow_up_task (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meeting (id),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    title TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'done')),
    result TEXT,
    done_by TEXT,
    done_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Assignments (交办) and petition / opinion incidents (信访舆情) handed to a department.
CREATE TABLE assignment (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'petition', 'opinion')),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    deadline TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'reported', 'confirmed')),
    report TEXT,
    reported_by TEXT,
    reported_at INTEGER,
    confirmed_by TEXT,
    confirmed_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- A monthly verification (月核查) by a team the office forms.
CREATE TABLE verification (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    team TEXT NOT NULL,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Each random draw of what to spot-check, with its seed so it can be shown how it came about;
-- the latest draw is the one in force.
CREATE TABLE verification_draw (
    id INTEGER PRIMARY KEY,
    verification_id INTEGER NOT NULL REFERENCES verification (id),
    seed TEXT NOT NULL,
    departments TEXT NOT NULL,
    problems TEXT NOT NULL,
    drawn_by TEXT NOT NULL,
    drawn_at INTEGER NOT NULL
);

CREATE TABLE verification_finding (
    id INTEGER PRIMARY KEY,
    verification_id INTEGER NOT NULL REFERENCES verification (id),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    problem_id INTEGER REFERENCES problem (id),
    assignment_id INTEGER REFERENCES assignment (id),
    outcome TEXT NOT NULL CHECK (outcome IN ('rectified', 'unrectified', 'new_problem', 'other')),
    rule TEXT,
    description TEXT NOT NULL,
    evidence TEXT NOT NULL,
    -- The score event the finding proposed, if any.
    event_id INTEGER REFERENCES score_event (id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- What the office requires departments to submit by when (资料报送), and each department's part.
CREATE TABLE submission_requirement (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE submission_target (
    requirement_id INTEGER NOT NULL REFERENCES submission_requirement (id),
    department_id INTEGER NOT NULL REFERENCES unit (id),
    submitted_by TEXT,
    submitted_at INTEGER,
    note TEXT,
    PRIMARY KEY (requirement_id, department_id)
);

-- Months the office has closed; closing proposes the automatic score events.
CREATE TABLE month_close (
    month TEXT PRIMARY KEY,
    closed_by TEXT NOT NULL,
    closed_at INTEGER NOT NULL,
    proposals INTEGER NOT NULL
);
