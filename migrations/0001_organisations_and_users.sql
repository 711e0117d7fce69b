-- Organisations and the people in them. Portable SQL: runs unchanged on SQLite,
-- PostgreSQL and MariaDB/MySQL (table-level foreign keys, VARCHAR for unique text).
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name VARCHAR(120) NOT NULL,
    slug VARCHAR(80) NOT NULL UNIQUE,
    plan VARCHAR(10) NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'team', 'enterprise')),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(120) NOT NULL,
    timezone VARCHAR(64),
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at TIMESTAMP
);

-- Many-to-many with a composite primary key.
CREATE TABLE memberships (
    organisation_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    role VARCHAR(10) NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    joined_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (organisation_id, user_id),
    FOREIGN KEY (organisation_id) REFERENCES organisations (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
);
