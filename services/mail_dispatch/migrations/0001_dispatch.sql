-- Mails to send, rendered once (S/MIME as sent; a mail with a secret is always encrypted), with
-- their delivery state. The id is stable per source event and kind, and names the Message-ID.
CREATE TABLE mail (
    dispatch_id     text PRIMARY KEY,
    source_event_id text NOT NULL,
    source_topic    text NOT NULL,
    source_payload  text NOT NULL,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    message         bytea NOT NULL,
    encrypted       boolean NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX mail_due ON mail (next_attempt_at) WHERE status = 'pending';

-- Letters put in the print spool (the file name, never the content).
CREATE TABLE letter (
    dispatch_id     text PRIMARY KEY,
    source_event_id text NOT NULL,
    kind            text NOT NULL,
    addressee       text NOT NULL,
    spool_file      text NOT NULL,
    created_at      timestamptz NOT NULL
);
