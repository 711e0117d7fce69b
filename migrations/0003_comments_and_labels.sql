CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL,
    author_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (task_id) REFERENCES tasks (id),
    FOREIGN KEY (author_id) REFERENCES users (id)
);

CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL,
    name VARCHAR(40) NOT NULL,
    color VARCHAR(7) NOT NULL,
    UNIQUE (organisation_id, name),
    FOREIGN KEY (organisation_id) REFERENCES organisations (id)
);

CREATE TABLE task_labels (
    task_id INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    PRIMARY KEY (task_id, label_id),
    FOREIGN KEY (task_id) REFERENCES tasks (id),
    FOREIGN KEY (label_id) REFERENCES labels (id)
);
