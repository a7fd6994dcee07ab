"""SQLite writers take turns through ``<database>-writelock`` (backend/sqlite_writes.py): a
connection holds its turn from its first write until its commit or rollback, and closing it lets go."""
import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from backend import sqlite_writes


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'turns.db'}", connect_args={"timeout": 30})
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def turn_is_free(tmp_path) -> bool:
    fd = os.open(tmp_path / "turns.db-writelock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_write_holds_the_turn_until_commit(engine, tmp_path):
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM t"))
        assert turn_is_free(tmp_path)              # reading takes no turn
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert not turn_is_free(tmp_path)
        connection.commit()
        assert turn_is_free(tmp_path)


def test_rollback_and_close_let_go(engine, tmp_path):
    with engine.connect() as connection:
        connection.execute(text("UPDATE t SET n = 2"))
        assert not turn_is_free(tmp_path)
        connection.rollback()
        assert turn_is_free(tmp_path)
    connection = engine.connect()
    connection.execute(text("DELETE FROM t"))
    assert not turn_is_free(tmp_path)
    connection.invalidate()                        # the DBAPI connection is closed, its lock file with it
    assert turn_is_free(tmp_path)


def test_a_second_writer_waits_for_its_turn_not_in_sqlites_busy_handler(engine, tmp_path):
    """The second writer has no busy timeout at all: without turns SQLite would refuse its insert at
    once ("database is locked"); with them it waits for the first writer's commit and goes on."""
    impatient = create_engine(f"sqlite:///{tmp_path / 'turns.db'}", connect_args={"timeout": 0})
    order: list[str] = []
    errors: list[Exception] = []
    first = engine.connect()
    first.execute(text("INSERT INTO t VALUES (1)"))

    about_to_write = threading.Event()

    def second():
        try:
            with impatient.begin() as connection:
                connection.execute(text("PRAGMA busy_timeout=0"))
                about_to_write.set()
                connection.execute(text("INSERT INTO t VALUES (2)"))
                order.append("second wrote")
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    assert about_to_write.wait(10)
    time.sleep(0.3)
    assert thread.is_alive() and order == [] and errors == []   # waiting for its turn
    order.append("first commits")
    first.commit()
    first.close()
    thread.join(10)
    assert errors == [] and order == ["first commits", "second wrote"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    impatient.dispose()


def test_an_in_memory_database_has_no_turns():
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert sqlite_writes._FD not in connection.connection.info
    engine.dispose()
