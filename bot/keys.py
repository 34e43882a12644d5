"""Key management commands: init, rotate, retire, list, passphrase. Each prints what it did, never a secret.

All of them are safe while bots run: they take the same lock as a key roll, and a running bot learns of a
new key from the database and the keyring file (storage/epochs.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot import passphrase
from bot.runtime import Runtime, Say, keyring_source
from bot.settings import Settings
from storage.epochs import KeyEpochs, read_state
from storage.keyring import Keyring, KeyringError
from storage.vault import Vault


def epochs_of(runtime: Runtime) -> KeyEpochs:
    return KeyEpochs(runtime.db, runtime.vault, timedelta(hours=runtime.settings.shred_bound_hours))


def init_keyring(settings: Settings, say: Say, *, unsafe_no_passphrase: bool = False) -> None:
    source = keyring_source(settings)
    if source.exists():
        raise KeyringError(f"{source.describe()} already exists; refusing to overwrite a keyring")
    chosen = None if unsafe_no_passphrase else passphrase.for_new(settings.key_passphrase_file, source.describe())
    if chosen is None and not unsafe_no_passphrase:
        raise KeyringError(passphrase.NEW_KEYRING_REFUSED.format(where=source.describe()))
    keyring = Keyring.generate()
    source.save_new(keyring, chosen)
    locked = "locked with a passphrase" if chosen else "NOT locked with a passphrase: UNSAFE, for development only"
    say(f"Created keyring {source.describe()} with key {keyring.active_id.hex()} (mode 0600, {locked}).")
    say("Back it up now, apart from database backups: without it the data cannot be read.")


async def change_passphrase(runtime: Runtime, new_passphrase_file: Path | None, say: Say) -> None:
    where = runtime.keyring_source.describe()
    chosen = passphrase.for_new(new_passphrase_file, where)
    if chosen is None:
        raise KeyringError("no new passphrase given: run in a terminal or pass --new-passphrase-file")
    async with runtime.db.transaction() as session:
        await KeyEpochs.lock(session)  # no key roll rewrites the file meanwhile
        runtime.keyring_source.change_passphrase(runtime.vault.reload_keyring(), chosen)
    say(f"The keyring at {where} is now locked with the new passphrase. No data was touched.")
    say(
        "Running bots keep working until their next key roll needs the file again: put the new passphrase where "
        "they read it (TROPA_KEY_PASSPHRASE_FILE) now, or restart them with it."
    )


async def rotate_keys(runtime: Runtime, say: Say) -> None:
    old = runtime.keyring.active_id.hex()
    new, rewrapped, destroyed = await epochs_of(runtime).rotate()
    say(f"Active key is now {new}; re-wrapped {rewrapped} data keys.")
    if destroyed:
        say(f"Destroyed {', '.join(destroyed)}: nothing was wrapped by it any more.")
    say(f"Running bots wrap new data keys with {new} from now on; {old} opens nothing any more.")


async def retire_key(runtime: Runtime, key_hex: str, say: Say) -> None:
    try:
        key_id = bytes.fromhex(key_hex)
    except ValueError:
        raise KeyringError(f"{key_hex!r} is not a key id (8 hex digits, see `tropa keys list`)") from None
    async with runtime.db.transaction() as session:
        await KeyEpochs.lock(session)
        keyring = runtime.vault.reload_keyring()
        active = (await read_state(session)).kek_active or keyring.active_id.hex()
        if key_id.hex() == active:
            raise KeyringError("the active key cannot be retired; rotate first")
        new = keyring.without(key_id)  # refuses unknown ids
        still_wrapped = (await Vault.count_by_kek(session)).get(key_id.hex(), 0)
        if still_wrapped:
            raise KeyringError(
                f"key {key_id.hex()} still wraps {still_wrapped} data keys; run `tropa keys rotate` first"
            )
        runtime.keyring_source.save(new)
        runtime.vault.keyring = new
    say(f"Retired key {key_hex}. Copies of old backups wrapped by it are now unreadable with this keyring.")


async def list_keys(runtime: Runtime, say: Say) -> None:
    async with runtime.db.transaction() as session:
        counts = await Vault.count_by_kek(session)
        state = await read_state(session)
    keyring = runtime.vault.reload_keyring()
    active = state.kek_active or keyring.active_id.hex()
    for key_id in keyring.keks:
        marker = "active" if key_id.hex() == active else "      "
        say(f"{key_id.hex()}  {marker}  wraps {counts.get(key_id.hex(), 0)} data keys")
    if state.roll_finished_at is not None:
        say(
            f"Last key roll: {state.roll_finished_at:%Y-%m-%d %H:%M} UTC. A copy of the keyring made before it "
            "opens nothing newer: copy the keyring off this server again."
        )
    bound = timedelta(hours=runtime.settings.shred_bound_hours)
    if state.roll_started_at is not None:
        say(f"A key roll started at {state.roll_started_at:%Y-%m-%d %H:%M} UTC; it finishes within minutes.")
    elif state.shred_first_at is not None:
        due = state.shred_first_at + bound
        say(f"Something was shredded: the keys that could open what it left behind go by {due:%Y-%m-%d %H:%M} UTC.")
    else:
        say("Nothing shredded is waiting for a key roll.")
