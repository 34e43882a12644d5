"""Key management commands: init, rotate, retire, list. Each prints what it did, never a secret."""

from __future__ import annotations

from bot.runtime import Runtime, Say, keyring_source
from bot.settings import Settings
from storage.keyring import Keyring, KeyringError
from storage.vault import Vault


def init_keyring(settings: Settings, say: Say) -> None:
    source = keyring_source(settings)
    if not source.writable:
        raise KeyringError("TROPA_KEYRING is set: the keyring already comes from the environment")
    keyring = Keyring.generate()
    source.save_new(keyring)
    say(f"Created keyring {source.describe()} with key {keyring.active_id.hex()} (mode 0600).")
    say("Back it up now, apart from database backups: without it the data cannot be read.")


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
