"""SQL stores on SQLAlchemy Core (SQLite through aiosqlite, PostgreSQL through asyncpg)."""
