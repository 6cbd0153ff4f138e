-- pvault remote store, schema version 1 (normative: remote-format.md, section 3).
-- Applied by pvault in one transaction on an empty database schema (`pvault remote add`),
-- or by a database administrator ahead of time with the same text.
-- Every column the server can read is a random id, a size, a time, a format number, a
-- counter of writes, or ciphertext; profile names, snapshot order and content are sealed.

CREATE TABLE pvault_store (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    magic          text    NOT NULL CHECK (magic = 'pvault-remote-store'),
    schema_version integer NOT NULL,                       -- 1
    store_id       bytea   NOT NULL CHECK (length(store_id) = 16),
    created_at     bigint  NOT NULL,                       -- Unix ms
    key_check      bytea   NOT NULL                        -- sealed under the team key
);

CREATE TABLE pvault_profiles (
    profile_id  bytea   PRIMARY KEY CHECK (length(profile_id) = 16),
    name_hash   bytea   NOT NULL UNIQUE CHECK (length(name_hash) = 32),
    key_version integer NOT NULL,                          -- 1
    wrapped_dk  bytea   NOT NULL,                          -- sealed profile data key
    head_id     bytea   NOT NULL CHECK (length(head_id) = 16),  -- random, new at every write
    head        bytea   NOT NULL,                          -- sealed head record
    fence       bigint  NOT NULL CHECK (fence >= 0),       -- fencing number of the last write
    created_at  bigint  NOT NULL,                          -- Unix ms
    updated_at  bigint  NOT NULL                           -- Unix ms
);

CREATE TABLE pvault_snapshots (
    profile_id     bytea   NOT NULL REFERENCES pvault_profiles (profile_id) ON DELETE CASCADE,
    snapshot_id    bytea   NOT NULL CHECK (length(snapshot_id) = 16),
    schema_version integer NOT NULL,                       -- snapshot schema (vault-format.md 6.1)
    created_at     bigint  NOT NULL,                       -- Unix ms
    size_bytes     bigint  NOT NULL CHECK (size_bytes >= 0),
    info           bytea   NOT NULL,                       -- sealed snapshot info
    body           bytea   NOT NULL,                       -- sealed snapshot body
    PRIMARY KEY (profile_id, snapshot_id)
);

CREATE TABLE pvault_leases (
    profile_id  bytea       PRIMARY KEY REFERENCES pvault_profiles (profile_id) ON DELETE CASCADE,
    fence       bigint      NOT NULL CHECK (fence >= 1),   -- grows by one at every acquisition
    holder_id   bytea       CHECK (length(holder_id) = 16),-- random per acquisition; NULL: free
    holder      bytea,                                     -- sealed holder (host, session)
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL                       -- server clock
);
