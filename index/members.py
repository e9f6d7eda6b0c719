"""Members of Parliament and their parties by date, from a parlparse ``people.json`` file.

The file is Popolo JSON as mysociety/parlparse publishes it (``members/people.json``):
``persons`` (ids such as ``uk.org.publicwhip/person/10001``), ``organizations`` (parties:
``{"id": "labour", "name": "Labour"}``) and ``memberships`` (``person_id``,
``on_behalf_of_id`` naming the party, ``start_date`` / ``end_date``; a membership's own ``id``
is the older ``uk.org.publicwhip/member/...`` form that old division lists carry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from despatch.errors import ConfigError


@dataclass(frozen=True)
class Membership:
    """A person sitting for a party between two dates (inclusive; "" is open-ended)."""

    person_id: str
    party: str | None
    start: str = ""
    end: str = ""

    def covers(self, date: str | None) -> bool:
        if not date:
            return True
        return (not self.start or self.start <= date) and (not self.end or date <= self.end)


class Members:
    """Parties of people by date, and people of the older member ids."""

    def __init__(self, memberships: list[Membership], member_ids: dict[str, str]) -> None:
        self._by_person: dict[str, list[Membership]] = {}
        for m in memberships:
            self._by_person.setdefault(m.person_id, []).append(m)
        self._member_ids = member_ids

    def person(self, some_id: str | None) -> str | None:
        """The person id of a person id or an older member id."""
        if not some_id:
            return None
        if some_id in self._by_person:
            return some_id
        return self._member_ids.get(some_id)

    def party(self, some_id: str | None, date: str | None) -> str | None:
        """The party the person sat for on ``date`` (the latest membership when undated)."""
        person = self.person(some_id)
        spans = self._by_person.get(person or "", [])
        found = [m for m in spans if m.covers(date) and m.party]
        if not found:
            return None
        return max(found, key=lambda m: m.start).party

    def __len__(self) -> int:
        return len(self._by_person)


def load_members(path: Path) -> Members:
    """Read a parlparse ``people.json``; a file that is not one raises ``ConfigError``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the members file {path} ({exc.strerror or exc}); point "
            "DESPATCH_MEMBERS_FILE or --members at parlparse's members/people.json"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The members file {path} is not JSON ({exc}); use parlparse's people.json"
        ) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("memberships"), list):
        raise ConfigError(
            f'The members file {path} has no "memberships" list; use parlparse\'s members/people.json'
        )
    parties = {
        str(o["id"]): str(o["name"])
        for o in _objects(raw.get("organizations"))
        if o.get("id") and isinstance(o.get("name"), str)
    }
    memberships: list[Membership] = []
    member_ids: dict[str, str] = {}
    for m in _objects(raw["memberships"]):
        person = m.get("person_id")
        if not isinstance(person, str) or not person:
            continue
        party_id = m.get("on_behalf_of_id")
        party = parties.get(str(party_id), str(party_id)) if party_id else None
        memberships.append(
            Membership(person, party, str(m.get("start_date") or ""), str(m.get("end_date") or ""))
        )
        if isinstance(m.get("id"), str):
            member_ids[m["id"]] = person
    return Members(memberships, member_ids)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
