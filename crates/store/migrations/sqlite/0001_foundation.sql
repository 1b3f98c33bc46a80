-- Units: the county departments (行业部门) and townships (乡镇) users are bound to.
CREATE TABLE unit (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('department', 'township')),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    category TEXT CHECK (category IN ('close', 'related', 'emergency')),
    sort_order INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    CHECK ((kind = 'department') = (category IS NOT NULL))
);

-- A department's duty list (职责清单), numbered as in the work plan.
CREATE TABLE duty (
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    no INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (unit_id, no)
);

-- 第一责任人 / 具体责任人 / 直接责任人 of a department.
CREATE TABLE responsible_person (
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    kind TEXT NOT NULL CHECK (kind IN ('principal', 'in_charge', 'direct')),
    name TEXT NOT NULL,
    post TEXT NOT NULL,
    PRIMARY KEY (unit_id, kind)
);

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE user_unit (
    user_id INTEGER NOT NULL REFERENCES app_user (id),
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    PRIMARY KEY (user_id, unit_id)
);

-- Only a hash of the session token is kept: a copy of the database signs nobody in.
CREATE TABLE session (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user (id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX session_user ON session (user_id);

-- Every sign-in attempt (登录日志), whether or not the user exists.
CREATE TABLE login_attempt (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    username TEXT NOT NULL,
    user_id INTEGER,
    source TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX login_attempt_username_at ON login_attempt (username, at);

-- Lockout state per user name (existing or not); failures count only after the attempt
-- reset_after_id (the last attempt when a sign-in succeeded or the lock was set or lifted).
CREATE TABLE login_lock (
    username TEXT PRIMARY KEY,
    locked_until INTEGER NOT NULL,
    reset_after_id INTEGER NOT NULL
);

-- The operation log (操作日志): append-only and hash-chained.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The chain's head: one row, updated in the same transaction as each append, which also
-- serialises appends.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Notices (通知公告) from the office, to everyone or to chosen units.
CREATE TABLE notice (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    published_at INTEGER NOT NULL
);
CREATE TABLE notice_target (
    notice_id INTEGER NOT NULL REFERENCES notice (id),
    unit_id INTEGER NOT NULL REFERENCES unit (id),
    PRIMARY KEY (notice_id, unit_id)
);
CREATE TABLE notice_read (
    notice_id INTEGER NOT NULL REFERENCES notice (id),
    user_id INTEGER NOT NULL REFERENCES app_user (id),
    read_at INTEGER NOT NULL,
    PRIMARY KEY (notice_id, user_id)
);

-- Facts about the database itself (for example that it holds the synthetic demo county).
CREATE TABLE app_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
