DROP TABLE deleted_user_ids;
