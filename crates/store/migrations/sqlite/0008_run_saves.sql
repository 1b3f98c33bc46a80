-- A run's clues and review items are written in many transactions. They stay unseen
-- (saved = 0) until the run's last transaction marks them saved, so a save cut short leaves
-- nothing anyone can see or act on; the next run removes what such a save left.
ALTER TABLE risk_clue ADD COLUMN saved INTEGER NOT NULL DEFAULT 1;
ALTER TABLE match_review ADD COLUMN saved INTEGER NOT NULL DEFAULT 1;
CREATE INDEX risk_clue_unsaved ON risk_clue (run_id) WHERE saved = 0;
CREATE INDEX match_review_unsaved ON match_review (run_id) WHERE saved = 0;
