-- The household roster (脱贫户 and 监测对象). ID and phone numbers are stored encrypted
-- (`*_sealed`), found through a keyed hash (`*_lookup`) and shown masked (`*_masked`).
CREATE TABLE household (
    id INTEGER PRIMARY KEY,
    household_no TEXT NOT NULL UNIQUE,
    township_id INTEGER NOT NULL REFERENCES unit (id),
    village TEXT NOT NULL,
    village_group TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('exited', 'unstable', 'marginal', 'sudden_hardship')),
    stage TEXT NOT NULL CHECK (stage IN ('none', 'identified', 'assisted', 'cleared')),
    identified_on TEXT,
    assisted_on TEXT,
    cleared_on TEXT,
    risk_types TEXT NOT NULL,
    measures TEXT NOT NULL,
    cadre TEXT NOT NULL,
    -- 0 once a newer export no longer lists the household; kept for its history.
    active INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL
);
CREATE INDEX household_township ON household (township_id, active);

CREATE TABLE person (
    id INTEGER PRIMARY KEY,
    household_id INTEGER NOT NULL REFERENCES household (id),
    name TEXT NOT NULL,
    id_lookup TEXT NOT NULL UNIQUE,
    id_sealed TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    relation TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    phone_lookup TEXT,
    phone_sealed TEXT,
    phone_masked TEXT,
    health TEXT NOT NULL,
    disability TEXT NOT NULL,
    labour TEXT NOT NULL,
    schooling TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX person_household ON person (household_id);

-- Each move of a household through the monitoring lifecycle, with its date.
CREATE TABLE household_stage (
    id INTEGER PRIMARY KEY,
    household_id INTEGER NOT NULL REFERENCES household (id),
    stage TEXT NOT NULL,
    on_date TEXT NOT NULL,
    note TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX household_stage_household ON household_stage (household_id, id);
