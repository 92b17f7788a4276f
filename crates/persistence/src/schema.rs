// Types both backends share: BigInt ids, Text, Bool, Timestamp.

diesel::table! {
    account_locks (user_id) {
        user_id -> BigInt,
        failures_until -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        streak -> Integer,
        wrong_codes -> Integer,
        last_wrong_code -> Nullable<Timestamp>,
        wrong_passwords -> Integer,
        last_wrong_password -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        first_name -> Text,
        last_name -> Text,
        avatar -> Nullable<Text>,
        is_active -> Bool,
        is_staff -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        password_hash -> Text,
        deactivated_by_admin -> Bool,
        made_here -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        kind -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        refresh_jti -> Nullable<Text>,
        token_hash -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        revivable -> Bool,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        sender_id -> BigInt,
        receiver_id -> BigInt,
        content -> Text,
        created_at -> Timestamp,
        is_read -> Bool,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        title -> Text,
        title_key -> Text,
        description -> Text,
        date -> Timestamp,
        location -> Text,
        organizer_id -> BigInt,
        capacity -> Nullable<BigInt>,
    }
}

diesel::table! {
    event_attendees (event_id, user_id) {
        event_id -> BigInt,
        user_id -> BigInt,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outgoing_emails (id) {
        id -> BigInt,
        message_key -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        queued_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        recipient_key -> Text,
    }
}

diesel::table! {
    user_totp (user_id) {
        user_id -> BigInt,
        encrypted_secret -> Text,
        confirmed -> Bool,
        last_used_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> BigInt,
        code_hash -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        at -> Timestamp,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    deleted_user_ids (id) {
        id -> BigInt,
    }
}

diesel::table! {
    key_rules (name) {
        name -> Text,
        version -> Integer,
    }
}

diesel::table! {
    key_checks (name) {
        name -> Text,
        digest -> Text,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        state -> Text,
        created_at -> Timestamp,
        sealed_private -> Text,
        public_jwk -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> BigInt,
        credential_id -> Text,
        user_handle -> Text,
        name -> Text,
        credential -> Text,
        counter -> BigInt,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    passkey_challenges (id) {
        id -> Text,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(event_attendees -> events (event_id));
diesel::joinable!(event_attendees -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, messages, events, event_attendees);
