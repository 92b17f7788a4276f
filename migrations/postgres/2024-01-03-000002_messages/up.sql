CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    sender_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    receiver_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    read_at TIMESTAMP
);
CREATE INDEX messages_receiver_newest ON messages (receiver_id, id);
CREATE INDEX messages_sender_newest ON messages (sender_id, id);
CREATE INDEX messages_receiver_unread ON messages (receiver_id, is_read);
