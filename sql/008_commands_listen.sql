-- Issue 12: one typed engine-command contract (dialer/commands.py), one LISTEN helper (dialer/listen.py).

-- The wrap-up's postpone and do-not-call now travel in the command's payload through the engine to the
-- store; nothing reads the wrap-up command back from this table, so its lookup index goes.
DROP INDEX IF EXISTS engine_command_wrap_up_idx;

-- `dialer_event` was NOTIFYed on operator, attempt and alert changes, and nothing ever listened: the live
-- updates come from `live_event` (sql/004, 006). Each NOTIFY cost a queue entry in the writer's commit.
DROP TRIGGER IF EXISTS operator_event_notify ON operator;
DROP TRIGGER IF EXISTS attempt_event_notify ON attempt;
DROP TRIGGER IF EXISTS alert_event_notify ON alert;
DROP FUNCTION IF EXISTS dialer_event_notify();
