CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL,
    name VARCHAR(120) NOT NULL,
    description TEXT,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (organisation_id, name),
    FOREIGN KEY (organisation_id) REFERENCES organisations (id)
);

-- Tasks form a tree: parent_id is a nullable self-reference.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    parent_id INTEGER,
    assignee_id INTEGER,
    title VARCHAR(200) NOT NULL,
    status VARCHAR(12) NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'review', 'done')),
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    estimate_hours DECIMAL(6, 2) CHECK (estimate_hours >= 0),
    due_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (project_id) REFERENCES projects (id),
    FOREIGN KEY (parent_id) REFERENCES tasks (id),
    FOREIGN KEY (assignee_id) REFERENCES users (id)
);

CREATE INDEX tasks_project_status ON tasks (project_id, status);
