"""`python -m demo.datenschutz`: an evaluation alert that leads somewhere (§ 40 Abs. 5 Satz 3 BMG).

Once a tenant is provisioned, the demo asks five times in a row, as one of its users, about the
same person: the evaluation rule "one user, one person, many queries" (five within 24 hours)
fires, and alert_cases opens a case. The demo then plays the operator's staff on it, with the
Verfahrensbetreuung's key, as `meldespiegel case …` does: acknowledge, contact the authority (an
S/MIME mail from the template), restrict the tenant (a signed account command, and the step that
names it), close with the reason, and lift the restriction again. Each state of the case is
printed as alert_cases publishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import uuid
from typing import Any

from pydantic import ValidationError

from demo.feed import OPERATOR, Skipped, kafka, publish
from demo.queries import SOURCE, Tenants, persons, query_body
from shared.contract.events.cases import CaseState
from shared.contract.topics import Topics
from shared.platform.broker import json_or_none
from shared.platform.pki import load_operator_key
from shared.platform.settings import get_settings

REPEATS = 5  # protocol_log's rule: five queries of one user for one person within 24 hours
STEPS = (
    ("acknowledge", "Übernommen; die Abrufe werden geprüft."),
    ("contact", "Bitte nennen Sie den Anlass der wiederholten Abrufe zu derselben Person."),
    ("restrict", "Bis zur Stellungnahme der Behörde eingeschränkt."),
    ("close", "Stellungnahme plausibel: Ermittlungsverfahren mit Aktenzeichen benannt."),
)


class Team:
    """The operator's staff working a case, one step after the other."""

    def __init__(self) -> None:
        self.producer = kafka()
        self.operator = load_operator_key(get_settings().pki_dir, OPERATOR)
        self.tenant: str | None = None
        self.done = asyncio.Event()

    async def account(self, tenant_id: str, action: str, reason: str) -> str:
        command_id = f"DEMO-{uuid.uuid4().hex[:12]}"
        command = {
            "command_id": command_id,
            "tenant_id": tenant_id,
            "actor": {"kind": "operator", "id": OPERATOR},
            "action": action,
            "reason": reason,
        }
        await publish(self.producer, Topics.ACCOUNT_COMMAND, tenant_id, command,
                      "/demo/operators", signed_by=self.operator)  # fmt: skip
        return command_id

    async def step(self, case: CaseState) -> None:
        """The next step on the case, after the one alert_cases reported."""
        taken = len(case.steps)
        if taken >= len(STEPS):
            await self.account(case.tenant_id, "lift_tenant", "Fall abgeschlossen.")
            print(f"⚖ case        {case.case_id}  closed; restriction lifted", flush=True)
            self.done.set()
            return
        action, text = STEPS[taken]
        fields: dict[str, Any] = {}
        if action == "restrict":
            fields["account_command_id"] = await self.account(
                case.tenant_id, "restrict_tenant", text
            )
        command = {
            "command_id": f"DEMO-{uuid.uuid4().hex[:12]}",
            "case_id": case.case_id,
            "operator_id": OPERATOR,
            "action": action,
            "text": text,
            **fields,
        }
        await asyncio.sleep(1.0)  # a moment to read it
        await publish(self.producer, Topics.CASE_COMMAND, case.case_id, command,
                      "/demo/operators", signed_by=self.operator)  # fmt: skip

    async def follow(self, stop: asyncio.Event) -> None:
        follower = await kafka().follow(Topics.CASE_STATE.name)
        skipped = Skipped()
        try:
            while not stop.is_set() and not self.done.is_set():
                for r in await follower.next(0.5):
                    try:
                        case = CaseState.model_validate(json_or_none(r.value))
                    except ValidationError:
                        skipped.one(r.topic)
                        continue
                    if case.tenant_id != self.tenant:
                        continue
                    if case.steps:
                        what = f"{case.status.value} ({case.steps[-1].action.value})"
                    else:
                        what = f"opened: {case.alert.text}"
                    print(f"⚖ case        {case.case_id}  {what}", flush=True)
                    await self.step(case)
        finally:
            await follower.close()


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    known = Tenants()
    following = asyncio.create_task(known.follow(stop))
    team = Team()
    try:
        tenant = None
        while tenant is None and not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
            tenant = known.pick()
        if tenant is None:
            return
        await asyncio.sleep(20)  # after the other feeds' first round
        tenant_id, (authority, user) = tenant
        team.tenant = tenant_id
        working = asyncio.create_task(team.follow(stop))
        ags, p = random.choice([x for x in persons("03") if x[1].auskunftssperre is None])
        search = {"familienname": p.familienname, "vornamen": p.vornamen[0],
                  "geburtsdatum": p.geburtsdatum}  # fmt: skip
        for _ in range(REPEATS):
            body = query_body(tenant_id, authority, user, suchart="personensuche",
                              gemeindeschluessel=[ags], kriterien=search)  # fmt: skip
            await publish(team.producer, Topics.QUERY_REQUESTED, body["query_id"], body, SOURCE)
        print(f"→ {REPEATS} queries  by {user} ({authority[:40]}) about one person", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await working
        await stop.wait()
    finally:
        stop.set()
        await team.producer.__aexit__()
        await following


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main())
