"""Console accounts: argon2id hashes, the same refusal for a wrong name or password, lockout, sessions."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type
from sqlalchemy import select

import signalements.accounts
from signalements import InvalidRecord, NotFound, Store
from signalements.accounts import Accounts, Login
from signalements.errors import LoginRefused
from signalements.models import Account, ConsoleSession
from tests.signalements.conftest import T0

PASSWORD = "correct horse battery"
LASTING = timedelta(hours=10)
IDLE = timedelta(minutes=30)
MAX_FAILED = 3
LOCKOUT = timedelta(minutes=15)
WRONG = "identifiant ou mot de passe incorrect"


# Cheap argon2id parameters for the tests that are not about the hash (the real ones cost ~0.1 s a hash).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def accounts(store: Store, monkeypatch: pytest.MonkeyPatch) -> Accounts:
    monkeypatch.setattr(signalements.accounts, "_hasher", FAST_HASHER)
    return Accounts(store)


def log_in(accounts: Accounts, name: str, password: str, at: timedelta = timedelta(0), **limits: timedelta) -> Login:
    return accounts.log_in(
        name,
        password,
        T0 + at,
        lasting=limits.get("lasting", LASTING),
        idle=limits.get("idle", IDLE),
        max_failed=MAX_FAILED,
        lockout=LOCKOUT,
    )


def refused(accounts: Accounts, name: str, password: str, at: timedelta = timedelta(0)) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        log_in(accounts, name, password, at)
    return caught.value


def session_at(accounts: Accounts, token: str, at: timedelta, lasting: timedelta = LASTING) -> str | None:
    user = accounts.session(token, T0 + at, lasting=lasting, idle=IDLE)
    return None if user is None else user.name


def stored_accounts(store: Store) -> list[Account]:
    with store.reading() as session:
        rows = list(session.scalars(select(Account).order_by(Account.id)))
        session.expunge_all()  # read outside the session, as they were
        return rows


def stored_sessions(store: Store) -> list[ConsoleSession]:
    with store.reading() as session:
        rows = list(session.scalars(select(ConsoleSession).order_by(ConsoleSession.id)))
        session.expunge_all()
        return rows


# -- adding accounts ---------------------------------------------------------------------------------------


def test_the_hasher_is_argon2id_memory_hard() -> None:
    hasher = signalements.accounts._hasher
    assert (hasher.type, hasher.memory_cost, hasher.time_cost) == (Type.ID, 65536, 3)


def test_add_keeps_an_argon2id_hash_never_the_password(store: Store) -> None:
    accounts = Accounts(store)  # the real parameters
    view = accounts.add("m.durand", "superviseur", PASSWORD, now=T0)

    assert (view.name, view.role, view.disabled, view.locked_until, view.last_login_at, view.created_at) == (
        "m.durand",
        "superviseur",
        False,
        None,
        None,
        T0,
    )
    [row] = stored_accounts(store)
    assert row.id == view.id
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,")
    assert PASSWORD not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, PASSWORD)
    assert accounts.get("m.durand") == view
    assert accounts.count() == 1


def test_two_accounts_with_one_password_get_different_hashes(store: Store, accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    accounts.add("a.martin", "agent", PASSWORD, now=T0)
    first, second = stored_accounts(store)
    assert first.password_hash != second.password_hash  # salted


BAD_NAMES: list[Any] = [
    "", "a", "M.Durand", ".durand", "-durand", "jean dupont", "élodie", "a" * 65, "m.durand\n", "m/durand", None, 7,
]  # fmt: skip


def test_add_refuses_bad_names(accounts: Accounts) -> None:
    for name in BAD_NAMES:
        with pytest.raises(InvalidRecord, match="account name"):
            accounts.add(name, "agent", PASSWORD, now=T0)
    assert accounts.count() == 0


def test_add_accepts_good_names(accounts: Accounts) -> None:
    names = ["ab", "a" * 64, "m.durand", "agent_2", "j-p.martin"]
    assert [accounts.add(name, "agent", PASSWORD, now=T0).name for name in names] == names


def test_add_refuses_short_and_huge_passwords(accounts: Accounts) -> None:
    bad: list[tuple[Any, str]] = [("x" * 11, "at least 12"), ("", "at least 12"), ("x" * 1025, "at most 1024")]
    for password, message in [*bad, (None, "at least 12")]:
        with pytest.raises(InvalidRecord, match=message):
            accounts.add("m.durand", "agent", password, now=T0)
    assert accounts.count() == 0


def test_password_length_limits_are_inclusive(accounts: Accounts) -> None:
    accounts.add("short", "agent", "x" * 12, now=T0)
    accounts.add("long", "agent", "y" * 1024, now=T0)
    assert log_in(accounts, "short", "x" * 12).user.name == "short"
    assert log_in(accounts, "long", "y" * 1024).user.name == "long"


def test_add_refuses_unknown_roles(accounts: Accounts) -> None:
    for role in ("root", "Superviseur", "", "supervisor"):
        with pytest.raises(InvalidRecord, match="role"):
            accounts.add("m.durand", role, PASSWORD, now=T0)
    assert accounts.count() == 0


def test_add_refuses_a_duplicate_name(store: Store, accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    with pytest.raises(InvalidRecord, match="already exists"):
        accounts.add("m.durand", "agent", "another password!", now=T0)
    [row] = stored_accounts(store)
    assert row.role == "superviseur"


def test_add_refuses_a_naive_time(accounts: Accounts) -> None:
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        accounts.add("m.durand", "agent", PASSWORD, now=T0.replace(tzinfo=None))


def test_list_get_and_count(accounts: Accounts) -> None:
    accounts.add("z.zola", "admin", PASSWORD, now=T0)
    accounts.add("a.martin", "agent", PASSWORD, now=T0)
    assert [(a.name, a.role) for a in accounts.list()] == [("a.martin", "agent"), ("z.zola", "admin")]
    assert accounts.count() == 2
    with pytest.raises(NotFound):
        accounts.get("nobody")


# -- logging in --------------------------------------------------------------------------------------------


def test_log_in_with_the_right_password(accounts: Accounts) -> None:
    view = accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD, timedelta(minutes=5))

    assert (login.user.account_id, login.user.name, login.user.role) == (view.id, "m.durand", "superviseur")
    assert len(login.token) >= 40 and len(login.user.csrf_token) >= 40 and login.token != login.user.csrf_token
    assert accounts.get("m.durand").last_login_at == T0 + timedelta(minutes=5)
    other = log_in(accounts, "m.durand", PASSWORD, timedelta(minutes=6))
    assert other.token != login.token and other.user.csrf_token != login.user.csrf_token


def test_a_hash_with_old_parameters_is_upgraded_at_the_next_login(
    store: Store, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    [before] = stored_accounts(store)
    assert before.password_hash.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    monkeypatch.undo()  # the real parameters again
    log_in(accounts, "m.durand", PASSWORD)
    [after] = stored_accounts(store)
    assert after.password_hash.startswith("$argon2id$v=19$m=65536,t=3,")
    assert log_in(accounts, "m.durand", PASSWORD).user.name == "m.durand"


def test_a_wrong_password_and_an_unknown_name_get_the_same_refusal(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    wrong_password = refused(accounts, "m.durand", PASSWORD + "!")
    unknown_name = refused(accounts, "x.nobody", PASSWORD)
    case_differs = refused(accounts, "M.Durand", PASSWORD)
    assert str(wrong_password) == str(unknown_name) == str(case_differs) == WRONG
    assert wrong_password.locked_until is None and unknown_name.locked_until is None


def test_odd_passwords_are_refused_not_crashed_on(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    odd: list[Any] = ["", None, "z" * 5000, PASSWORD + "\n"]
    for password in odd:
        assert str(refused(accounts, "m.durand", password)) == WRONG
        accounts.unlock("m.durand")  # more tries than MAX_FAILED


def test_wrong_passwords_count_and_a_good_login_resets_the_count(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    assert accounts.failed_logins_left("m.durand", MAX_FAILED) == 3
    refused(accounts, "m.durand", "wrong password 1")
    refused(accounts, "m.durand", "wrong password 2")
    assert accounts.failed_logins_left("m.durand", MAX_FAILED) == 1
    log_in(accounts, "m.durand", PASSWORD)
    assert accounts.failed_logins_left("m.durand", MAX_FAILED) == 3
    refused(accounts, "m.durand", "wrong password 3")
    refused(accounts, "m.durand", "wrong password 4")
    assert accounts.get("m.durand").locked_until is None
    assert accounts.failed_logins_left("nobody", MAX_FAILED) is None


def test_lockout_after_max_failed_refuses_even_the_right_password_until_it_ends(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    for i in range(MAX_FAILED):
        assert str(refused(accounts, "m.durand", f"wrong password {i}", timedelta(seconds=i))) == WRONG
    last_failure = T0 + timedelta(seconds=MAX_FAILED - 1)
    assert accounts.get("m.durand").locked_until == last_failure + LOCKOUT

    while_locked = refused(accounts, "m.durand", PASSWORD, timedelta(minutes=10))
    assert while_locked.locked_until == last_failure + LOCKOUT
    just_before = refused(accounts, "m.durand", PASSWORD, LOCKOUT + timedelta(seconds=MAX_FAILED - 2))
    assert just_before.locked_until == last_failure + LOCKOUT

    login = log_in(accounts, "m.durand", PASSWORD, LOCKOUT + timedelta(seconds=MAX_FAILED - 1))
    assert login.user.name == "m.durand"
    assert accounts.get("m.durand").locked_until is None
    assert accounts.failed_logins_left("m.durand", MAX_FAILED) == MAX_FAILED


def test_attempts_while_locked_do_not_extend_the_lockout(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    for i in range(MAX_FAILED):
        refused(accounts, "m.durand", f"wrong password {i}")
    for minute in range(1, 6):
        refused(accounts, "m.durand", "still wrong!!", timedelta(minutes=minute))
    assert accounts.get("m.durand").locked_until == T0 + LOCKOUT
    assert log_in(accounts, "m.durand", PASSWORD, LOCKOUT).user.name == "m.durand"


def test_a_lockout_on_one_account_leaves_the_others_alone(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    accounts.add("a.martin", "agent", PASSWORD, now=T0)
    for i in range(MAX_FAILED):
        refused(accounts, "m.durand", f"wrong password {i}")
    assert log_in(accounts, "a.martin", PASSWORD).user.name == "a.martin"


def test_unlock_and_set_password_lift_a_lockout(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    accounts.add("a.martin", "agent", PASSWORD, now=T0)
    for name in ("m.durand", "a.martin"):
        for i in range(MAX_FAILED):
            refused(accounts, name, f"wrong password {i}")
    accounts.unlock("m.durand")
    accounts.set_password("a.martin", "a brand new password")
    assert log_in(accounts, "m.durand", PASSWORD, timedelta(minutes=1)).user.name == "m.durand"
    assert log_in(accounts, "a.martin", "a brand new password", timedelta(minutes=1)).user.name == "a.martin"
    with pytest.raises(NotFound):
        accounts.unlock("nobody")


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD)
    accounts.set_disabled("m.durand", True)

    assert accounts.get("m.durand").disabled is True
    assert session_at(accounts, login.token, timedelta(minutes=1)) is None
    assert str(refused(accounts, "m.durand", PASSWORD, timedelta(minutes=1))) == WRONG

    accounts.set_disabled("m.durand", False)
    assert log_in(accounts, "m.durand", PASSWORD, timedelta(minutes=2)).user.name == "m.durand"
    with pytest.raises(NotFound):
        accounts.set_disabled("nobody", True)


# -- sessions ----------------------------------------------------------------------------------------------


def test_a_session_knows_its_user_and_csrf_token(accounts: Accounts) -> None:
    view = accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD)
    user = accounts.session(login.token, T0 + timedelta(minutes=1), lasting=LASTING, idle=IDLE)
    assert user == login.user
    assert user is not None and (user.account_id, user.role) == (view.id, "superviseur")


def test_an_unknown_token_has_no_session(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    log_in(accounts, "m.durand", PASSWORD)
    for token in ("", "not-a-token", "x" * 2000, "\udcff"):
        assert accounts.session(token, T0, lasting=LASTING, idle=IDLE) is None


def test_an_idle_session_expires_and_is_removed(store: Store, accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD)
    assert session_at(accounts, login.token, IDLE - timedelta(seconds=1)) == "m.durand"
    assert session_at(accounts, login.token, 2 * IDLE - timedelta(seconds=1)) is None

    login = log_in(accounts, "m.durand", PASSWORD, timedelta(hours=1))
    assert session_at(accounts, login.token, timedelta(hours=1) + IDLE) is None
    assert session_at(accounts, login.token, timedelta(hours=1, minutes=1)) is None  # deleted, not just refused
    assert stored_sessions(store) == []


def test_activity_moves_the_idle_limit_on(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD)
    for minute in (20, 45, 70, 95):
        assert session_at(accounts, login.token, timedelta(minutes=minute)) == "m.durand"
    assert session_at(accounts, login.token, timedelta(minutes=95) + IDLE) is None


def test_activity_never_extends_the_absolute_limit(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    lasting = timedelta(hours=1)
    login = log_in(accounts, "m.durand", PASSWORD, lasting=lasting)
    for minute in (10, 20, 30, 40, 50, 59):
        assert session_at(accounts, login.token, timedelta(minutes=minute), lasting) == "m.durand"
    assert session_at(accounts, login.token, timedelta(minutes=59, seconds=59), lasting) == "m.durand"
    assert session_at(accounts, login.token, lasting, lasting) is None


def test_a_session_shorter_than_the_idle_limit_ends_at_its_absolute_limit(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    lasting = timedelta(minutes=10)
    login = log_in(accounts, "m.durand", PASSWORD, lasting=lasting)
    assert session_at(accounts, login.token, timedelta(minutes=9), lasting) == "m.durand"
    assert session_at(accounts, login.token, lasting, lasting) is None


def test_log_out_ends_only_that_session(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    first = log_in(accounts, "m.durand", PASSWORD)
    second = log_in(accounts, "m.durand", PASSWORD)
    accounts.log_out(first.token)
    accounts.log_out("unknown token")  # no error
    assert session_at(accounts, first.token, timedelta(minutes=1)) is None
    assert session_at(accounts, second.token, timedelta(minutes=1)) == "m.durand"


def test_set_password_ends_the_sessions_and_changes_the_password(accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    accounts.add("a.martin", "agent", PASSWORD, now=T0)
    mine = log_in(accounts, "m.durand", PASSWORD)
    theirs = log_in(accounts, "a.martin", PASSWORD)

    accounts.set_password("m.durand", "a brand new password")

    assert session_at(accounts, mine.token, timedelta(minutes=1)) is None
    assert session_at(accounts, theirs.token, timedelta(minutes=1)) == "a.martin"
    assert str(refused(accounts, "m.durand", PASSWORD, timedelta(minutes=1))) == WRONG
    assert log_in(accounts, "m.durand", "a brand new password", timedelta(minutes=1)).user.name == "m.durand"
    with pytest.raises(InvalidRecord, match="at least 12"):
        accounts.set_password("m.durand", "short")
    with pytest.raises(NotFound):
        accounts.set_password("nobody", "a brand new password")


def test_the_store_holds_only_the_tokens_sha256(store: Store, accounts: Accounts) -> None:
    view = accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    login = log_in(accounts, "m.durand", PASSWORD)
    [row] = stored_sessions(store)
    assert row.token_hash == hashlib.sha256(login.token.encode()).hexdigest()
    assert row.account_id == view.id and row.csrf_token == login.user.csrf_token
    assert (row.created_at, row.last_seen_at, row.expires_at) == (T0, T0, T0 + IDLE)
    assert login.token not in (row.token_hash, row.csrf_token)
    # the stored hash, presented as a token, opens nothing
    assert accounts.session(row.token_hash, T0, lasting=LASTING, idle=IDLE) is None


def test_purge_sessions_removes_only_expired_ones(store: Store, accounts: Accounts) -> None:
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    old = log_in(accounts, "m.durand", PASSWORD)
    recent = log_in(accounts, "m.durand", PASSWORD, timedelta(minutes=20))

    assert accounts.purge_sessions(T0 + IDLE) == 1
    assert accounts.purge_sessions(T0 + IDLE) == 0
    assert [row.token_hash for row in stored_sessions(store)] == [hashlib.sha256(recent.token.encode()).hexdigest()]
    assert session_at(accounts, old.token, timedelta(minutes=21)) is None
    assert session_at(accounts, recent.token, timedelta(minutes=21)) == "m.durand"


def test_parallel_wrong_passwords_all_count(accounts: Accounts) -> None:
    """Guesses sent at once must not slip past the lockout by overwriting each other's count."""
    accounts.add("m.durand", "superviseur", PASSWORD, now=T0)
    start = threading.Barrier(2 * MAX_FAILED)
    outcomes: list[str] = []

    def guess(i: int) -> None:
        start.wait()
        try:
            log_in(accounts, "m.durand", f"wrong password {i}")
        except LoginRefused as refusal:
            outcomes.append(str(refusal))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(2 * MAX_FAILED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 * MAX_FAILED
    assert accounts.get("m.durand").locked_until == T0 + LOCKOUT
    assert str(refused(accounts, "m.durand", PASSWORD, timedelta(minutes=1))) == "compte verrouillé"
