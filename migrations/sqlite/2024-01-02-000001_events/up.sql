CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    date TIMESTAMP NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    organizer_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    capacity BIGINT CHECK (capacity IS NULL OR capacity >= 1)
);
-- Titles are unique ignoring case: title_key is the lower-cased title.
CREATE UNIQUE INDEX events_title_key_unique ON events (title_key);
-- GET /events/: ORDER BY date, id with date bounds, read in index order.
CREATE INDEX events_date_id ON events (date, id);
CREATE INDEX events_organizer_id ON events (organizer_id);

CREATE TABLE event_attendees (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_attendees_user_id ON event_attendees (user_id);
