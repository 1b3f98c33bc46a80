-- A run's clues and review items are seen only once the run is listed (its summary written
-- last), so a save cut short leaves nothing anyone can see or act on; a later run removes what
-- it left, found by run.
CREATE INDEX risk_clue_run ON risk_clue (run_id);
CREATE INDEX match_review_run ON match_review (run_id);
