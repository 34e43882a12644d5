"""Key management commands: init, rotate, retire, list. Each prints what it did, never a secret."""

from __future__ import annotations

from pathlib import Path

from bot import passphrase
from bot.runtime import Runtime, Say, keyring_source
from bot.settings import Settings
from storage.keyring import Keyring, KeyringError
from storage.vault import Vault


def init_keyring(settings: Settings, say: Say, *, with_passphrase: bool = True) -> None:
    source = keyring_source(settings)
    if not source.writable:
        raise KeyringError("TROPA_KEYRING is set: the keyring already comes from the environment")
    if source.exists():
        raise KeyringError(f"{source.describe()} already exists; refusing to overwrite a keyring")
    chosen = passphrase.for_new(settings.key_passphrase_file, source.describe()) if with_passphrase else None
    if with_passphrase and chosen is None:
        raise KeyringError(
            "no passphrase given: run in a terminal, set TROPA_KEY_PASSPHRASE_FILE, or pass --no-passphrase "
            "(development only)"
        )
    keyring = Keyring.generate()
    source.save_new(keyring, chosen)
    locked = "locked with a passphrase" if chosen else "NOT locked with a passphrase"
    say(f"Created keyring {source.describe()} with key {keyring.active_id.hex()} (mode 0600, {locked}).")
    say("Back it up now, apart from database backups: without it the data cannot be read.")


async def change_passphrase(runtime: Runtime, new_passphrase_file: Path | None, say: Say) -> None:
    where = runtime.keyring_source.describe()
    chosen = passphrase.for_new(new_passphrase_file, where)
    if chosen is None:
        raise KeyringError("no new passphrase given: run in a terminal or pass --new-passphrase-file")
    runtime.keyring_source.change_passphrase(runtime.keyring, chosen)
    say(f"The keyring at {where} is now locked with the new passphrase. No data was touched.")


async def rotate_keys(runtime: Runtime, say: Say) -> None:
    old = runtime.keyring
    new = old.with_new_active()
    # The file is written first: if the database step fails, the old key is still in the new file and
    # everything stays readable; the reverse order could leave data keys wrapped by a key on no disk.
    runtime.keyring_source.save(new)
    async with runtime.db.transaction() as session:
        rewrapped = await Vault(new).rewrap_all(session, new)
    runtime.keyring, runtime.vault = new, Vault(new)
    say(f"Active key is now {new.active_id.hex()}; re-wrapped {rewrapped} data keys.")
    say(f"Previous key {old.active_id.hex()} can be retired: tropa keys retire {old.active_id.hex()}")
    say("Restart running bots so they wrap new data keys with the new key.")


async def retire_key(runtime: Runtime, key_hex: str, say: Say) -> None:
    try:
        key_id = bytes.fromhex(key_hex)
    except ValueError:
        raise KeyringError(f"{key_hex!r} is not a key id (8 hex digits, see `tropa keys list`)") from None
    new = runtime.keyring.without(key_id)  # refuses the active key and unknown ids first
    async with runtime.db.transaction() as session:
        still_wrapped = (await Vault.count_by_kek(session)).get(key_id.hex(), 0)
    if still_wrapped:
        raise KeyringError(f"key {key_id.hex()} still wraps {still_wrapped} data keys; run `tropa keys rotate` first")
    runtime.keyring_source.save(new)
    runtime.keyring, runtime.vault = new, Vault(new)
    say(f"Retired key {key_hex}. Copies of old backups wrapped by it are now unreadable with this keyring.")


async def list_keys(runtime: Runtime, say: Say) -> None:
    async with runtime.db.transaction() as session:
        counts = await Vault.count_by_kek(session)
    for key_id in runtime.keyring.keks:
        marker = "active" if key_id == runtime.keyring.active_id else "      "
        say(f"{key_id.hex()}  {marker}  wraps {counts.get(key_id.hex(), 0)} data keys")
