DROP TABLE event_attendees;
DROP TABLE events;
