// Types both backends share: BigInt ids, Text, Bool, Timestamp.

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
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions);
