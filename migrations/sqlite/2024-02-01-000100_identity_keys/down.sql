DROP TABLE key_rules;
