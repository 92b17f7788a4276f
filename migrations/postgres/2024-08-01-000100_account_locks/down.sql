DROP TABLE account_locks;
